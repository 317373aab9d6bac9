//! Everything about the Codex backend, nothing about serving: credentials from the codex CLI's auth.json
//! (refreshed safely), the Responses API over SSE as typed events, the model catalog and rate limits.
//! What goes on the wire is what the codex CLI it follows ([`PINNED_CLI_VERSION`]) sends: `render` picks
//! the request shape per model, `headers` holds every header, `routing` finds the account's workspace.

// Nothing a client, the network or a file controls may panic the server; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod client;
pub mod error;
pub mod events;
pub mod headers;
pub mod installation;
mod jwt;
pub mod limits;
pub mod models;
pub mod render;
pub mod request;
pub mod routing;
pub mod secret;
mod session;
mod sse;
mod stream;
pub mod tally;
pub mod usage;
pub mod version;
pub mod ws;

pub use auth::{AuthConfig, AuthError, AuthManager, AuthMode, Credentials, LoginInfo};
pub use client::{ClientConfig, CodexClient};
pub use error::CodexError;
pub use events::{OutputItem, ResponseEvent, StreamEvent, Usage};
pub use limits::RateLimitSnapshot;
pub use models::{CatalogSource, ModelInfo};
pub use request::ResponsesRequest;
pub use stream::ResponseStream;
pub use version::{ClientVersion, VersionSource, PINNED_CLI_VERSION};
pub use ws::pool::{PoolConfig, PoolStats};
pub use ws::UpstreamTransport;
