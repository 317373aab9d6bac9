//! [`Config`]: every setting of `serve` as the program uses it, between clap and the `App` and listeners
//! built from it. The flags (with the environment and the config file, which set flags, see the module
//! above) give most of it; the sizes no flag sets are here with their values, so every size and limit
//! is in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use codex_client::request::{ReasoningEffort, ReasoningSummary};

use crate::anthropic::model_map::Rule;
use crate::server::flags::{LogFormat, ServeArgs, SummaryArg, DEFAULT_INSTRUCTIONS};

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) codex: CodexSettings,
    pub(crate) defaults: RequestDefaults,
    pub(crate) limits: Limits,
    pub(crate) listen: ListenSettings,
    pub(crate) log: LogSettings,
}

/// How to reach the backend and whose login to use.
#[derive(Debug, Clone)]
pub(crate) struct CodexSettings {
    pub(crate) home: PathBuf,
    pub(crate) upstream_url: Option<String>,
    pub(crate) auth_url: String,
    pub(crate) chatgpt_base_url: Option<String>,
    pub(crate) originator: String,
    pub(crate) client_version: Option<String>,
    pub(crate) codex_bin: Option<PathBuf>,
    pub(crate) upstream_idle_timeout: Duration,
    pub(crate) upstream_retries: u32,
    pub(crate) upstream_transport: codex_client::ws::UpstreamTransport,
    /// Upstream WebSockets: how many, how long idle.
    pub(crate) upstream_sockets: codex_client::PoolConfig,
    pub(crate) upstream_prewarm: bool,
}

/// What a request gets when it does not say.
#[derive(Debug, Clone)]
pub(crate) struct RequestDefaults {
    /// Never empty: the backend requires instructions.
    pub(crate) instructions: String,
    pub(crate) model: Option<String>,
    pub(crate) reasoning_effort: Option<ReasoningEffort>,
    pub(crate) reasoning_summary: Option<ReasoningSummary>,
    pub(crate) list_effort_variants: bool,
    pub(crate) ollama_version: String,
    pub(crate) model_map: Vec<Rule>,
}

/// Every bound on memory, time and concurrency.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_body_bytes: usize,
    pub(crate) body_read_timeout: Duration,
    pub(crate) header_read_timeout: Duration,
    /// Most bytes of request head a connection may buffer.
    pub(crate) max_header_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_unauth_connections: usize,
    pub(crate) unauth_header_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) max_upstream: usize,
    pub(crate) max_queue: usize,
    pub(crate) response_store_max: usize,
    pub(crate) response_store_ttl: Duration,
    /// Bytes all kept responses may take together.
    pub(crate) response_store_max_bytes: usize,
    /// Reasoning kept to send back on a conversation's next turn: entries, bytes, age.
    pub(crate) reasoning_cache_entries: usize,
    pub(crate) reasoning_cache_max_bytes: usize,
    pub(crate) reasoning_cache_ttl: Duration,
}

/// Where to listen and the TCP rules.
#[derive(Debug, Clone)]
pub(crate) struct ListenSettings {
    pub(crate) socket: Option<PathBuf>,
    pub(crate) no_socket: bool,
    pub(crate) tcp: Vec<SocketAddr>,
    pub(crate) allow_remote: bool,
    pub(crate) api_key_file: Option<PathBuf>,
    pub(crate) no_auth: bool,
    pub(crate) allow_host: Vec<String>,
    pub(crate) cors_origin: Vec<String>,
    pub(crate) stdio: bool,
    /// As given: `Some(ZERO)` never exits, `None` is [`ListenSettings::activated_idle_timeout`] when a
    /// service manager handed the sockets over, else never.
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) activated_idle_timeout: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct LogSettings {
    pub(crate) verbose: u8,
    pub(crate) format: LogFormat,
    pub(crate) file: Option<PathBuf>,
    pub(crate) file_max_bytes: u64,
    pub(crate) file_keep: usize,
}

/// A timeout of 0 seconds would fire at once; the flags documented seconds, so the least is one.
fn secs_at_least_one(s: u64) -> Duration {
    Duration::from_secs(s.max(1))
}

