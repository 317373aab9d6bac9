//! `config.toml`: one key per `serve` flag, under the flag's name, checked against the flag's own type and
//! value parser so the file accepts exactly what the command line does.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use toml::{Spanned, Value};

/// Why a config file was refused. Each names the file, the line and the key, and says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}:{line}: {message} (fix the TOML syntax)", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{}:{line}: unknown key `{key}`: the keys are the flags of `codex-serve serve --help` without \
         the leading dashes (e.g. `max-body-bytes = 1048576`)",
        path.display()
    )]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{}:{line}: `{key}` is given twice (as `{key}` and with underscores)", path.display())]
    Twice {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{}:{line}: `{key}` must be {expected}, not {found}", path.display())]
    WrongType {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    BadValue {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// One key of the file, turned into the command-line words that set it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The clap id of the flag (`max_body_bytes`).
    pub(crate) id: String,
    /// The flag's long name (`max-body-bytes`), as the file spells keys.
    pub(crate) key: String,
    pub(crate) line: usize,
    /// `--max-body-bytes=1048576`, one word per value (none for `false`).
    pub(crate) words: Vec<String>,
}

/// Line (1-based) of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// What a TOML value is called in errors.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

fn is_integer_flag(arg: &Arg) -> bool {
    let t = arg.get_value_parser().type_id();
    [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
    ]
    .iter()
    .any(|id| t == *id)
}

/// The flags a file may set: every argument of `serve` with a long name, except `--config` itself.
pub(crate) fn settable(serve: &Command) -> impl Iterator<Item = &Arg> {
    serve
        .get_arguments()
        .filter(|a| a.get_long().is_some_and(|l| l != "config"))
        .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
}

/// Reads and checks `path` against the flags of `serve`.
pub(crate) fn read(path: &Path, serve: &Command) -> Result<Vec<Entry>, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    parse(path, &text, serve)
}

pub(crate) fn parse(path: &Path, text: &str, serve: &Command) -> Result<Vec<Entry>, FileError> {
    let table: BTreeMap<Spanned<String>, Spanned<Value>> =
        toml::from_str(text).map_err(|e| FileError::Syntax {
            path: path.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
    // In the order they appear, so an error names the first bad line.
    let mut keys: Vec<_> = table.iter().collect();
    keys.sort_by_key(|(k, _)| k.span().start);
    let mut entries: Vec<Entry> = Vec::new();
    for (key, value) in keys {
        let line = line_of(text, key.span().start);
        let long = key.get_ref().replace('_', "-");
        let Some(arg) = settable(serve).find(|a| a.get_long() == Some(long.as_str())) else {
            return Err(FileError::UnknownKey {
                path: path.to_owned(),
                line,
                key: key.get_ref().clone(),
            });
        };
        if entries.iter().any(|e| e.key == long) {
            return Err(FileError::Twice {
                path: path.to_owned(),
                line,
                key: long,
            });
        }
        let wrong = |expected| FileError::WrongType {
            path: path.to_owned(),
            line,
            key: long.clone(),
            expected,
            found: kind(value.get_ref()),
        };
        let flag = format!("--{long}");
        let words = match (arg.get_action(), value.get_ref()) {
            (ArgAction::SetTrue, Value::Boolean(b)) => {
                if *b {
                    vec![flag.clone()]
                } else {
                    Vec::new()
                }
            }
            (ArgAction::SetTrue, _) => return Err(wrong("true or false")),
            (ArgAction::Count, Value::Integer(n)) if (0..=8).contains(n) => {
                vec![flag.clone(); *n as usize]
            }
            (ArgAction::Count, _) => return Err(wrong("an integer from 0 to 8")),
            (ArgAction::Append, Value::Array(items)) => {
                let mut words = Vec::new();
                for item in items {
                    words.push(format!("{flag}={}", scalar(arg, item).map_err(wrong)?));
                }
                words
            }
            (ArgAction::Append, _) => return Err(wrong("a list, e.g. [\"…\"]")),
            (_, v) => vec![format!("{flag}={}", scalar(arg, v).map_err(wrong)?)],
        };
        check(serve, &words).map_err(|message| FileError::BadValue {
            path: path.to_owned(),
            line,
            key: long.clone(),
            message,
        })?;
        entries.push(Entry {
            id: arg.get_id().to_string(),
            key: long,
            line,
            words,
        });
    }
    Ok(entries)
}

/// A value as the command line would spell it, if its TOML type fits the flag.
fn scalar(arg: &Arg, v: &Value) -> Result<String, &'static str> {
    match v {
        Value::Integer(n) if is_integer_flag(arg) => Ok(n.to_string()),
        _ if is_integer_flag(arg) => Err("an integer"),
        Value::String(s) => Ok(s.clone()),
        _ => Err("a string"),
    }
}

/// Runs the flag's own value parser over `words`; the message is clap's, without its "error:" and usage.
pub(crate) fn check(serve: &Command, words: &[String]) -> Result<(), String> {
    if words.is_empty() {
        return Ok(());
    }
    let argv = std::iter::once("codex-serve".to_owned()).chain(words.iter().cloned());
    match serve.clone().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(e) => Err(first_line(&e.to_string())),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s);
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Args;

    fn serve() -> Command {
        crate::server::flags::ServeArgs::augment_args(Command::new("serve"))
    }

    fn err(text: &str) -> String {
        parse(Path::new("/c.toml"), text, &serve())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn reads_every_kind_of_flag() {
        let text = "# comment\nmax-body-bytes = 1024\nallow_remote = true\nno-auth = false\n\
                    tcp = [\"127.0.0.1:8080\", \"[::1]:8081\"]\nverbose = 2\nlog-format = \"json\"\n";
        let e = parse(Path::new("/c.toml"), text, &serve()).expect("parsed");
        let words: Vec<_> = e.iter().flat_map(|e| e.words.clone()).collect();
        assert_eq!(
            words,
            [
                "--max-body-bytes=1024",
                "--allow-remote",
                "--tcp=127.0.0.1:8080",
                "--tcp=[::1]:8081",
                "--verbose",
                "--verbose",
                "--log-format=json"
            ]
        );
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].id, "max_body_bytes");
    }

    #[test]
    fn names_file_line_and_key() {
        assert_eq!(
            err("socket = \"/s\"\nmax-bodybytes = 3\n"),
            "/c.toml:2: unknown key `max-bodybytes`: the keys are the flags of `codex-serve serve --help` without the leading dashes (e.g. `max-body-bytes = 1048576`)"
        );
        assert_eq!(
            err("\n\nmax-body-bytes = \"big\"\n"),
            "/c.toml:3: `max-body-bytes` must be an integer, not a string"
        );
        assert_eq!(
            err("no-auth = \"yes\""),
            "/c.toml:1: `no-auth` must be true or false, not a string"
        );
        assert!(err("tcp = \"127.0.0.1:1\"").contains("must be a list"));
        assert!(err("[server]\nx = 1").contains(":1: unknown key `server`"));
        let bad = err("max-queue = 1\nreasoning-effort = \"turbo\"\n");
        assert!(
            bad.starts_with("/c.toml:2: `reasoning-effort`: invalid value 'turbo'"),
            "{bad}"
        );
        assert!(err("x = [1,\n").starts_with("/c.toml:"));
        assert!(err("config = \"/other\"").contains("unknown key `config`"));
        assert!(err("tcp = []\ntcp = []").contains("/c.toml:2"));
        assert!(err("no_auth = true\nno-auth = true").contains("given twice"));
    }
}
