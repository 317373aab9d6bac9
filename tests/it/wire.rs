//! What codex-serve sends the backend, beyond what the parity tests compare with the codex CLI: the
//! client version it presents and where that comes from, the refusal of models that need a newer
//! client, the per-model headers, and the refusal of a workspace origin that is not https.

use crate::common;

use common::{Options, Server};
use serde_json::{json, Value};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn responses(s: &Server) -> Vec<codex_mock::LoggedRequest> {
    s.mock
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("/responses") && r.method == "POST")
        .collect()
}

fn uuid_v7(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)
}

#[tokio::test]
async fn a_model_that_needs_a_newer_client_is_refused_naming_both_versions() {
    let s = Server::start_with(Options {
        args: vec!["--client-version".into(), "0.150.0".into()],
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("gpt-6.2-sol")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.error();
    assert_eq!(e["code"], "client_version_too_old");
    let message = e["message"].as_str().expect("message");
    for part in [
        "0.166.0",
        "0.150.0",
        "--client-version",
        "Update the codex CLI",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(responses(&s).is_empty(), "refused before the backend");
    // gpt-5.5 needs 0.124.0: served, and the catalog was asked for with the presented version.
    let r = s.post("/v1/chat/completions", chat("gpt-5.5")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let models = s
        .mock
        .log()
        .into_iter()
        .find(|r| r.path.ends_with("/models"))
        .expect("catalog request");
    assert_eq!(models.query, "client_version=0.150.0");
    assert_eq!(models.header("version"), Some("0.150.0"));
    assert_eq!(responses(&s)[0].header("version"), Some("0.150.0"));
}

#[tokio::test]
async fn the_installed_codex_clis_version_is_presented_and_status_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = dir.path().join("codex");
    std::fs::write(&fake, "#!/bin/sh\necho codex-cli 0.180.1\n").expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let s = Server::start_with(Options {
        args: vec!["--codex-bin".into(), fake.display().to_string()],
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("gpt-6.2-sol")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = &responses(&s)[0];
    assert_eq!(up.header("version"), Some("0.180.1"));
    assert!(up.header("user-agent").is_some_and(
        |ua| ua.starts_with("codex_exec/0.180.1 (") && ua.ends_with(" (codex_exec; 0.180.1)")
    ));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args(["status", "--json", "--codex-home"])
        .arg(s.home.path())
        .args(["--upstream-url", &s.mock.url(), "--codex-bin"])
        .arg(&fake)
        .arg("--socket")
        .arg(dir.path().join("none.sock"))
        .output()
        .expect("status");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["client_version"]["version"], "0.180.1");
    assert_eq!(v["client_version"]["source"]["kind"], "codex_cli");
    assert_eq!(v["client_version"]["follows_codex_cli"], "0.171.0");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args(["models", "--codex-home"])
        .arg(s.home.path())
        .args([
            "--upstream-url",
            &s.mock.url(),
            "--client-version",
            "0.160.0",
        ])
        .output()
        .expect("models");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client version 0.160.0, from --client-version"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("gpt-6.2-sol") && l.contains("needs codex CLI 0.166.0")),
        "{text}"
    );
}

#[tokio::test]
async fn lite_and_classic_models_get_the_clis_headers_and_one_id_per_conversation() {
    let s = Server::start().await;
    for model in ["gpt-6.2-sol", "gpt-5.5"] {
        let r = s.post("/v1/chat/completions", chat(model)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let reqs = responses(&s);
    let (lite, classic) = (&reqs[0], &reqs[1]);
    assert_eq!(
        lite.header("x-openai-internal-codex-responses-lite"),
        Some("true")
    );
    assert_eq!(
        classic.header("x-openai-internal-codex-responses-lite"),
        None
    );
    assert_eq!(
        lite.header("x-codex-routing-hint"),
        Some("model=gpt-6.2-sol")
    );
    assert_eq!(
        classic.header("x-codex-routing-hint"),
        Some("model=gpt-5.5")
    );
    for r in [lite, classic] {
        assert_eq!(r.content_encoding.as_deref(), Some("zstd"));
        assert_eq!(r.header("version"), Some("0.171.0"));
        assert_eq!(
            r.header("x-codex-beta-features"),
            Some("remote_compaction_v2")
        );
        assert_eq!(r.header("accept-encoding"), Some("zstd,gzip"));
        let session = r.header("session-id").expect("session");
        assert!(uuid_v7(session), "{session}");
        assert_eq!(r.header("thread-id"), Some(session));
        assert_eq!(r.header("x-client-request-id"), Some(session));
        assert_eq!(r.body["prompt_cache_key"], session);
        assert_eq!(
            r.header("x-codex-window-id"),
            Some(format!("{session}:0").as_str())
        );
        let meta: Value =
            serde_json::from_str(r.header("x-codex-turn-metadata").expect("metadata"))
                .expect("json");
        assert_eq!(meta["session_id"], session);
        assert!(uuid_v7(meta["turn_id"].as_str().expect("turn")));
        assert_eq!(
            r.body["client_metadata"]["x-codex-turn-metadata"],
            meta.to_string()
        );
        assert!(r.body.get("instructions").is_none());
    }
    assert_eq!(lite.body["reasoning"]["context"], "all_turns");
    assert!(lite.body.get("tools").is_none());
    // Two conversations (different models), two ids; the same conversation again keeps its id.
    assert_ne!(lite.header("session-id"), classic.header("session-id"));
    let r = s.post("/v1/chat/completions", chat("gpt-6.2-sol")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        responses(&s)[2].header("session-id"),
        lite.header("session-id")
    );
}

#[tokio::test]
async fn a_workspace_origin_that_is_not_https_is_refused_with_a_reason() {
    let s = Server::start().await;
    // The http mock names a routed workspace at an http origin.
    s.mock.set_routing(Some("us"));
    let r = s.post("/v1/chat/completions", chat("gpt-6.2-sol")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let check = s
        .mock
        .log()
        .into_iter()
        .find(|r| r.path.ends_with("/wham/accounts/check"))
        .expect("the workspace was asked");
    assert_eq!(check.header("chatgpt-account-id"), Some(common::ACCOUNT));
    assert!(check.header("originator").is_none() && check.header("version").is_none());
    let up = &responses(&s)[0];
    assert!(up.header("x-openai-account-routing-override").is_none());
    assert_eq!(
        up.header("host"),
        s.mock.url().strip_prefix("http://"),
        "the default host is used"
    );
    let logs = s.logs();
    assert!(logs.contains("not https"), "{logs}");
    // Asked once, not on every request.
    let r = s.post("/v1/chat/completions", chat("gpt-6.2-sol")).await;
    assert_eq!(r.status, 200);
    let checks = s
        .mock
        .log()
        .iter()
        .filter(|r| r.path.ends_with("/wham/accounts/check"))
        .count();
    assert_eq!(checks, 1);
}

/// The backend and the token endpoint may compress what they send in the `zstd` or `gzip` the requests
/// offer (`accept-encoding: zstd,gzip`, as the CLI's do): a refresh whose answer could not be read would
/// lose a spent refresh token, and a stream that could not be read would fail every turn.
#[tokio::test]
async fn compressed_answers_are_read_tokens_streams_and_json() {
    let s = Server::start_with(Options {
        token_exp: -60,
        ..Options::default()
    })
    .await;
    s.mock.set_compress_answers(true);
    let before = s.auth_json()["tokens"]["refresh_token"].clone();
    let r = s.post("/v1/chat/completions", chat("gpt-5.5")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["choices"][0]["message"]["content"].is_string());
    let mut streamed = chat("gpt-6.2-sol");
    streamed["stream"] = json!(true);
    let r = s.post("/v1/chat/completions", streamed).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("data: [DONE]"), "{}", r.text());
    assert_ne!(
        s.auth_json()["tokens"]["refresh_token"],
        before,
        "the compressed token answer was read and saved"
    );
    let log = s.mock.log();
    let token = log
        .iter()
        .find(|r| r.path.ends_with("/oauth/token"))
        .expect("token request");
    let turns: Vec<_> = log
        .iter()
        // POSTs only: with `--upstream-transport auto` a GET upgrade to the WebSocket comes first.
        .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .collect();
    assert_eq!(turns.len(), 2);
    // The mock compressed exactly because these were offered.
    for r in turns.iter().copied().chain([token]) {
        assert!(
            r.header("accept-encoding")
                .is_some_and(|v| v.contains("zstd")),
            "{}: {:?}",
            r.path,
            r.header("accept-encoding")
        );
    }
}