impl Config {
    pub(crate) fn from_args(a: &ServeArgs) -> Config {
        let instructions = if a.instructions.trim().is_empty() {
            DEFAULT_INSTRUCTIONS.to_owned()
        } else {
            a.instructions.clone()
        };
        Config {
            codex: CodexSettings {
                home: a
                    .codex_home
                    .clone()
                    .unwrap_or_else(crate::server::config::default_codex_home),
                upstream_url: a.upstream_url.clone(),
                auth_url: a.auth_url.clone(),
                chatgpt_base_url: a.chatgpt_base_url.clone(),
                originator: a.originator.clone(),
                client_version: a.client_version.clone(),
                codex_bin: a.codex_bin.clone(),
                upstream_idle_timeout: secs_at_least_one(a.upstream_idle_timeout),
                upstream_retries: a.upstream_retries,
                upstream_transport: a.upstream_transport.into(),
                upstream_sockets: codex_client::PoolConfig {
                    max_sockets: a.upstream_max_sockets,
                    idle: secs_at_least_one(a.upstream_socket_idle),
                },
                upstream_prewarm: !a.no_upstream_prewarm,
            },
            defaults: RequestDefaults {
                instructions,
                model: a.model.clone().filter(|m| !m.trim().is_empty()),
                reasoning_effort: a.reasoning_effort,
                reasoning_summary: match a.reasoning_summary {
                    SummaryArg::Auto => Some(ReasoningSummary::Auto),
                    SummaryArg::Concise => Some(ReasoningSummary::Concise),
                    SummaryArg::Detailed => Some(ReasoningSummary::Detailed),
                    SummaryArg::None => None,
                },
                list_effort_variants: a.list_effort_variants,
                ollama_version: a.ollama_version.clone(),
                model_map: a.model_map.clone(),
            },
            limits: Limits {
                max_body_bytes: a.max_body_bytes,
                body_read_timeout: secs_at_least_one(a.body_read_timeout),
                header_read_timeout: secs_at_least_one(a.header_read_timeout),
                max_header_bytes: 64 * 1024,
                max_connections: a.max_connections,
                max_unauth_connections: a.max_unauth_connections,
                unauth_header_timeout: secs_at_least_one(a.unauth_header_timeout),
                shutdown_grace: Duration::from_secs(a.shutdown_grace),
                max_upstream: a.max_upstream,
                max_queue: a.max_queue,
                response_store_max: a.response_store_max,
                response_store_ttl: Duration::from_secs(a.response_store_ttl),
                response_store_max_bytes: 256 * 1024 * 1024,
                reasoning_cache_entries: 4096,
                reasoning_cache_max_bytes: 64 * 1024 * 1024,
                reasoning_cache_ttl: Duration::from_secs(6 * 3600),
            },
            listen: ListenSettings {
                socket: a.socket.clone(),
                no_socket: a.no_socket,
                tcp: a.tcp.clone(),
                allow_remote: a.allow_remote,
                api_key_file: a.api_key_file.clone(),
                no_auth: a.no_auth,
                allow_host: a.allow_host.clone(),
                cors_origin: a.cors_origin.clone(),
                stdio: a.stdio,
                idle_timeout: a.idle_timeout.map(Duration::from_secs),
                activated_idle_timeout: Duration::from_secs(600),
            },
            log: LogSettings {
                verbose: a.verbose,
                format: a.log_format,
                file: a.log_file.clone(),
                file_max_bytes: a.log_file_max_bytes,
                file_keep: a.log_file_keep,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config(args: &[&str]) -> Config {
        let argv = std::iter::once("codex-serve").chain(args.iter().copied());
        Config::from_args(&Serve::parse_from(argv).serve)
    }

    #[test]
    fn defaults_are_todays_sizes() {
        let c = config(&["--codex-home", "/nonexistent"]);
        assert_eq!(c.limits.max_body_bytes, 8 * 1024 * 1024);
        assert_eq!(c.limits.max_upstream, 64);
        assert_eq!(c.limits.max_queue, 1024);
        assert_eq!(c.limits.response_store_max_bytes, 256 * 1024 * 1024);
        assert_eq!(c.limits.reasoning_cache_entries, 4096);
        assert_eq!(c.limits.reasoning_cache_ttl, Duration::from_secs(6 * 3600));
        assert_eq!(c.listen.idle_timeout, None);
        assert_eq!(c.listen.activated_idle_timeout, Duration::from_secs(600));
        assert_eq!(c.defaults.instructions, DEFAULT_INSTRUCTIONS);
        assert_eq!(c.codex.home, PathBuf::from("/nonexistent"));
    }

    #[test]
    fn zero_second_timeouts_become_one_and_blank_texts_fall_back() {
        let c = config(&[
            "--body-read-timeout",
            "0",
            "--upstream-idle-timeout",
            "0",
            "--idle-timeout",
            "0",
            "--instructions",
            "  ",
            "--model",
            " ",
            "--reasoning-summary",
            "none",
        ]);
        assert_eq!(c.limits.body_read_timeout, Duration::from_secs(1));
        assert_eq!(c.codex.upstream_idle_timeout, Duration::from_secs(1));
        // 0 is "never exit", kept as given for the listener to read.
        assert_eq!(c.listen.idle_timeout, Some(Duration::ZERO));
        assert_eq!(c.defaults.instructions, DEFAULT_INSTRUCTIONS);
        assert_eq!(c.defaults.model, None);
        assert_eq!(c.defaults.reasoning_summary, None);
    }
}
