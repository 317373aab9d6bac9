//! `codex-serve doctor` against a running server and the mock backend, then with links broken one by one.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Options, Server};
use serde_json::Value;

fn doctor(s: &Server, upstream: &str, extra: &[&str]) -> (Option<i32>, String) {
    let units = s.run.path().join("units");
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .arg("doctor")
        .args(extra)
        .arg("--socket")
        .arg(&s.socket)
        .arg("--codex-home")
        .arg(s.home.path())
        .arg("--upstream-url")
        .arg(upstream)
        .arg("--chatgpt-base-url")
        .arg(s.mock.url())
        .arg("--auth-url")
        .arg(s.mock.auth_url())
        .arg("--upstream-retries")
        .arg("0")
        .env_remove("CODEX_SERVE_LOG")
        .env("CODEX_SERVE_UNIT_DIR", &units)
        .envs(common::clean_env(s.run.path()))
        .output()
        .expect("run doctor");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn statuses(out: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(out).expect("json");
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn status_of<'a>(all: &'a [(String, String)], name: &str) -> &'a str {
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_works() {
    let s = Server::start().await;
    let (code, out) = doctor(&s, &s.mock.url(), &["--json"]);
    assert_eq!(code, Some(0), "{out}");
    let all = statuses(&out);
    for name in [
        "login",
        "client version",
        "permissions",
        "server",
        "token endpoint",
        "backend",
        "usage endpoint",
    ] {
        assert_eq!(status_of(&all, name), "ok", "{name}: {out}");
    }
    // The mock here is plain http, and a workspace origin must be https: the check asked it and says so.
    assert_eq!(status_of(&all, "workspace routing"), "warn");
    assert!(out.contains("not https"), "{out}");
    // Not installed in the temp unit dir: a warning, not a failure.
    assert_eq!(status_of(&all, "units"), "warn");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["ok"], true);
    // No generation was spent, and no token was refreshed.
    assert_eq!(s.upstream_count(), 0);
    assert!(s.mock.token_requests().is_empty());

    let (code, text) = doctor(&s, &s.mock.url(), &[]);
    assert_eq!(code, Some(0));
    assert!(text.contains("ok    login"), "{text}");
    assert!(
        text.contains("Everything codex-serve needs works."),
        "{text}"
    );
    for secret in [&s.tokens.access_token, &s.tokens.refresh_token] {
        assert!(!out.contains(secret.as_str()) && !text.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_link_fails_with_what_to_do() {
    let mut s = Server::start().await;
    std::fs::set_permissions(s.auth_path(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(s.terminate().success());
    let (code, out) = doctor(&s, "http://127.0.0.1:9", &["--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["ok"], false);
    let all = statuses(&out);
    assert_eq!(status_of(&all, "permissions"), "fail");
    assert_eq!(status_of(&all, "server"), "fail");
    assert_eq!(status_of(&all, "backend"), "fail");
    assert_eq!(status_of(&all, "login"), "ok");
    let fix = |name: &str| {
        v["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .and_then(|c| c["fix"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        fix("permissions"),
        format!("chmod 600 {}", s.auth_path().display())
    );
    assert!(fix("server").contains("codex-serve service install"));

    let (code, text) = doctor(&s, "http://127.0.0.1:9", &[]);
    assert_eq!(code, Some(1));
    assert!(text.contains("FAIL  permissions"), "{text}");
    assert!(text.contains("fix: chmod 600"), "{text}");
    assert!(text.contains("3 checks failed."), "{text}");

    // Without a login, the login fails and the network checks that need it are skipped.
    std::fs::remove_file(s.auth_path()).expect("rm");
    let (code, out) = doctor(&s, &s.mock.url(), &["--json"]);
    assert_eq!(code, Some(1));
    let all = statuses(&out);
    assert_eq!(status_of(&all, "login"), "fail");
    assert_eq!(status_of(&all, "backend"), "skip");
    assert_eq!(status_of(&all, "token endpoint"), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_units_are_checked() {
    let s = Server::start_with(Options::default()).await;
    let units = s.run.path().join("units");
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args(["service", "install", "--unit-dir"])
        .arg(&units)
        .output()
        .expect("install");
    assert!(out.status.success());
    let (_, out) = doctor(&s, &s.mock.url(), &["--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    let units_check = v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "units").cloned())
        .expect("units");
    // Installed; whether systemd can be asked depends on the machine (no user manager in CI).
    assert!(
        units_check["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("installed in")),
        "{units_check}"
    );
    // A unit whose binary is gone fails.
    let service = units.join("codex-serve.service");
    let text = std::fs::read_to_string(&service).expect("read");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_codex-serve")).expect("exe");
    std::fs::write(
        &service,
        text.replace(&exe.display().to_string(), "/nonexistent/codex-serve"),
    )
    .expect("write");
    let (code, out) = doctor(&s, &s.mock.url(), &["--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(status_of(&statuses(&out), "units"), "fail");
}
