//! The doctor's checks of this machine: file and socket permissions, the user units.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use super::{check, Check, Verdict};

/// A problem with one path, and the command that fixes it.
struct Problem {
    text: String,
    fix: String,
}

/// `path` must be ours and closed to group and others (`private`), or at least not writable by them.
fn inspect(path: &Path, what: &str, private: bool, want: u32, out: &mut Vec<Problem>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        out.push(Problem {
            text: format!(
                "{what} {} belongs to uid {}, not to you",
                path.display(),
                meta.uid()
            ),
            fix: format!("chown $(id -u) {}", path.display()),
        });
    }
    let open = if private { mode & 0o077 } else { mode & 0o022 };
    if open != 0 {
        out.push(Problem {
            text: format!("{what} {} has mode {mode:04o}", path.display()),
            fix: format!("chmod {want:o} {}", path.display()),
        });
    }
}

pub(super) fn permissions(
    auth_file: &Path,
    socket: &Path,
    key_file: Option<&Path>,
    config_file: Option<&Path>,
) -> Check {
    let mut problems = Vec::new();
    inspect(auth_file, "the login", true, 0o600, &mut problems);
    if let Some(dir) = socket.parent() {
        inspect(dir, "the socket's directory", true, 0o700, &mut problems);
    }
    inspect(socket, "the socket", true, 0o600, &mut problems);
    if let Some(k) = key_file {
        inspect(k, "the API key file", true, 0o600, &mut problems);
    }
    if let Some(c) = config_file {
        inspect(c, "the config file", false, 0o600, &mut problems);
    }
    if problems.is_empty() {
        let mut seen = vec![auth_file.display().to_string()];
        if socket.exists() {
            seen.push(socket.display().to_string());
        }
        if let Some(k) = key_file.filter(|k| k.exists()) {
            seen.push(k.display().to_string());
        }
        return check(
            "permissions",
            Verdict::Ok,
            format!("private to you: {}", seen.join(", ")),
        );
    }
    let text: Vec<String> = problems.iter().map(|p| p.text.clone()).collect();
    let fix: Vec<String> = problems.iter().map(|p| p.fix.clone()).collect();
    check("permissions", Verdict::Fail, text.join("; ")).fix(fix.join(" && "))
}

/// Runs `systemctl --user ARGS` for at most three seconds; its first output line, or why not.
async fn systemctl(args: &[&str]) -> Result<(bool, String), String> {
    let run = tokio::process::Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(3), run)
        .await
        .map_err(|_| "systemctl did not answer within 3 s".to_owned())?
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim().to_owned();
    Ok((out.status.success(), first))
}

pub(super) async fn units() -> Check {
    let Some(dir) = super::unit_dir() else {
        return check("units", Verdict::Skip, "no home directory");
    };
    if cfg!(target_os = "macos") {
        let plist = dir.join("local.codex-serve.plist");
        return if plist.exists() {
            check(
                "units",
                Verdict::Ok,
                format!("{} is installed", plist.display()),
            )
        } else {
            check("units", Verdict::Warn, "the LaunchAgent is not installed")
                .fix("codex-serve service install")
        };
    }
    let socket = dir.join("codex-serve.socket");
    let service = dir.join("codex-serve.service");
    if !socket.exists() || !service.exists() {
        return check(
            "units",
            Verdict::Warn,
            format!(
                "not installed in {} (fine when you start codex-serve yourself)",
                dir.display()
            ),
        )
        .fix("codex-serve service install");
    }
    // The service runs the binary its ExecStart names: one moved or deleted breaks every start.
    let exec = std::fs::read_to_string(&service).ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .and_then(|l| {
                l.split_whitespace()
                    .next()
                    .map(|w| w.trim_matches('"').to_owned())
            })
    });
    if let Some(exe) = exec.filter(|e| !e.contains('%') && !Path::new(e).exists()) {
        return check(
            "units",
            Verdict::Fail,
            format!("{} runs {exe}, which does not exist", service.display()),
        )
        .fix("codex-serve service install (writes this binary's path), then systemctl --user daemon-reload");
    }
    match systemctl(&["is-active", "codex-serve.socket"]).await {
        Ok((true, _)) => check(
            "units",
            Verdict::Ok,
            format!(
                "installed in {}; codex-serve.socket is active",
                dir.display()
            ),
        ),
        Ok((false, state)) => check(
            "units",
            Verdict::Warn,
            format!(
                "installed in {}; codex-serve.socket is {state}",
                dir.display()
            ),
        )
        .fix("systemctl --user enable --now codex-serve.socket"),
        Err(why) => check(
            "units",
            Verdict::Skip,
            format!("installed in {}; cannot ask systemd: {why}", dir.display()),
        ),
    }
}
