//! The `serve` flags: their names, environment variables and defaults are a public contract (the config
//! file's keys are the same names). The values go on to [`Config`](crate::server::config::Config).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use codex_client::auth::DEFAULT_AUTH_URL;
use codex_client::request::ReasoningEffort;

use crate::core::model_map::{parse_rule, Rule};
use crate::server::listen::tcp;

pub(crate) const DEFAULT_INSTRUCTIONS: &str = "You are a helpful assistant.";
/// The Ollama release whose API (thinking, tool call ids, structured output) the Ollama routes follow.
pub(crate) const DEFAULT_OLLAMA_VERSION: &str = "0.12.10";
/// `--idle-timeout` when a service manager handed us the sockets.

#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// Settings file, whose keys are these flags' names [default: $XDG_CONFIG_HOME/codex-serve/config.toml].
    /// Flags and environment variables win over it.
    #[arg(long, value_name = "PATH", env = "CODEX_SERVE_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Unix socket to listen on [default: $XDG_RUNTIME_DIR/codex-serve/codex-serve.sock].
    #[arg(long, value_name = "PATH", env = "CODEX_SERVE_SOCKET")]
    pub(crate) socket: Option<PathBuf>,

    /// Don't listen on the Unix socket (serve only --tcp listeners or handed-over sockets).
    #[arg(long)]
    pub(crate) no_socket: bool,

    /// Also listen on TCP at ADDR:PORT (repeatable). Loopback only unless --allow-remote; clients must send
    /// the API key.
    #[arg(long, value_name = "ADDR", value_parser = tcp::parse_addr)]
    pub(crate) tcp: Vec<SocketAddr>,

    /// Allow --tcp on a non-loopback address (a key is then always required).
    #[arg(long)]
    pub(crate) allow_remote: bool,

    /// File holding the key TCP clients must send [default: CODEX_SERVE_API_KEY, else a key generated
    /// into $XDG_CONFIG_HOME/codex-serve/api-key].
    #[arg(long, value_name = "PATH")]
    pub(crate) api_key_file: Option<PathBuf>,

    /// No key on TCP. Loopback listeners only: any local user can then use your login.
    #[arg(long)]
    pub(crate) no_auth: bool,

    /// Also accept this name in the Host header of TCP requests (repeatable).
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub(crate) allow_host: Vec<String>,

    /// Send CORS headers to this exact origin, e.g. http://localhost:3000 (repeatable).
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    pub(crate) cors_origin: Vec<String>,

    /// Serve one HTTP/1.1 connection on stdin/stdout instead of listening; exit when stdin closes.
    #[arg(long, conflicts_with_all = ["tcp", "idle_timeout"])]
    pub(crate) stdio: bool,

    /// Exit after this many seconds with no connection open; 0 never exits [default: 600 when started
    /// by socket activation, else never].
    #[arg(long, value_name = "SECS")]
    pub(crate) idle_timeout: Option<u64>,

    /// Seconds running requests may take to finish after SIGTERM/SIGINT before they are cut.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub(crate) shutdown_grace: u64,

    /// The codex CLI's home, holding auth.json [default: ~/.codex].
    #[arg(long, value_name = "DIR", env = "CODEX_HOME")]
    pub(crate) codex_home: Option<PathBuf>,

    /// The codex CLI profile whose settings to take, as the CLI's `--profile NAME`: `$CODEX_HOME/NAME.config.toml`
    /// layered over `$CODEX_HOME/config.toml`.
    #[arg(long, value_name = "NAME", env = "CODEX_SERVE_CODEX_PROFILE")]
    pub(crate) codex_profile: Option<String>,

    /// Responses API base URL [default: https://chatgpt.com/backend-api/codex for a ChatGPT login,
    /// https://api.openai.com/v1 for an API key].
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_UPSTREAM_URL")]
    pub(crate) upstream_url: Option<String>,

    /// Base URL of the token endpoint ({URL}/oauth/token). CODEX_REFRESH_TOKEN_URL_OVERRIDE wins if set.
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_AUTH_URL", default_value = DEFAULT_AUTH_URL)]
    pub(crate) auth_url: String,

    /// Instructions sent when the client gives no system message (the backend requires some).
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_INSTRUCTIONS)]
    pub(crate) instructions: String,

    /// Model for requests that leave `model` empty [default: the codex CLI's `model`].
    #[arg(long, value_name = "MODEL")]
    pub(crate) model: Option<String>,

    /// Reasoning effort when the request names none [default: the codex CLI's model_reasoning_effort].
    #[arg(long, value_name = "EFFORT", value_parser = parse_effort)]
    pub(crate) reasoning_effort: Option<ReasoningEffort>,

    /// Reasoning summary to ask for, returned as `reasoning_content`.
    #[arg(long, value_enum, value_name = "SUMMARY", default_value = "auto")]
    pub(crate) reasoning_summary: SummaryArg,

    /// Also list `MODEL-EFFORT` names (gpt-6.2-sol-high, …) in /v1/models.
    #[arg(long)]
    pub(crate) list_effort_variants: bool,

    /// The version `GET /api/version` reports: Ollama clients enable features by it, so it names the
    /// Ollama release whose API codex-serve follows.
    #[arg(long, value_name = "X.Y.Z", default_value = DEFAULT_OLLAMA_VERSION)]
    pub(crate) ollama_version: String,

    /// Map a model name the Anthropic API receives (Claude Code's `claude-…` names) to a Codex model:
    /// FROM is a name or a pattern with `*`, TO a Codex model, optionally with an effort
    /// (`claude-*opus*=gpt-5.5:high`). Repeatable; checked in order, before the built-in rules.
    #[arg(long = "model-map", value_name = "FROM=TO", value_parser = parse_rule, env = "CODEX_SERVE_MODEL_MAP", value_delimiter = ',')]
    pub(crate) model_map: Vec<Rule>,

    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub(crate) max_body_bytes: usize,

    /// Seconds a request's body may take to arrive once its headers have; slower ends in 408 and a close.
    #[arg(
        long,
        value_name = "SECS",
        env = "CODEX_SERVE_BODY_READ_TIMEOUT",
        default_value_t = 30
    )]
    pub(crate) body_read_timeout: u64,

    /// Connections served at once, counted for each listener on its own (the Unix socket's are never
    /// taken by TCP clients).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_connections: usize,

    /// TCP connections per listener that may be open without having sent a request with the key yet;
    /// one more closes the oldest of them.
    #[arg(
        long,
        value_name = "N",
        env = "CODEX_SERVE_MAX_UNAUTH_CONNECTIONS",
        default_value_t = 64
    )]
    pub(crate) max_unauth_connections: usize,

    /// Seconds a new TCP connection has to send a request with the key before it is closed.
    #[arg(
        long,
        value_name = "SECS",
        env = "CODEX_SERVE_UNAUTH_HEADER_TIMEOUT",
        default_value_t = 5
    )]
    pub(crate) unauth_header_timeout: u64,

    /// Seconds a client has to send its request headers.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub(crate) header_read_timeout: u64,

    /// Requests in flight to the backend at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) max_upstream: usize,

    /// Requests that may wait for a free upstream slot; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_queue: usize,

    /// Finished /v1/responses answers kept for previous_response_id (0 keeps none).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) response_store_max: usize,

    /// Seconds a kept response stays available for previous_response_id.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub(crate) response_store_ttl: u64,

    /// Seconds to wait for a backend event before giving up on a stream.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub(crate) upstream_idle_timeout: u64,

    /// Retries of transient backend failures (5xx, network) before anything was streamed.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) upstream_retries: u32,

    /// How requests reach the backend: `websocket` (one socket per conversation; a turn that continues
    /// the last one sends only its new items), `http` (HTTP + SSE, the whole input every time), or
    /// `auto`: WebSocket for the models whose catalog entry prefers it, HTTP for the others and for a
    /// while after the backend refused an upgrade.
    #[arg(
        long,
        value_enum,
        value_name = "TRANSPORT",
        env = "CODEX_SERVE_UPSTREAM_TRANSPORT",
        default_value = "auto"
    )]
    pub(crate) upstream_transport: TransportArg,

    /// Upstream WebSockets open at once, busy and idle together. The idle one used longest ago is
    /// closed to make room; when all are busy a request goes over HTTP + SSE.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub(crate) upstream_max_sockets: usize,

    /// Seconds an idle upstream WebSocket stays open for its conversation's next turn.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub(crate) upstream_socket_idle: u64,

    /// Don't prewarm upstream WebSockets: a client's `generate: false` prewarm is answered without the
    /// backend instead of being sent on the conversation's socket, and a client opening the Responses
    /// WebSocket with a conversation key does not get that conversation's upstream socket opened ahead
    /// of its first turn.
    #[arg(long)]
    pub(crate) no_upstream_prewarm: bool,

    /// The `originator` header sent to the backend (and the user agent's product), as `codex exec`
    /// sends it.
    #[arg(long, value_name = "NAME", default_value = codex_client::client::DEFAULT_ORIGINATOR)]
    pub(crate) originator: String,

    /// The client version sent to the backend (`version` header, User-Agent, model catalog query)
    /// [default: the installed codex CLI's (`codex --version`), else the codex CLI version codex-serve
    /// follows].
    #[arg(long, value_name = "X.Y.Z")]
    pub(crate) client_version: Option<String>,

    /// The codex CLI whose version codex-serve presents [default: `codex` on PATH].
    #[arg(long, value_name = "PATH")]
    pub(crate) codex_bin: Option<PathBuf>,

    /// Base URL of the ChatGPT backend, for the workspace check ({URL}wham/accounts/check) and the usage
    /// endpoint ({URL}wham/usage) [default: the codex CLI's chatgpt_base_url, else --upstream-url without
    /// its last segment, else https://chatgpt.com/backend-api/].
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_CHATGPT_BASE_URL")]
    pub(crate) chatgpt_base_url: Option<String>,

    /// More logging: -v for backend detail, -vv for everything.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Log line format (logs go to stderr, or to --log-file).
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,

    /// Write the log to this file instead of stderr, rotated by size (FILE.1, FILE.2, …).
    #[arg(long, value_name = "PATH")]
    pub(crate) log_file: Option<PathBuf>,

    /// Size at which --log-file is rotated.
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub(crate) log_file_max_bytes: u64,

    /// Rotated files kept besides --log-file (0: the file is emptied instead).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) log_file_keep: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportArg {
    Auto,
    #[value(name = "websocket")]
    WebSocket,
    Http,
}

