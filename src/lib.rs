//! codex-serve: the OpenAI API on a private socket, answered by the Codex backend with the user's Codex
//! login. `main.rs` only calls [`cli::main`]; everything is here so tests can drive it as a library.

pub mod app;
pub mod cli;
pub mod http;
pub mod listen;
pub mod memory;
pub mod openai;
