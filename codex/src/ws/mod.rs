//! The backend's WebSocket transport for Responses (`GET {base}/responses` upgraded, `openai-beta:
//! responses_websockets=2026-02-06`), as the codex CLI 0.171 uses it:
//!
//! - which transport a request takes ([`UpstreamTransport`]): `auto` is the WebSocket, as the CLI 0.171
//!   uses it for its built-in provider whatever the model (its own catalog has no `prefer_websockets`;
//!   seen in the parity test), unless the model's catalog entry says `prefer_websockets: false`;
//! - a refused upgrade (426, or any 4xx other than 401/429 on the upgrade) sends the request over HTTP +
//!   SSE, and the refusal is remembered for [`REFUSAL_MEMORY`] (the CLI remembers it for the rest of its
//!   session; a server runs for weeks, so it asks again now and then);
//! - a socket that drops before the turn gave any output is reopened and the full input sent again, as the
//!   CLI does; after output, the stream ends with the error (a resend would duplicate what the client has).
//!
//! `conn` is one socket; `pool` and `chain` (sockets per conversation, incremental turns) build on it.

pub(crate) mod chain;
pub(crate) mod conn;
pub(crate) mod pool;
mod pooled;
mod tls;
mod upstream;

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use pooled::Preconnect;
pub(crate) use tls::client_config;

/// How long a refused upgrade keeps requests on HTTP + SSE before the WebSocket is tried again.
pub const REFUSAL_MEMORY: Duration = Duration::from_secs(15 * 60);

/// `--upstream-transport`: how Responses requests reach the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamTransport {
    /// The WebSocket, except for models whose catalog entry says `prefer_websockets: false`.
    #[default]
    Auto,
    /// The WebSocket for every model (HTTP + SSE still when the upgrade is refused).
    WebSocket,
    /// HTTP + SSE only.
    Http,
}

impl UpstreamTransport {
    pub const NAMES: [&'static str; 3] = ["auto", "websocket", "http"];

    /// Whether a request for a model with this `prefer_websockets` goes over the WebSocket.
    pub fn wants_websocket(self, prefer_websockets: bool) -> bool {
        match self {
            UpstreamTransport::Auto => prefer_websockets,
            UpstreamTransport::WebSocket => true,
            UpstreamTransport::Http => false,
        }
    }
}

impl fmt::Display for UpstreamTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpstreamTransport::Auto => "auto",
            UpstreamTransport::WebSocket => "websocket",
            UpstreamTransport::Http => "http",
        })
    }
}

/// The error of an unknown transport name.
#[derive(Debug, thiserror::Error)]
#[error("unknown upstream transport {0:?}: use auto, websocket or http")]
pub struct UnknownTransport(String);

impl FromStr for UpstreamTransport {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(UpstreamTransport::Auto),
            "websocket" | "websockets" | "ws" => Ok(UpstreamTransport::WebSocket),
            "http" | "sse" => Ok(UpstreamTransport::Http),
            _ => Err(UnknownTransport(s.to_owned())),
        }
    }
}

/// When the backend last refused the upgrade, kept for [`REFUSAL_MEMORY`].
#[derive(Default)]
pub(crate) struct Refusal(Mutex<Option<Instant>>);

impl Refusal {
    pub(crate) fn active(&self) -> bool {
        let at = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        at.is_some_and(|at| at.elapsed() < REFUSAL_MEMORY)
    }

    pub(crate) fn remember(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// How long ago the upgrade was refused, while that is remembered (`status`).
    pub(crate) fn since(&self) -> Option<Duration> {
        let at = (*self.0.lock().unwrap_or_else(|p| p.into_inner()))?;
        Some(at.elapsed()).filter(|d| *d < REFUSAL_MEMORY)
    }
}

/// Whether an upgrade answer means "no WebSocket here": 426, and the other 4xx a server or proxy without
/// the transport gives (404, 405, 400…). 401 is a login to recover and 429 a limit, both as on HTTP.
pub(crate) fn is_refusal(e: &crate::CodexError) -> bool {
    matches!(e, crate::CodexError::Rejected { status, .. } if *status != 401 && *status != 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_names_round_trip_and_auto_follows_the_catalog() {
        for name in UpstreamTransport::NAMES {
            let t: UpstreamTransport = name.parse().unwrap();
            assert_eq!(t.to_string(), name);
        }
        assert!("carrier-pigeon".parse::<UpstreamTransport>().is_err());
        assert!(UpstreamTransport::Auto.wants_websocket(true));
        assert!(!UpstreamTransport::Auto.wants_websocket(false));
        assert!(UpstreamTransport::WebSocket.wants_websocket(false));
        assert!(!UpstreamTransport::Http.wants_websocket(true));
    }

    #[test]
    fn a_refusal_is_remembered() {
        let r = Refusal::default();
        assert!(!r.active());
        r.remember();
        assert!(r.active());
        assert!(r.since().is_some());
    }
}
