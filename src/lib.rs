//! codex-serve: the OpenAI, Ollama and Anthropic APIs on a private socket, answered by the Codex backend
//! with the user's Codex login. `main.rs` only calls [`server::cli::main`]; everything is here so tests can drive it as a library.

// Nothing a client, the network or a file controls may panic the server; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub(crate) mod api;
pub(crate) mod core;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod server;
