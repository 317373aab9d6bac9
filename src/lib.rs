//! codex-serve: the OpenAI, Ollama and Anthropic APIs on a private socket, answered by the Codex backend
//! with the user's Codex login. `main.rs` only calls [`server::main`]; nothing else is public.
//!
//! # Layout
//!
//! Five layers; a layer imports only the layers below it (`tests/it/layers.rs` checks this and that no
//! modules import each other in a cycle).
//!
//! 1. `codex/` — the codex crate (`codex-client`): login and refresh, the Responses client and its
//!    transports, typed backend events, models, limits. It knows nothing of serving.
//! 2. `src/core/` — protocol-neutral: `App` and its limits, the neutral error kind, the plan and the one
//!    `prepare` step, the `exchange` with the backend, the one answer `driver` (per-event faces for a
//!    stream or a whole answer), the `piece`s an answer is made of and the `fold` that makes them, the
//!    caches. No axum types.
//! 3. `src/api/<api>/` — one folder per API (openai, ollama, anthropic): `wire.rs` (serde types),
//!    `translate.rs` (wire → plan), `render.rs` (events and errors → the API's wire form); the Responses
//!    API's `turn.rs` and `answer.rs` (its events forwarded through the driver). No axum.
//! 4. `src/http/` — axum: [`router`](http::router), the per-API handlers (`openai.rs`, `ollama.rs`,
//!    `anthropic.rs`: extract → translate → prepare → drive → response), the layers (`guard`: the TCP
//!    rules, `observe`: ids, overhead and the request log, `body`: the body read limits), the
//!    extractors (`json`, `typecheck`: core's parser and known-field check as a route layer), `answer` (a
//!    driven answer as a response) and the `IntoResponse` glue (`error`).
//! 5. `src/server/` — the process: `cli` (which command runs), `flags` (the clap types), `config/` (the
//!    config file, the codex CLI's config, `codex-serve config`, and [`Config`](server::config::Config),
//!    every size and limit, between the flags and `App`), `app` (building `App` from a `Config`),
//!    `logging`, `serve` and `listen/` (listeners and the connection loop), `signals`, `status` (and
//!    `models`), `service`, `doctor/`, `logfile`, `hardening`, `apikey`.
//!
//! Test-only: `fuzz` (arbitrary JSON for the property tests; imports nothing) and `in_process` (the
//! router driven without a socket; above everything).

// Nothing a client, the network or a file controls may panic the server; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub(crate) mod api;
pub(crate) mod core;
#[cfg(test)]
mod fuzz;
pub(crate) mod http;
#[cfg(test)]
mod in_process;
pub mod server;
