//! `codex-serve service install|uninstall` on Linux: systemd user units with this binary's path.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

fn service(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-serve"));
    c.arg("service")
        .args(args)
        .env_remove("CODEX_SERVE_UNIT_DIR")
        .env_remove("XDG_CONFIG_HOME");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run service");
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn install_writes_units_that_run_this_binary_and_prints_the_enable_command() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = service(
        &["install", "--unit-dir", dir.path().to_str().expect("utf-8")],
        &[],
    );
    let printed = stdout(&out);
    assert!(
        printed
            .lines()
            .any(|l| l.trim() == "systemctl --user enable --now codex-serve.socket"),
        "{printed}"
    );
    let socket = std::fs::read_to_string(dir.path().join("codex-serve.socket")).expect("socket");
    for line in [
        "ListenStream=%t/codex-serve/codex-serve.sock",
        "SocketMode=0600",
        "DirectoryMode=0700",
    ] {
        assert!(
            socket.lines().any(|l| l == line),
            "{line} missing:\n{socket}"
        );
    }
    let unit = std::fs::read_to_string(dir.path().join("codex-serve.service")).expect("service");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_codex-serve")).expect("exe");
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert_eq!(exec, format!("ExecStart={} serve", exe.display()));
    assert!(unit.lines().any(|l| l == "Type=notify"));
    // Hardening must leave ~/.codex writable: no ProtectHome, no read-only file system.
    assert!(!unit
        .lines()
        .any(|l| l.starts_with("ProtectHome=") || l.starts_with("ProtectSystem=")));

    // systemd itself accepts them, where it is installed.
    match Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(dir.path().join("codex-serve.socket"))
        .arg(dir.path().join("codex-serve.service"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
    {
        Ok(v) => assert!(v.status.success(), "systemd-analyze verify: {v:?}"),
        Err(_) => eprintln!("skipped systemd-analyze verify: not installed"),
    }

    // Again: same files, now "updated".
    let again = service(
        &["install", "--unit-dir", dir.path().to_str().expect("utf-8")],
        &[],
    );
    assert!(stdout(&again).contains("updated"), "{}", stdout(&again));
}

#[test]
fn default_dir_is_xdg_config_home_and_uninstall_removes_everything() {
    let config = tempfile::tempdir().expect("tmp");
    service(&["install"], &[("XDG_CONFIG_HOME", config.path())]);
    let dir = config.path().join("systemd").join("user");
    assert!(dir.join("codex-serve.socket").is_file());
    assert!(dir.join("codex-serve.service").is_file());
    // What `systemctl --user enable` would have linked.
    let wants = dir.join("sockets.target.wants");
    std::fs::create_dir_all(&wants).expect("wants");
    std::os::unix::fs::symlink(
        dir.join("codex-serve.socket"),
        wants.join("codex-serve.socket"),
    )
    .expect("link");

    let out = service(&["uninstall"], &[("XDG_CONFIG_HOME", config.path())]);
    assert!(
        stdout(&out).contains("systemctl --user stop"),
        "{}",
        stdout(&out)
    );
    assert!(!dir.join("codex-serve.socket").exists());
    assert!(!dir.join("codex-serve.service").exists());
    assert!(std::fs::symlink_metadata(wants.join("codex-serve.socket")).is_err());

    // The override variable works the same as the flag.
    let other = tempfile::tempdir().expect("tmp");
    service(&["install"], &[("CODEX_SERVE_UNIT_DIR", other.path())]);
    assert!(other.path().join("codex-serve.service").is_file());
}
