//! Command line: flags, logging, and starting the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use codex_client::auth::{DEFAULT_AUTH_URL, REFRESH_URL_OVERRIDE_ENV};
use codex_client::request::{ReasoningEffort, ReasoningSummary};
use codex_client::ws::UpstreamTransport;
use codex_client::{AuthConfig, AuthManager, ClientConfig, CodexClient};

use crate::anthropic::model_map::{parse_rule, ModelMap, Rule};
use crate::apikey::{self, KeyError, KeySource};
use crate::app::{App, UpstreamLimit};
use crate::http::guard::NetworkPolicy;
use crate::listen::activation::{self, ActivationError, Handed};
use crate::listen::tcp::{self, TcpError};
use crate::listen::unix::SocketError;
use crate::listen::{self, Conn, ConnLimits, Routers, Source};
use crate::openai::response_store::ResponseStore;
use crate::reasoning_cache::ReasoningCache;
use crate::service::ServiceArgs;
use crate::upstream::Defaults;

pub const DEFAULT_INSTRUCTIONS: &str = "You are a helpful assistant.";
/// The Ollama release whose API (thinking, tool call ids, structured output) the Ollama routes follow.
pub const DEFAULT_OLLAMA_VERSION: &str = "0.12.10";
/// `--idle-timeout` when a service manager handed us the sockets.
const DEFAULT_ACTIVATED_IDLE_SECS: u64 = 600;