impl From<TransportArg> for codex_client::ws::UpstreamTransport {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Auto => Self::Auto,
            TransportArg::WebSocket => Self::WebSocket,
            TransportArg::Http => Self::Http,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SummaryArg {
    Auto,
    Concise,
    Detailed,
    None,
}

/// A host name or IP for --allow-host, in the form the Host check compares: lowercase, no brackets, no
/// trailing dot.
fn parse_host(s: &str) -> Result<String, String> {
    let h = s.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(h);
    let h = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    let bad = h.is_empty()
        || h.bytes()
            .any(|b| b.is_ascii_whitespace() || b"/@?#".contains(&b))
        || (h.contains(':') && h.parse::<std::net::Ipv6Addr>().is_err());
    if bad {
        return Err("expected a host name or IP address without a port, e.g. devbox.lan".into());
    }
    Ok(h)
}

/// An origin for --cors-origin: `scheme://host[:port]`, as browsers send it in `Origin`.
fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let err = || {
        format!(
            "{s:?} is not an origin: expected scheme://host[:port] such as http://localhost:3000 \
             (a wildcard is not accepted)"
        )
    };
    let uri: http::Uri = s.parse().map_err(|_| err())?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    match (uri.scheme_str(), uri.authority()) {
        (Some(_), Some(a)) if !a.as_str().contains('@') && (path.is_empty() || path == "/") => {
            http::HeaderValue::from_str(s).map_err(|_| err())?;
            Ok(s.to_ascii_lowercase())
        }
        _ => Err(err()),
    }
}

fn parse_effort(s: &str) -> Result<ReasoningEffort, String> {
    ReasoningEffort::parse(s).ok_or_else(|| {
        "expected one of none, minimal, low, medium, high, xhigh, max, ultra".to_owned()
    })
}
