//! codex-serve: the OpenAI, Ollama and Anthropic APIs on a private socket, answered by the Codex backend
//! with the user's Codex login. `main.rs` only calls [`server::cli::main`]; everything is here so tests can drive it as a library.

// Nothing a client, the network or a file controls may panic the server; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod anthropic;
pub mod app;
pub mod bounded;
pub mod fold;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod memory;
pub mod ollama;
pub mod openai;
pub mod reasoning_cache;
pub mod server;
pub mod upstream;
