//! The client version codex-serve presents (`version` header, user agent, `?client_version=`): the
//! backend hides and refuses models whose `minimal_client_version` is above it. It is the version of the
//! codex CLI the user has installed, read once at start, so codex-serve sees the models that CLI sees;
//! without one, the version of the CLI this build was checked against.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The codex CLI release this build follows: its bundled catalog is the built-in one, and the parity
/// tests run it (`tests/oracle/package.json` pins the same version).
pub const PINNED_CLI_VERSION: &str = "0.171.0";

/// Where the client version came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VersionSource {
    /// `--client-version`.
    Flag,
    /// `codex --version` of this binary.
    CodexCli { path: PathBuf },
    /// No codex CLI found (or it did not answer): the pinned version.
    BuiltIn,
}

impl std::fmt::Display for VersionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSource::Flag => f.write_str("--client-version"),
            VersionSource::CodexCli { path } => write!(f, "{} --version", path.display()),
            VersionSource::BuiltIn => write!(
                f,
                "built-in (codex CLI {PINNED_CLI_VERSION}; no codex CLI found)"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientVersion {
    pub version: String,
    pub source: VersionSource,
}

/// The version to present: `flag` if given, else `{codex_bin} --version` (default: `codex` on `PATH`),
/// else the pinned version.
pub fn detect(flag: Option<&str>, codex_bin: Option<&Path>) -> ClientVersion {
    if let Some(v) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        return ClientVersion {
            version: v.to_owned(),
            source: VersionSource::Flag,
        };
    }
    let found = match codex_bin {
        Some(p) => Some(p.to_path_buf()),
        None => on_path("codex"),
    };
    if let Some(path) = found {
        match installed_version(&path) {
            Ok(version) => {
                return ClientVersion {
                    version,
                    source: VersionSource::CodexCli { path },
                }
            }
            Err(why) => tracing::warn!(
                codex = %path.display(),
                "cannot read the codex CLI's version ({why}); presenting {PINNED_CLI_VERSION}"
            ),
        }
    }
    ClientVersion {
        version: PINNED_CLI_VERSION.to_owned(),
        source: VersionSource::BuiltIn,
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs `path --version` (at most 5 s) and reads `codex-cli 0.171.0`.
fn installed_version(path: &Path) -> Result<String, String> {
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("it did not answer within 5 s".into());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(4096)]).into_owned();
    parse_version(&text).ok_or_else(|| format!("unexpected answer {:?}", text.trim()))
}

/// The first word that looks like `X.Y.Z` (`codex-cli 0.171.0` → `0.171.0`).
fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.trim_start_matches('v'))
        .find(|w| {
            let parts: Vec<&str> = w
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_clis_answer() {
        assert_eq!(
            parse_version("codex-cli 0.171.0\n").as_deref(),
            Some("0.171.0")
        );
        assert_eq!(
            parse_version("codex-cli 0.172.0-alpha.1").as_deref(),
            Some("0.172.0-alpha.1")
        );
        assert_eq!(parse_version("codex 1.2"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn the_flag_wins_then_the_cli_then_the_pinned_version() {
        let v = detect(Some("0.160.0"), None);
        assert_eq!(
            (v.version.as_str(), v.source),
            ("0.160.0", VersionSource::Flag)
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("codex");
        std::fs::write(&fake, "#!/bin/sh\necho codex-cli 0.180.1\n").expect("write");
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let v = detect(None, Some(&fake));
        assert_eq!(v.version, "0.180.1");
        assert_eq!(v.source, VersionSource::CodexCli { path: fake });

        let v = detect(None, Some(&dir.path().join("missing")));
        assert_eq!(
            (v.version.as_str(), v.source),
            (PINNED_CLI_VERSION, VersionSource::BuiltIn)
        );
    }
}
