//! `codex-serve status` and `codex-serve models`, run as a user would, against a running server and the
//! mock backend.

use crate::common;

use std::process::Command;

use common::{chat, Options, Server};
use serde_json::Value;

/// The mock backend runs on the test's runtime: a multi-threaded one keeps it serving while a command
/// blocks this thread.
fn run(s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args(args)
        .arg("--socket")
        .arg(&s.socket)
        .arg("--codex-home")
        .arg(s.home.path())
        .arg("--upstream-url")
        .arg(s.mock.url())
        .arg("--auth-url")
        .arg(s.mock.auth_url())
        .env_remove("CODEX_SERVE_LOG")
        .envs(common::clean_env(s.run.path()))
        .output()
        .expect("run codex-serve");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_before_and_after_requests() {
    let s = Server::start().await;
    let (ok, out, err) = run(&s, &["status"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ChatGPT: dev@example.com (plus plan)"),
        "{out}"
    );
    assert!(out.contains(common::ACCOUNT), "{out}");
    assert!(out.contains("token     expires in"), "{out}");
    assert!(out.contains("answering (codex-serve"), "{out}");
    // Before any request, from the usage endpoint, with the plan's credits.
    assert!(out.contains(" 20.0% used of 5h, resets in"), "{out}");
    assert!(out.contains(" 45.0% used of 7d"), "{out}");
    assert!(out.contains("credits   17.25 left"), "{out}");
    assert!(out.contains("from the usage endpoint"), "{out}");

    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 200);
    let (_, out, _) = run(&s, &["status"]);
    assert!(out.contains("primary   [###---------"), "{out}");
    assert!(out.contains("from an answer's headers"), "{out}");
    assert!(out.contains("12.5% used of 5h, resets in"), "{out}");
    assert!(out.contains(" 40.0% used of 7d"), "{out}");

    // After a usage-limit 429 the bars say so.
    assert_eq!(
        s.post("/v1/chat/completions", chat("mock:usage_limit"))
            .await
            .status,
        429
    );
    let (_, out, _) = run(&s, &["status", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["login"]["logged_in"], true);
    assert_eq!(v["login"]["email"], "dev@example.com");
    assert_eq!(v["socket"]["answering"], true);
    assert_eq!(v["limits"]["primary"]["used_percent"], 100.0);
    for secret in [
        &s.tokens.access_token,
        &s.tokens.refresh_token,
        &s.tokens.id_token,
    ] {
        assert!(!out.contains(secret.as_str()), "status printed a token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_without_a_server_or_a_login() {
    let mut s = Server::start_with(Options {
        write_auth: false,
        ..Options::default()
    })
    .await;
    let (ok, out, _) = run(&s, &["status"]);
    assert!(ok);
    assert!(
        out.contains("not logged in:") && out.contains("codex login"),
        "{out}"
    );
    assert!(s.terminate().success());
    let (ok, out, _) = run(&s, &["status", "--json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["socket"]["answering"], false);
    assert_eq!(v["login"]["logged_in"], false);
    assert!(v["login"]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("codex login")));
    let (_, out, _) = run(&s, &["status"]);
    assert!(out.contains("no server answers on this socket"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_online_and_offline() {
    let s = Server::start().await;
    let (ok, out, err) = run(&s, &["models"]);
    assert!(ok, "{err}");
    assert!(out.contains("from the backend"), "{out}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("gpt-5.6-luna"))
        .expect("mini listed");
    assert!(line.contains("medium, high"), "{line}");
    let (_, out, _) = run(&s, &["models", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    // Fetched a moment ago by the first run: the per-account disk cache answers.
    assert_eq!(v["source"], "disk_cache");
    assert!(v["models"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["id"] == "gpt-5.5")));

    // Offline with no cache: the built-in list, and it says so.
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args([
            "models",
            "--json",
            "--upstream-retries",
            "0",
            "--upstream-url",
            "http://127.0.0.1:9",
            "--codex-home",
        ])
        .arg(tempfile::tempdir().expect("tmp").path())
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["source"], "fallback");
    assert!(v["models"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["id"] == "gpt-6.2-astra")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_asks_the_usage_endpoint_itself_when_no_server_runs() {
    let mut s = Server::start_with(Options {
        codex_config: Some("model = \"gpt-5.5\"\n".into()),
        ..Options::default()
    })
    .await;
    assert!(s.terminate().success());
    let (ok, out, err) = run(&s, &["status"]);
    assert!(ok, "{err}");
    assert!(out.contains("no server answers on this socket"), "{out}");
    assert!(out.contains(" 20.0% used of 5h"), "{out}");
    assert!(out.contains("took model"), "{out}");
    let (_, out, _) = run(&s, &["status", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["limits"]["source"], "usage");
    assert_eq!(v["limits"]["credits"]["has_credits"], true);
    assert_eq!(v["settings"]["codex_cli"]["taken"][0]["key"], "model");
    assert_eq!(s.mock.usage_asks(), 2);
}
