//! The integration tests, one binary: each module is an area that used to be its own `tests/<area>.rs`
//! (one link of the harness instead of one per file). They spawn the real `codex-serve` binary against
//! the mock backend; `common` is the shared harness.

mod common;

mod activation;
mod auth;
mod chat;
mod codex_cli_client;
mod codex_cli_exec;
mod commands;
mod config;
mod doctor;
mod drift;
mod faults;
mod forwarding;
mod keyring;
mod layers;
mod limits;
mod live;
mod login;
mod login_kill;
mod operator;
mod parity;
mod responses;
mod responses_state;
mod sandbox;
mod service;
mod shared_login;
mod shutdown;
mod socket;
mod stdio;
mod tcp;
mod wire;
mod ws_transport;
mod ws_turns;
