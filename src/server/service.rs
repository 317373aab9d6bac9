//! `codex-serve service install|uninstall`: the shipped systemd units (Linux) or LaunchAgent (macOS),
//! written with this binary's path, and the one command that turns them on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

const SYSTEMD_SOCKET: &str = include_str!("../../systemd/codex-serve.socket");
const SYSTEMD_SERVICE: &str = include_str!("../../systemd/codex-serve.service");
const LAUNCHD_PLIST: &str = include_str!("../../launchd/local.codex-serve.plist");

/// What the shipped files name, replaced by the real paths when installing.
const TEMPLATE_EXEC: &str = "%h/.cargo/bin/codex-serve";
const TEMPLATE_HOME: &str = "/Users/YOU";
const LAUNCHD_LABEL: &str = "local.codex-serve";

#[derive(Args, Debug)]
pub(crate) struct ServiceArgs {
    #[command(subcommand)]
    action: Action,

    /// Write the units here instead of ~/.config/systemd/user (Linux) or ~/Library/LaunchAgents (macOS).
    #[arg(long, value_name = "DIR", env = "CODEX_SERVE_UNIT_DIR", global = true)]
    unit_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone, Copy)]
enum Action {
    /// Write the units with this binary's path and print the command that enables them.
    Install,
    /// Remove the units written by `install`.
    Uninstall,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    #[error("cannot tell where this binary is: {0}")]
    Exe(std::io::Error),
    #[error("no home directory (HOME is unset); pass --unit-dir")]
    NoHome,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`service` knows systemd (Linux) and launchd (macOS) only")]
    Unsupported,
}

/// One file to write.
struct Unit {
    name: &'static str,
    text: String,
}

pub(crate) fn main(args: ServiceArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: ServiceArgs) -> Result<(), ServiceError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    if cfg!(target_os = "macos") {
        let home = home.ok_or(ServiceError::NoHome)?;
        let dir = args
            .unit_dir
            .unwrap_or_else(|| home.join("Library/LaunchAgents"));
        let plist = dir.join(format!("{LAUNCHD_LABEL}.plist"));
        match args.action {
            Action::Install => {
                let exe = this_exe()?;
                // launchd binds the socket but does not make its directory.
                let sock_dir = home.join("Library/Application Support/codex-serve");
                make_private_dir(&sock_dir)?;
                let units = [Unit {
                    name: "local.codex-serve.plist",
                    text: launchd_plist(&exe, &home),
                }];
                write_units(&dir, &units)?;
                println!(
                    "Clients connect to {}",
                    sock_dir.join("codex-serve.sock").display()
                );
                println!("Enable it with:");
                println!("  launchctl bootstrap gui/$(id -u) {}", shell_quote(&plist));
            }
            Action::Uninstall => {
                println!("Stop it first if it is loaded:");
                println!("  launchctl bootout gui/$(id -u)/{LAUNCHD_LABEL}");
                remove_units(&dir, &["local.codex-serve.plist"])?;
            }
        }
        Ok(())
    } else if cfg!(target_os = "linux") {
        let dir = match args.unit_dir {
            Some(d) => d,
            None => systemd_user_dir(home).ok_or(ServiceError::NoHome)?,
        };
        match args.action {
            Action::Install => {
                let exe = this_exe()?;
                let units = systemd_units(&exe);
                write_units(&dir, &units)?;
                println!("Enable it with:");
                println!("  systemctl --user enable --now codex-serve.socket");
            }
            Action::Uninstall => {
                remove_units(&dir, &["codex-serve.socket", "codex-serve.service"])?;
                // `enable` linked the socket here; a dangling link would only produce warnings.
                let wants = dir.join("sockets.target.wants/codex-serve.socket");
                if std::fs::symlink_metadata(&wants).is_ok_and(|m| m.file_type().is_symlink()) {
                    remove(&wants)?;
                }
                println!("Stop what is still running with:");
                println!("  systemctl --user stop codex-serve.socket codex-serve.service && systemctl --user daemon-reload");
            }
        }
        Ok(())
    } else {
        Err(ServiceError::Unsupported)
    }
}

