//! [`Config`]: every setting of `serve` as the program uses it, between clap and the `App` and listeners
//! built from it. The flags (with the environment and the config file, which set flags, see the module
//! above) give most of it; the sizes no flag sets are here with their values, so every size and limit
//! is in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use codex_client::request::{ReasoningEffort, ReasoningSummary};

use crate::core::model_map::Rule;
use crate::server::flags::{LogFormat, ServeArgs, SummaryArg, DEFAULT_INSTRUCTIONS};

#[derive(Debug, Clone)]
pub struct Config {
    pub codex: CodexSettings,
    pub defaults: RequestDefaults,
    pub limits: Limits,
    pub listen: ListenSettings,
    pub log: LogSettings,
}

/// How to reach the backend and whose login to use.
#[derive(Debug, Clone)]
pub struct CodexSettings {
    pub home: PathBuf,
    pub upstream_url: Option<String>,
    pub auth_url: String,
    pub chatgpt_base_url: Option<String>,
    pub originator: String,
    pub client_version: Option<String>,
    pub codex_bin: Option<PathBuf>,
    pub upstream_idle_timeout: Duration,
    pub upstream_retries: u32,
}

/// What a request gets when it does not say.
#[derive(Debug, Clone)]
pub struct RequestDefaults {
    /// Never empty: the backend requires instructions.
    pub instructions: String,
    pub model: Option<String>,
    pub reasoning_effort: Option<ReasoningEffort>,
    pub reasoning_summary: Option<ReasoningSummary>,
    pub list_effort_variants: bool,
    pub ollama_version: String,
    pub model_map: Vec<Rule>,
}

/// Every bound on memory, time and concurrency.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub body_read_timeout: Duration,
    pub header_read_timeout: Duration,
    /// Most bytes of request head a connection may buffer.
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub max_unauth_connections: usize,
    pub unauth_header_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_upstream: usize,
    pub max_queue: usize,
    pub response_store_max: usize,
    pub response_store_ttl: Duration,
    /// Bytes all kept responses may take together.
    pub response_store_max_bytes: usize,
    /// Reasoning kept to send back on a conversation's next turn: entries, bytes, age.
    pub reasoning_cache_entries: usize,
    pub reasoning_cache_max_bytes: usize,
    pub reasoning_cache_ttl: Duration,
}

/// Where to listen and the TCP rules.
#[derive(Debug, Clone)]
pub struct ListenSettings {
    pub socket: Option<PathBuf>,
    pub no_socket: bool,
    pub tcp: Vec<SocketAddr>,
    pub allow_remote: bool,
    pub api_key_file: Option<PathBuf>,
    pub no_auth: bool,
    pub allow_host: Vec<String>,
    pub cors_origin: Vec<String>,
    pub stdio: bool,
    /// As given: `Some(ZERO)` never exits, `None` is [`ListenSettings::activated_idle_timeout`] when a
    /// service manager handed the sockets over, else never.
    pub idle_timeout: Option<Duration>,
    pub activated_idle_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub verbose: u8,
    pub format: LogFormat,
    pub file: Option<PathBuf>,
    pub file_max_bytes: u64,
    pub file_keep: usize,
}

/// A timeout of 0 seconds would fire at once; the flags documented seconds, so the least is one.
fn secs_at_least_one(s: u64) -> Duration {
    Duration::from_secs(s.max(1))
}

impl Config {
    pub fn from_args(a: &ServeArgs) -> Config {
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
