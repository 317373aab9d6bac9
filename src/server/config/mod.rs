//! The settings in force and where each came from. Precedence: flags, then environment, then codex-serve's
//! config file (`$XDG_CONFIG_HOME/codex-serve/config.toml` or `--config`), then the codex CLI's own
//! `$CODEX_HOME/config.toml` for the few settings both share, then the defaults.
//!
//! The file's keys are the `serve` flags' names and go through the same clap parsers: each accepted key
//! becomes the command-line words that set it, appended to the real command line only when the flag was
//! not given there or in the environment. So the file accepts exactly what the flags do, and a flag added
//! to `ServeArgs` is a config key with nothing more to write.

pub(crate) mod codex_cli;
pub(crate) mod file;
pub(crate) mod settings;
pub(crate) mod show;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, CommandFactory, FromArgMatches};

pub(crate) use codex_cli::CodexCliConfig;
pub(crate) use file::FileError;
pub(crate) use settings::{Config, ListenSettings, LogSettings};

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Flag,
    Env(String),
    File {
        path: PathBuf,
        line: usize,
    },
    /// The codex CLI's config.toml: the key there, and "top level" or "profile NAME".
    CodexCli {
        key: &'static str,
        place: String,
    },
    Default,
}

impl Origin {
    /// `flag`, `env`, `file`, `codex-cli`, `default`: the stable names scripts read.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::Env(_) => "env",
            Origin::File { .. } => "file",
            Origin::CodexCli { .. } => "codex-cli",
            Origin::Default => "default",
        }
    }
}

/// What the loading found, for `config`, `status` and the start-up log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// The config file looked at, whether or not it exists.
    pub(crate) file: Option<PathBuf>,
    pub(crate) file_found: bool,
    /// Origin of each flag whose value is not the default, by clap id.
    pub(crate) origins: BTreeMap<String, Origin>,
    pub(crate) codex_cli: CodexCliConfig,
    /// Settings of the codex CLI that were taken (cli key, codex-serve flag).
    pub(crate) taken_from_cli: Vec<(&'static str, &'static str)>,
    /// Not fatal, logged once logging is up.
    pub(crate) warnings: Vec<String>,
    /// Every settable flag in `--help` order: (long name, clap id, the value in force as the command line
    /// would spell it, `None` when unset).
    pub(crate) values: Vec<(String, String, Option<String>)>,
}

impl Report {
    pub(crate) fn origin(&self, id: &str) -> Origin {
        self.origins.get(id).cloned().unwrap_or(Origin::Default)
    }
}

static REPORT: OnceLock<Report> = OnceLock::new();

/// The report of this process's start, once [`load`] ran.
pub(crate) fn report() -> Option<&'static Report> {
    REPORT.get()
}

/// The start-up lines about settings, once logging is up.
pub(crate) fn log_start() {
    let Some(r) = report() else { return };
    if let (Some(path), true) = (&r.file, r.file_found) {
        tracing::info!(config = %path.display(), "settings read from the config file");
    }
    for (key, flag) in &r.taken_from_cli {
        tracing::info!(
            codex_config = %r.codex_cli.path.display(),
            "the codex CLI's `{key}` is the default for --{flag}"
        );
    }
    for w in &r.warnings {
        tracing::warn!("{w}");
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error(
        "{0}\n(the server does not start on a broken config file; `codex-serve config` checks it)"
    )]
    File(#[from] FileError),
    #[error("the settings from {} don't fit the command line: {message}", path.display())]
    Combined { path: PathBuf, message: String },
}

/// `$XDG_CONFIG_HOME/codex-serve`, else `~/.config/codex-serve`.
pub(crate) fn dir() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        // The XDG spec says to ignore a relative value.
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(config.join("codex-serve"))
}

/// The config file used when `--config` is not given.
pub(crate) fn default_path() -> Option<PathBuf> {
    dir().map(|d| d.join("config.toml"))
}

/// The codex CLI's home when no flag names it: `$CODEX_HOME`, else `~/.codex`.
pub(crate) fn default_codex_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".codex")
}

/// The matches that hold the `serve` flags: the top level, or the subcommand that flattens them.
fn serve_matches(m: &ArgMatches) -> Option<&ArgMatches> {
    match m.subcommand() {
        Some((_, sub)) => sub.try_get_raw("codex_home").is_ok().then_some(sub),
        None => Some(m),
    }
}

fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// Parses the process's command line with the config files applied, and keeps the report for
/// [`report`].
pub(crate) fn load<P: CommandFactory + FromArgMatches>() -> Result<P, LoadError> {
    let (m, report) = resolve(P::command(), std::env::args_os().collect())?;
    let parsed = P::from_arg_matches(&m)?;
    let _ = REPORT.set(report);
    Ok(parsed)
}

/// The matches for `argv` with the config file and the codex CLI's settings applied below the flags and
/// the environment.
pub(crate) fn resolve(
    cmd: Command,
    argv: Vec<OsString>,
) -> Result<(ArgMatches, Report), LoadError> {
    let first = cmd.clone().try_get_matches_from(&argv)?;
    let Some(serve) = serve_matches(&first) else {
        return Ok((first, Report::default()));
    };
    let flags = crate::server::flags::ServeArgs::augment_args(Command::new("codex-serve"));
    let mut report = Report::default();
    for arg in file::settable(&flags) {
        let id = arg.get_id().as_str();
        let origin = match serve.value_source(id) {
            Some(ValueSource::CommandLine) => Origin::Flag,
            Some(ValueSource::EnvVariable) => Origin::Env(
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => continue,
        };
        report.origins.insert(id.to_owned(), origin);
    }

    // codex-serve's own file.
    let explicit = serve.get_one::<PathBuf>("config").cloned();
    let path = explicit.clone().or_else(default_path);
    let mut extra: Vec<OsString> = Vec::new();
    if let Some(path) = &path {
        report.file = Some(path.clone());
        let exists = std::fs::metadata(path).is_ok();
        if exists || explicit.is_some() {
            let entries = file::read(path, &flags)?;
            report.file_found = true;
            let stdio = serve.get_flag("stdio");
            for e in entries {
                if given(serve, &e.id) {
                    continue;
                }
                // `--stdio` on the command line serves one connection: the file's listeners don't apply.
                if stdio && (e.id == "tcp" || e.id == "idle_timeout") {
                    continue;
                }
                extra.extend(e.words.iter().map(OsString::from));
                report.origins.insert(
                    e.id.clone(),
                    Origin::File {
                        path: path.clone(),
                        line: e.line,
                    },
                );
            }
        }
    }
    let combined = |extra: &[OsString]| {
        let all = argv.iter().cloned().chain(extra.iter().cloned());
        cmd.clone()
            .try_get_matches_from(all)
            .map_err(|e| LoadError::Combined {
                path: path.clone().unwrap_or_default(),
                message: e.to_string().lines().next().unwrap_or("").to_owned(),
            })
    };
    let second = combined(&extra)?;
    let serve2 = serve_matches(&second).unwrap_or(&second);

    // The codex CLI's settings, below everything of codex-serve's own.
    let home = serve2
        .get_one::<PathBuf>("codex_home")
        .cloned()
        .unwrap_or_else(default_codex_home);
    let profile = serve2
        .get_one::<String>("codex_profile")
        .map(String::as_str);
    report.codex_cli = codex_cli::read(&home, profile);
    report.warnings.extend(report.codex_cli.warnings.clone());
    for (cli_key, id, long) in codex_cli::MAPPED {
        let Some(value) = report.codex_cli.value(cli_key) else {
            continue;
        };
        if report.origins.contains_key(*id) {
            continue;
        }
        let words = vec![format!("--{long}={value}")];
        if let Err(message) = file::check(&flags, &words) {
            report.warnings.push(format!(
                "{}: `{cli_key}` is not usable by codex-serve ({message}); ignored",
                report.codex_cli.path.display()
            ));
            continue;
        }
        let place = report
            .codex_cli
            .values
            .iter()
            .find(|(k, _, _)| k == cli_key)
            .map(|(_, _, p)| p.clone())
            .unwrap_or_default();
        extra.extend(words.into_iter().map(OsString::from));
        report.origins.insert(
            (*id).to_owned(),
            Origin::CodexCli {
                key: cli_key,
                place,
            },
        );
        report.taken_from_cli.push((cli_key, long));
    }
    let last = if report.taken_from_cli.is_empty() {
        second
    } else {
        combined(&extra)?
    };
    let serve = serve_matches(&last).unwrap_or(&last);
    for arg in file::settable(&flags) {
        let id = arg.get_id().as_str();
        let value = match arg.get_action() {
            clap::ArgAction::SetTrue => Some(serve.get_flag(id).to_string()),
            clap::ArgAction::Count => Some(serve.get_count(id).to_string()),
            _ => serve.get_raw(id).map(|vals| {
                vals.map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        };
        let long = arg.get_long().unwrap_or(id).to_owned();
        report.values.push((long, id.to_owned(), value));
    }
    Ok((last, report))
}
