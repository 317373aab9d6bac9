//! What the client is told: where the backend is, who it says it is, and its timeouts, retries and sockets.

use std::time::Duration;

use crate::auth::AuthMode;
use crate::version::VersionSource;
use crate::ws::pool::PoolConfig;
use crate::ws::UpstreamTransport;

/// The PEM file of extra trusted roots for every https call, as the codex CLI reads it.
pub const CA_CERTIFICATE_ENV: &str = "CODEX_CA_CERTIFICATE";

pub const CHATGPT_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
/// `codex exec`'s originator: codex-serve, like it, answers requests without a person at a terminal.
pub const DEFAULT_ORIGINATOR: &str = "codex_exec";
pub const API_KEY_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Overrides the base URL that the login mode implies.
    pub upstream_url: Option<String>,
    /// Where `{chatgpt_base}wham/accounts/check` lives; default: the upstream URL without its last
    /// segment (`https://chatgpt.com/backend-api/`).
    pub chatgpt_base_url: Option<String>,
    /// The `originator` header (and User-Agent product).
    pub originator: String,
    /// The client version sent in `version`, the User-Agent and `?client_version=`.
    pub client_version: String,
    /// Where `client_version` came from, for `status`.
    pub client_version_source: VersionSource,
    /// The codex CLI's home: its `models_cache.json` is a catalog fallback.
    pub codex_home: Option<std::path::PathBuf>,
    /// A PEM file of extra trusted roots (`CODEX_CA_CERTIFICATE`).
    pub extra_ca: Option<std::path::PathBuf>,
    pub connect_timeout: Duration,
    /// Longest wait for the answer's headers, and between two events of a stream.
    pub idle_timeout: Duration,
    /// Retries of transient failures (5xx, network) before anything was streamed.
    pub max_retries: u32,
    /// Longest single SSE line or event we buffer.
    pub max_event_bytes: usize,
    /// Where the model catalog is cached per account; `None` keeps it in memory only.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Idle keep-alive connections to the backend kept for reuse. Below the number of requests in flight
    /// at once, bursts keep opening (and TLS-handshaking) connections the pool then drops.
    pub max_idle_connections: usize,
    /// How Responses requests reach the backend (`--upstream-transport`).
    pub upstream_transport: UpstreamTransport,
    /// Upstream WebSockets kept per conversation: how many, how long idle
    /// (`--upstream-max-sockets`, `--upstream-socket-idle`).
    pub upstream_sockets: PoolConfig,
    /// Whether upstream sockets are prewarmed (`--no-upstream-prewarm`): a `generate: false` request is
    /// sent on its conversation's socket, and [`CodexClient::preconnect`] opens a socket ahead.
    pub upstream_prewarm: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            upstream_url: None,
            chatgpt_base_url: None,
            originator: DEFAULT_ORIGINATOR.into(),
            client_version: crate::version::PINNED_CLI_VERSION.into(),
            client_version_source: VersionSource::BuiltIn,
            codex_home: None,
            extra_ca: None,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_retries: 4,
            max_event_bytes: 16 * 1024 * 1024,
            cache_dir: None,
            max_idle_connections: 16,
            upstream_transport: UpstreamTransport::Auto,
            upstream_sockets: PoolConfig::default(),
            upstream_prewarm: true,
        }
    }
}

/// `{chatgpt_base}`: configured, else the upstream URL up to its last segment, with a trailing slash.
pub(crate) fn chatgpt_base_url(cfg: &ClientConfig) -> String {
    if let Some(base) = &cfg.chatgpt_base_url {
        return base.clone();
    }
    let upstream = base_url(cfg, AuthMode::ChatGpt);
    match upstream.rsplit_once('/') {
        Some((head, _)) if head.contains("://") && !head.ends_with('/') => format!("{head}/"),
        _ => format!("{upstream}/"),
    }
}

pub(super) fn base_url(cfg: &ClientConfig, mode: AuthMode) -> &str {
    match (&cfg.upstream_url, mode) {
        (Some(url), _) => url.trim_end_matches('/'),
        (None, AuthMode::ChatGpt) => CHATGPT_BASE_URL,
        (None, AuthMode::ApiKey) => API_KEY_BASE_URL,
    }
}
