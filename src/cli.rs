//! Command line: flags, logging, and starting the server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use codex_client::auth::{DEFAULT_AUTH_URL, REFRESH_URL_OVERRIDE_ENV};
use codex_client::request::{ReasoningEffort, ReasoningSummary};
use codex_client::{AuthConfig, AuthManager, ClientConfig, CodexClient};

use crate::app::{App, UpstreamLimit};
use crate::listen::{self, ConnLimits};
use crate::openai::chat_request::Defaults;
use crate::openai::reasoning_cache::ReasoningCache;

pub const DEFAULT_INSTRUCTIONS: &str = "You are a helpful assistant.";

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
    Serve(ServeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Unix socket to listen on [default: $XDG_RUNTIME_DIR/codex-serve/codex-serve.sock].
    #[arg(long, value_name = "PATH", env = "CODEX_SERVE_SOCKET")]
    pub socket: Option<PathBuf>,

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

    /// Reasoning effort when the request names none.
    #[arg(long, value_name = "EFFORT", value_parser = parse_effort)]
    pub reasoning_effort: Option<ReasoningEffort>,

    /// Reasoning summary to ask for, returned as `reasoning_content`.
    #[arg(long, value_enum, value_name = "SUMMARY", default_value = "auto")]
    pub reasoning_summary: SummaryArg,

    /// Also list `MODEL-EFFORT` names (gpt-5.1-codex-high, …) in /v1/models.
    #[arg(long)]
    pub list_effort_variants: bool,

    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Connections served at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seconds a client has to send its request headers.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub header_read_timeout: u64,

    /// Requests in flight to the backend at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_upstream: usize,

    /// Requests that may wait for a free upstream slot; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_queue: usize,

    /// Seconds to wait for a backend event before giving up on a stream.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub upstream_idle_timeout: u64,

    /// Retries of transient backend failures (5xx, network) before anything was streamed.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub upstream_retries: u32,

    /// The `originator` header sent to the backend.
    #[arg(long, value_name = "NAME", default_value = "codex_cli_rs")]
    pub originator: String,

    /// The client version sent to the backend (`version` header, User-Agent, model catalog query).
    #[arg(long, value_name = "X.Y.Z", default_value = "0.99.0")]
    pub client_version: String,

    /// More logging: -v for backend detail, -vv for everything.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log line format (logs go to stderr).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryArg {
    Auto,
    Concise,
    Detailed,
    None,
}

fn parse_effort(s: &str) -> Result<ReasoningEffort, String> {
    ReasoningEffort::parse(s)
        .ok_or_else(|| "expected one of none, minimal, low, medium, high, xhigh".to_owned())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        None => cli.serve,
    };
    init_logging(args.verbose, args.log_format);
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
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "codex_serve=info,codex_client=warn",
        1 => "codex_serve=debug,codex_client=debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("CODEX_SERVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn codex_home(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".codex")
    })
}

/// Builds the application from flags: the codex client and the defaults every request uses.
pub fn build_app(args: &ServeArgs) -> Result<App, String> {
    let home = codex_home(args.codex_home.clone());
    let client_cfg = ClientConfig {
        upstream_url: args.upstream_url.clone(),
        originator: args.originator.clone(),
        client_version: args.client_version.clone(),
        idle_timeout: Duration::from_secs(args.upstream_idle_timeout.max(1)),
        max_retries: args.upstream_retries,
        // As many idle connections as requests may be in flight: a burst up to the limit then reuses
        // connections instead of opening new ones.
        max_idle_connections: args.max_upstream.max(1),
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
    let installation_id = codex_client::installation::load_or_create(&home.join("codex-serve"));
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
    })
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let app = Arc::new(build_app(&args)?);
    match app.codex.auth().login_info().await {
        Ok(info) => {
            tracing::info!(mode = ?info.mode, email = info.email.as_deref().unwrap_or("-"), "Codex login found")
        }
        Err(e) => tracing::warn!("{e}"),
    }
    let router = crate::http::router(app, args.max_body_bytes);
    let (path, is_default) = match args.socket {
        Some(p) => (p, false),
        None => (listen::unix::default_socket_path(), true),
    };
    let socket = listen::unix::bind(&path, is_default).map_err(|e| e.to_string())?;
    tracing::info!(socket = %socket.path().display(), "codex-serve listening");
    let limits = ConnLimits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        ..ConnLimits::default()
    };
    listen::serve_unix(&socket.listener, router, limits, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
