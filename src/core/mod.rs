//! Layer 2, protocol-neutral: what every API shares and nothing of HTTP's framework. The server's state
//! ([`app::App`], the upstream limit), the neutral error, the plan every API translates into and the one
//! [`prepare`] step that makes it the codex request, the [`exchange`] with the backend, the one answer
//! [`driver`] with its per-event faces, the [`piece`]s an answer is made of and the [`fold`] that makes
//! them, and the bounded caches (reasoning, stored responses).

pub(crate) mod app;
pub(crate) mod bounded;
pub(crate) mod driver;
pub(crate) mod error;
pub(crate) mod exchange;
pub(crate) mod fold;
pub(crate) mod json;
pub(crate) mod memory;
pub(crate) mod model_map;
pub(crate) mod piece;
pub(crate) mod prepare;
pub(crate) mod reasoning_cache;
pub(crate) mod resent;
pub(crate) mod response_store;
pub(crate) mod typecheck;

/// Seconds since the Unix epoch; 0 if the clock is before it.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