fn this_exe() -> Result<PathBuf, ServiceError> {
    let exe = std::env::current_exe().map_err(ServiceError::Exe)?;
    // A symlink (a package manager's bin dir) is resolved, so the unit keeps working the same way.
    std::fs::canonicalize(&exe).map_err(ServiceError::Exe)
}

/// `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
fn systemd_user_dir(home: Option<PathBuf>) -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".config")))?;
    Some(config.join("systemd").join("user"))
}

fn systemd_units(exe: &Path) -> Vec<Unit> {
    vec![
        Unit {
            name: "codex-serve.socket",
            text: SYSTEMD_SOCKET.to_owned(),
        },
        Unit {
            name: "codex-serve.service",
            text: SYSTEMD_SERVICE.replace(
                &format!("ExecStart={TEMPLATE_EXEC} "),
                &format!("ExecStart={} ", systemd_exec_path(exe)),
            ),
        },
    ]
}

/// A path as the first word of `ExecStart=`: `%` and `$` are systemd's specifiers and variables, and a
/// path with spaces or quotes must be quoted.
fn systemd_exec_path(exe: &Path) -> String {
    let raw = exe.to_string_lossy();
    let escaped = raw.replace('%', "%%").replace('$', "$$");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

fn launchd_plist(exe: &Path, home: &Path) -> String {
    LAUNCHD_PLIST
        .replace(
            &format!("<string>{TEMPLATE_HOME}/.cargo/bin/codex-serve</string>"),
            &format!("<string>{}</string>", xml_escape(&exe.to_string_lossy())),
        )
        .replace(
            &format!("<string>{TEMPLATE_HOME}/"),
            &format!("<string>{}/", xml_escape(&home.to_string_lossy())),
        )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// For the printed command only: single quotes when the path needs them.
fn shell_quote(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn make_private_dir(dir: &Path) -> Result<(), ServiceError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ServiceError::Write {
            path: dir.to_owned(),
            source,
        })
}

fn write_units(dir: &Path, units: &[Unit]) -> Result<(), ServiceError> {
    std::fs::create_dir_all(dir).map_err(|source| ServiceError::Write {
        path: dir.to_owned(),
        source,
    })?;
    for unit in units {
        let path = dir.join(unit.name);
        let existed = path.exists();
        std::fs::write(&path, &unit.text).map_err(|source| ServiceError::Write {
            path: path.clone(),
            source,
        })?;
        let verb = if existed { "updated" } else { "wrote" };
        println!("{verb} {}", path.display());
    }
    Ok(())
}

fn remove_units(dir: &Path, names: &[&str]) -> Result<(), ServiceError> {
    for name in names {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            remove(&path)?;
            println!("removed {}", path.display());
        } else {
            println!("not installed: {}", path.display());
        }
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), ServiceError> {
    std::fs::remove_file(path).map_err(|source| ServiceError::Remove {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_runs_this_binary() {
        let units = systemd_units(Path::new("/opt/codex serve/bin/codex-serve"));
        let service = &units[1].text;
        assert!(
            service.contains("ExecStart=\"/opt/codex serve/bin/codex-serve\" serve\n"),
            "{service}"
        );
        assert!(!service.contains(TEMPLATE_EXEC));
        assert!(service.contains("Type=notify"));
        let plain = systemd_units(Path::new("/usr/local/bin/codex-serve"));
        assert!(plain[1]
            .text
            .contains("ExecStart=/usr/local/bin/codex-serve serve\n"));
        assert_eq!(systemd_exec_path(Path::new("/a/100%/$x")), "/a/100%%/$$x");
        assert!(units[0]
            .text
            .contains("ListenStream=%t/codex-serve/codex-serve.sock"));
    }

    #[test]
    fn plist_gets_real_paths() {
        let plist = launchd_plist(
            Path::new("/Users/ann/bin/codex-serve"),
            Path::new("/Users/ann&co"),
        );
        assert!(plist.contains("<string>/Users/ann/bin/codex-serve</string>"));
        assert!(plist.contains(
            "<string>/Users/ann&amp;co/Library/Application Support/codex-serve/codex-serve.sock</string>"
        ));
        assert!(plist.contains("<string>/Users/ann&amp;co/Library/Logs/codex-serve.log</string>"));
        assert!(!plist.contains("<string>/Users/YOU"));
        assert!(plist.contains("<integer>384</integer>"));
    }
}
