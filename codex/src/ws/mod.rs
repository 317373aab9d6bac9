//! The Responses API over WebSocket: one socket per conversation, incremental turns.

pub(crate) mod chain;
pub(crate) mod pool;