#[derive(Parser, Debug)]
#[command(
    name = "codex-serve",
    version,
    about = "Serve your Codex login as an OpenAI-compatible API on a private Unix socket",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Install or remove the user service that starts codex-serve on the first connection.
    Service(ServiceArgs),
    /// Login, server and rate limits at a glance (never prints a token).
    Status(Box<crate::status::StatusArgs>),
    /// The models this login can use, with the reasoning efforts each takes.
    Models(Box<crate::status::ModelsArgs>),
    /// The settings in force (flags, environment, config file, the codex CLI's config) and where each
    /// came from.
    Config(Box<crate::config::show::ConfigArgs>),
    /// Checks each link (login, versions, permissions, server, network, routing, units) and says what
    /// to do about the one that fails; exits 1 when one does.
    Doctor(Box<crate::doctor::DoctorArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Settings file, whose keys are these flags' names [default: $XDG_CONFIG_HOME/codex-serve/config.toml].
    /// Flags and environment variables win over it.
    #[arg(long, value_name = "PATH", env = "CODEX_SERVE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Unix socket to listen on [default: $XDG_RUNTIME_DIR/codex-serve/codex-serve.sock].
    #[arg(long, value_name = "PATH", env = "CODEX_SERVE_SOCKET")]
    pub socket: Option<PathBuf>,

    /// Don't listen on the Unix socket (serve only --tcp listeners or handed-over sockets).
    #[arg(long)]
    pub no_socket: bool,

    /// Also listen on TCP at ADDR:PORT (repeatable). Loopback only unless --allow-remote; clients must send
    /// the API key.
    #[arg(long, value_name = "ADDR", value_parser = tcp::parse_addr)]
    pub tcp: Vec<SocketAddr>,

    /// Allow --tcp on a non-loopback address (a key is then always required).
    #[arg(long)]
    pub allow_remote: bool,

    /// File holding the key TCP clients must send [default: CODEX_SERVE_API_KEY, else a key generated
    /// into $XDG_CONFIG_HOME/codex-serve/api-key].
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// No key on TCP. Loopback listeners only: any local user can then use your login.
    #[arg(long)]
    pub no_auth: bool,

    /// Also accept this name in the Host header of TCP requests (repeatable).
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub allow_host: Vec<String>,

    /// Send CORS headers to this exact origin, e.g. http://localhost:3000 (repeatable).
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    pub cors_origin: Vec<String>,

    /// Serve one HTTP/1.1 connection on stdin/stdout instead of listening; exit when stdin closes.
    #[arg(long, conflicts_with_all = ["tcp", "idle_timeout"])]
    pub stdio: bool,

    /// Exit after this many seconds with no connection open; 0 never exits [default: 600 when started
    /// by socket activation, else never].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,

    /// Seconds running requests may take to finish after SIGTERM/SIGINT before they are cut.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub shutdown_grace: u64,

    /// The codex CLI's home, holding auth.json [default: ~/.codex].
    #[arg(long, value_name = "DIR", env = "CODEX_HOME")]
    pub codex_home: Option<PathBuf>,

    /// Responses API base URL [default: https://chatgpt.com/backend-api/codex for a ChatGPT login,
    /// https://api.openai.com/v1 for an API key].
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_UPSTREAM_URL")]
    pub upstream_url: Option<String>,

    /// Base URL of the token endpoint ({URL}/oauth/token). CODEX_REFRESH_TOKEN_URL_OVERRIDE wins if set.
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_AUTH_URL", default_value = DEFAULT_AUTH_URL)]
    pub auth_url: String,

    /// Instructions sent when the client gives no system message (the backend requires some).
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_INSTRUCTIONS)]
    pub instructions: String,

    /// Model for requests that leave `model` empty [default: the codex CLI's `model`].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Reasoning effort when the request names none [default: the codex CLI's model_reasoning_effort].
    #[arg(long, value_name = "EFFORT", value_parser = parse_effort)]
    pub reasoning_effort: Option<ReasoningEffort>,

    /// Reasoning summary to ask for, returned as `reasoning_content`.
    #[arg(long, value_enum, value_name = "SUMMARY", default_value = "auto")]
    pub reasoning_summary: SummaryArg,

    /// Also list `MODEL-EFFORT` names (gpt-6.2-sol-high, …) in /v1/models.
    #[arg(long)]
    pub list_effort_variants: bool,

    /// The version `GET /api/version` reports: Ollama clients enable features by it, so it names the
    /// Ollama release whose API codex-serve follows.
    #[arg(long, value_name = "X.Y.Z", default_value = DEFAULT_OLLAMA_VERSION)]
    pub ollama_version: String,

    /// Map a model name the Anthropic API receives (Claude Code's `claude-…` names) to a Codex model:
    /// FROM is a name or a pattern with `*`, TO a Codex model, optionally with an effort
    /// (`claude-*opus*=gpt-5.5:high`). Repeatable; checked in order, before the built-in rules.
    #[arg(long = "model-map", value_name = "FROM=TO", value_parser = parse_rule, env = "CODEX_SERVE_MODEL_MAP", value_delimiter = ',')]
    pub model_map: Vec<Rule>,

    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a request's body may take to arrive once its headers have; slower ends in 408 and a close.
    #[arg(
        long,
        value_name = "SECS",
        env = "CODEX_SERVE_BODY_READ_TIMEOUT",
        default_value_t = 30
    )]
    pub body_read_timeout: u64,

    /// Connections served at once, counted for each listener on its own (the Unix socket's are never
    /// taken by TCP clients).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// TCP connections per listener that may be open without having sent a request with the key yet;
    /// one more closes the oldest of them.
    #[arg(
        long,
        value_name = "N",
        env = "CODEX_SERVE_MAX_UNAUTH_CONNECTIONS",
        default_value_t = 64
    )]
    pub max_unauth_connections: usize,

    /// Seconds a new TCP connection has to send a request with the key before it is closed.
    #[arg(
        long,
        value_name = "SECS",
        env = "CODEX_SERVE_UNAUTH_HEADER_TIMEOUT",
        default_value_t = 5
    )]
    pub unauth_header_timeout: u64,

    /// Seconds a client has to send its request headers.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub header_read_timeout: u64,

    /// Requests in flight to the backend at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_upstream: usize,

    /// Requests that may wait for a free upstream slot; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_queue: usize,

    /// Finished /v1/responses answers kept for previous_response_id (0 keeps none).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub response_store_max: usize,

    /// Seconds a kept response stays available for previous_response_id.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub response_store_ttl: u64,

    /// Seconds to wait for a backend event before giving up on a stream.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub upstream_idle_timeout: u64,

    /// Retries of transient backend failures (5xx, network) before anything was streamed.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub upstream_retries: u32,

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
    pub upstream_transport: TransportArg,

    /// Upstream WebSockets open at once, busy and idle together. The idle one used longest ago is
    /// closed to make room; when all are busy a request goes over HTTP + SSE.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub upstream_max_sockets: usize,

    /// Seconds an idle upstream WebSocket stays open for its conversation's next turn.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub upstream_socket_idle: u64,

    /// Don't open upstream WebSockets ahead of a turn: not when a client opens the Responses
    /// WebSocket, and a client's `generate: false` prewarm is then answered without the backend.
    #[arg(long)]
    pub no_upstream_prewarm: bool,

    /// The `originator` header sent to the backend (and the user agent's product), as `codex exec`
    /// sends it.
    #[arg(long, value_name = "NAME", default_value = codex_client::client::DEFAULT_ORIGINATOR)]
    pub originator: String,

    /// The client version sent to the backend (`version` header, User-Agent, model catalog query)
    /// [default: the installed codex CLI's (`codex --version`), else the codex CLI version codex-serve
    /// follows].
    #[arg(long, value_name = "X.Y.Z")]
    pub client_version: Option<String>,

    /// The codex CLI whose version codex-serve presents [default: `codex` on PATH].
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,

    /// Base URL of the ChatGPT backend, for the workspace check ({URL}wham/accounts/check) and the usage
    /// endpoint ({URL}wham/usage) [default: the codex CLI's chatgpt_base_url, else --upstream-url without
    /// its last segment, else https://chatgpt.com/backend-api/].
    #[arg(long, value_name = "URL", env = "CODEX_SERVE_CHATGPT_BASE_URL")]
    pub chatgpt_base_url: Option<String>,

    /// More logging: -v for backend detail, -vv for everything.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log line format (logs go to stderr, or to --log-file).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Write the log to this file instead of stderr, rotated by size (FILE.1, FILE.2, …).
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Size at which --log-file is rotated.
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub log_file_max_bytes: u64,

    /// Rotated files kept besides --log-file (0: the file is emptied instead).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub log_file_keep: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Auto,
    #[value(name = "websocket")]
    WebSocket,
    Http,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryArg {
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

pub fn main() -> ExitCode {
    let cli: Cli = match crate::config::load() {
        Ok(cli) => cli,
        Err(crate::config::LoadError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("codex-serve: {e}");
            return ExitCode::from(2);
        }
    };
    let args = match cli.command {
        Some(Command::Service(s)) => return crate::service::main(s),
        Some(Command::Status(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(crate::status::status(*a));
        }
        Some(Command::Models(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(crate::status::models(*a));
        }
        Some(Command::Config(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(async move { crate::config::show::run(&a) });
        }
        Some(Command::Doctor(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_doctor(*a);
        }
        Some(Command::Serve(a)) => *a,
        None => cli.serve,
    };
    if let Some(path) = &args.log_file {
        match crate::logfile::RotatingFile::new(path, args.log_file_max_bytes, args.log_file_keep) {
            Ok(file) => init_logging_to(args.verbose, args.log_format, Some(file)),
            Err(e) => {
                eprintln!(
                    "codex-serve: cannot open the log file {}: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        }
    } else {
        init_logging(args.verbose, args.log_format);
    }
    crate::config::log_start();
    crate::hardening::apply();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(args));
    // A stdin read parked in the blocking pool can't be cancelled; don't let it hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `doctor`: 0 when every check passed or only warned, 1 when one failed, 2 when it could not run.
fn run_doctor(args: crate::doctor::DoctorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(crate::doctor::run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs a one-shot command (status, models) to its end.
fn run_command(fut: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    App(String),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Tcp(#[from] TcpError),
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error("the API key for TCP: {0}")]
    Key(#[from] KeyError),
    #[error("cannot serve a socket handed over by the service manager: {0}")]
    Handed(std::io::Error),
    #[error(
        "--no-auth is allowed only when every TCP listener is on loopback and --allow-remote is not given"
    )]
    NoAuthRemote,
    #[error("nothing to listen on: --no-socket needs --tcp, or sockets from a service manager")]
    NothingToServe,
}

/// Logging for the one-shot commands: warnings only, unless asked for more.
fn init_command_logging(verbose: u8, format: LogFormat) {
    if verbose == 0 {
        init_command_logging_with("warn", format);
    } else {
        init_logging(verbose, format);
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    init_logging_to(verbose, format, None);
}

fn init_logging_to(
    verbose: u8,
    format: LogFormat,
    file: Option<Arc<crate::logfile::RotatingFile>>,
) {
    let default = match verbose {
        0 => "codex_serve=info,codex_client=warn",
        1 => "codex_serve=debug,codex_client=debug",
        _ => "trace",
    };
    init_logging_with(default, format, file);
}

fn init_command_logging_with(default: &str, format: LogFormat) {
    init_logging_with(default, format, None);
}

fn init_logging_with(
    default: &str,
    format: LogFormat,
    file: Option<Arc<crate::logfile::RotatingFile>>,
) {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CODEX_SERVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal, not in files and journals.
    let (ansi, writer) = match file {
        Some(f) => (
            false,
            BoxMakeWriter::new(move || crate::logfile::Writer(f.clone())),
        ),
        None => (
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            BoxMakeWriter::new(std::io::stderr),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn codex_home(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(crate::config::default_codex_home)
}

/// Builds the application from flags: the codex client and the defaults every request uses.
pub fn build_app(args: &ServeArgs) -> Result<App, String> {
    let home = codex_home(args.codex_home.clone());
    let version =
        codex_client::version::detect(args.client_version.as_deref(), args.codex_bin.as_deref());
    let client_cfg = ClientConfig {
        upstream_url: args.upstream_url.clone(),
        chatgpt_base_url: args.chatgpt_base_url.clone(),
        originator: args.originator.clone(),
        client_version: version.version,
        client_version_source: version.source,
        codex_home: Some(home.clone()),
        extra_ca: std::env::var_os(codex_client::client::CA_CERTIFICATE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        idle_timeout: Duration::from_secs(args.upstream_idle_timeout.max(1)),
        max_retries: args.upstream_retries,
        cache_dir: Some(home.join("codex-serve")),
        // As many idle connections as requests may be in flight: a burst up to the limit then reuses
        // connections instead of opening new ones.
        max_idle_connections: args.max_upstream.max(1),
        upstream_transport: match args.upstream_transport {
            TransportArg::Auto => UpstreamTransport::Auto,
            TransportArg::WebSocket => UpstreamTransport::WebSocket,
            TransportArg::Http => UpstreamTransport::Http,
        },
        upstream_sockets: codex_client::PoolConfig {
            max_sockets: args.upstream_max_sockets,
            idle: Duration::from_secs(args.upstream_socket_idle.max(1)),
        },
        upstream_prewarm: !args.no_upstream_prewarm,
        ..ClientConfig::default()
    };
    let http = codex_client::client::http_client(&client_cfg).map_err(|e| e.to_string())?;
    let auth = AuthManager::new(
        AuthConfig {
            codex_home: home.clone(),
            auth_url: args.auth_url.clone(),
            token_url_override: std::env::var(REFRESH_URL_OVERRIDE_ENV)
                .ok()
                .filter(|v| !v.is_empty()),
        },
        http.clone(),
    );
    let installation_id = codex_client::installation::load_or_create(&home);
    let codex = CodexClient::new(http, Arc::new(auth), client_cfg, installation_id);
    let summary = match args.reasoning_summary {
        SummaryArg::Auto => Some(ReasoningSummary::Auto),
        SummaryArg::Concise => Some(ReasoningSummary::Concise),
        SummaryArg::Detailed => Some(ReasoningSummary::Detailed),
        SummaryArg::None => None,
    };
    let instructions = if args.instructions.trim().is_empty() {
        DEFAULT_INSTRUCTIONS.to_owned()
    } else {
        args.instructions.clone()
    };
    Ok(App {
        codex,
        defaults: Defaults {
            instructions,
            reasoning_effort: args.reasoning_effort,
            reasoning_summary: summary,
        },
        list_effort_variants: args.list_effort_variants,
        reasoning: ReasoningCache::new(4096, 64 * 1024 * 1024, Duration::from_secs(6 * 3600)),
        upstream: UpstreamLimit::new(args.max_upstream, args.max_queue),
        responses: ResponseStore::new(
            args.response_store_max,
            256 * 1024 * 1024,
            Duration::from_secs(args.response_store_ttl),
        ),
        max_body_bytes: args.max_body_bytes,
        body_read_timeout: Duration::from_secs(args.body_read_timeout.max(1)),
        ollama_version: args.ollama_version.clone(),
        model_map: ModelMap::new(args.model_map.clone()),
        default_model: args.model.clone().filter(|m| !m.trim().is_empty()),
    })
}

async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let app = Arc::new(build_app(&args).map_err(StartError::App)?);
    let (version, source) = app.codex.client_version();
    tracing::info!(client_version = version, from = %source, "presenting the codex CLI's version to the backend");
    match app.codex.auth().login_info().await {
        Ok(info) => {
            tracing::info!(mode = ?info.mode, email = info.email.as_deref().unwrap_or("-"), "Codex login found")
        }
        Err(e) => tracing::warn!("{e}"),
    }
    let limits = ConnLimits {
        max_connections: args.max_connections,
        max_unauth_connections: args.max_unauth_connections,
        unauth_header_timeout: Duration::from_secs(args.unauth_header_timeout.max(1)),
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..ConnLimits::default()
    };
    let local = crate::http::router(app.clone(), args.max_body_bytes);

    if args.stdio {
        tracing::info!("codex-serve serving HTTP on stdin/stdout");
        let stdio = crate::http::stdio_router(app.clone(), args.max_body_bytes);
        let routers = Routers {
            network: stdio.clone(),
            local: stdio,
        };
        let sources = vec![Source::One(Conn::stdio())];
        listen::serve(sources, routers, limits, None, shutdown).await;
        return Ok(());
    }

    let handed = activation::handed_over()?;

    let mut sources = Vec::new();
    let mut tcp_addrs = Vec::new();
    for h in handed {
        let source = match h.socket {
            Handed::UnixListener(l) => {
                let shown = l
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "unnamed".into());
                tracing::info!(name = %h.name, socket = %shown, "serving a Unix socket from the service manager");
                Source::Unix(handed_unix(l)?)
            }
            Handed::TcpListener(l) => {
                let addr = l.local_addr().map_err(StartError::Handed)?;
                tcp::check_reach(addr, args.allow_remote)?;
                tcp_addrs.push(addr);
                tracing::info!(name = %h.name, %addr, "serving a TCP socket from the service manager");
                Source::Tcp(handed_tcp(l)?)
            }
            Handed::UnixStream(s) => {
                s.set_nonblocking(true).map_err(StartError::Handed)?;
                let s = tokio::net::UnixStream::from_std(s).map_err(StartError::Handed)?;
                Source::One(Conn::Unix(s))
            }
            Handed::TcpStream(s) => {
                let addr = s.local_addr().map_err(StartError::Handed)?;
                tcp::check_reach(addr, args.allow_remote)?;
                tcp_addrs.push(addr);
                s.set_nonblocking(true).map_err(StartError::Handed)?;
                let s = tokio::net::TcpStream::from_std(s).map_err(StartError::Handed)?;
                Source::One(Conn::Tcp(s))
            }
        };
        sources.push(source);
    }
    let activated = !sources.is_empty();

    for &addr in &args.tcp {
        tcp::check_reach(addr, args.allow_remote)?;
    }
    let policy = if args.tcp.is_empty() && tcp_addrs.is_empty() {
        None
    } else {
        Some(network_policy(&args)?)
    };
    for &addr in &args.tcp {
        let listener = tcp::bind(addr).await?;
        let bound = listener.local_addr().unwrap_or(addr);
        tracing::info!(tcp = %bound, "codex-serve listening");
        sources.push(Source::Tcp(listener));
    }

    // A service manager's socket replaces the default one; an explicit --socket is still honoured.
    let mut own_socket = None;
    if !args.no_socket && (!activated || args.socket.is_some()) {
        let (path, is_default) = match args.socket.clone() {
            Some(p) => (p, false),
            None => (listen::unix::default_socket_path(), true),
        };
        let socket = listen::unix::bind(&path, is_default)?;
        tracing::info!(socket = %socket.path().display(), "codex-serve listening");
        sources.push(Source::Unix(socket.listener));
        own_socket = Some(socket.file);
    }
    if sources.is_empty() {
        return Err(StartError::NothingToServe);
    }

    let network = match policy {
        Some(p) => crate::http::network_router(app, args.max_body_bytes, p),
        None => local.clone(),
    };
    // A service manager starts us again on the next connection, so exiting when idle costs nothing.
    let idle = args
        .idle_timeout
        .or(activated.then_some(DEFAULT_ACTIVATED_IDLE_SECS))
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    let routers = Routers { local, network };
    listen::serve(sources, routers, limits, idle, shutdown).await;
    // Removes the socket file only if it is ours and still the one we created.
    drop(own_socket);
    Ok(())
}

fn handed_unix(
    l: std::os::unix::net::UnixListener,
) -> Result<tokio::net::UnixListener, StartError> {
    l.set_nonblocking(true).map_err(StartError::Handed)?;
    tokio::net::UnixListener::from_std(l).map_err(StartError::Handed)
}

fn handed_tcp(l: std::net::TcpListener) -> Result<tokio::net::TcpListener, StartError> {
    l.set_nonblocking(true).map_err(StartError::Handed)?;
    tokio::net::TcpListener::from_std(l).map_err(StartError::Handed)
}

/// The TCP rules from flags. Every TCP address was already checked to be loopback unless --allow-remote.
fn network_policy(args: &ServeArgs) -> Result<NetworkPolicy, StartError> {
    let key = if args.no_auth {
        if args.allow_remote {
            return Err(StartError::NoAuthRemote);
        }
        tracing::warn!("--no-auth: any local user or program can use your Codex login over TCP");
        None
    } else {
        let key = apikey::resolve(args.api_key_file.as_deref())?;
        match &key.source {
            KeySource::Generated(p) => tracing::info!(
                key_file = %p.display(),
                "generated an API key for TCP clients (mode 0600); send it as `Authorization: Bearer KEY`"
            ),
            KeySource::File(p) => {
                tracing::info!(key_file = %p.display(), "TCP clients must send the key in this file")
            }
            KeySource::Env => {
                tracing::info!("TCP clients must send the key in CODEX_SERVE_API_KEY")
            }
        }
        Some(Arc::new(key))
    };
    let cors_origins = args
        .cors_origin
        .iter()
        .filter_map(|o| http::HeaderValue::from_str(o).ok())
        .collect();
    Ok(NetworkPolicy {
        key,
        allowed_hosts: args.allow_host.clone().into(),
        cors_origins,
    })
}

/// SIGTERM or SIGINT. The handlers are installed now, not at the first poll: a service manager may send
/// SIGTERM right after READY=1, and the default action would kill us mid-request.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    if let Err(e) = term.as_ref().and(int.as_ref()) {
        tracing::warn!(error = %e, "cannot watch for SIGTERM/SIGINT; they will kill codex-serve at once");
    }
    async move {
        let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
    }
}
