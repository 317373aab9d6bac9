//! The shared login: refresh once for many, atomic 0600 write-back keeping unknown fields, the codex CLI
//! rewriting the file, refresh tokens reused, and no login at all.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use codex_mock::TokenReply;
use common::{chat, write_auth, Options, Server, ACCOUNT};
use serde_json::json;

fn responses(s: &Server) -> Vec<codex_mock::RecordedRequest> {
    s.mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/responses")
        .collect()
}

#[tokio::test]
async fn twelve_concurrent_requests_with_an_expired_token_refresh_once() {
    let s = Server::start_with(Options {
        token_exp: -60,
        ..Options::default()
    })
    .await;
    let before = s.auth_json();
    let mut tasks = Vec::new();
    let s = std::sync::Arc::new(s);
    for i in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post("/v1/chat/completions", chat(&format!("req {i}")))
                .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(s.mock.token_requests().len(), 1, "refreshed more than once");
    let sent = &s.mock.token_requests()[0];
    assert_eq!(sent["grant_type"], "refresh_token");
    assert_eq!(sent["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(sent["refresh_token"], before["tokens"]["refresh_token"]);

    let after = s.auth_json();
    assert_ne!(
        after["tokens"]["access_token"],
        before["tokens"]["access_token"]
    );
    assert_ne!(
        after["tokens"]["refresh_token"],
        before["tokens"]["refresh_token"]
    );
    assert_ne!(after["last_refresh"], before["last_refresh"]);
    // Fields we do not know, and the ones we do not change, are kept as they were.
    assert_eq!(after["agent_identity"], json!({"kept": true}));
    assert_eq!(after["auth_mode"], "chatgpt");
    assert_eq!(after["OPENAI_API_KEY"], json!(null));
    assert_eq!(after["tokens"]["account_id"], ACCOUNT);
    let mode = std::fs::metadata(s.auth_path())
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Every upstream request used the new token.
    let new_bearer = format!(
        "Bearer {}",
        after["tokens"]["access_token"].as_str().expect("token")
    );
    assert!(responses(&s)
        .iter()
        .all(|r| r.header("authorization") == Some(new_bearer.as_str())));
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(s.home.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".auth.json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // No token in the logs, even at -vv.
    let logs = s.logs();
    for t in [
        &before["tokens"]["access_token"],
        &before["tokens"]["refresh_token"],
        &after["tokens"]["access_token"],
        &after["tokens"]["refresh_token"],
    ] {
        assert!(
            !logs.contains(t.as_str().expect("token")),
            "a token leaked into the logs"
        );
    }
}

#[tokio::test]
async fn a_login_rewritten_by_another_process_is_picked_up() {
    let s = Server::start().await;
    assert_eq!(
        s.post("/v1/chat/completions", chat("one")).await.status,
        200
    );
    // The codex CLI refreshed on its own and rewrote the file (truncate and write, no lock).
    let fresh = s.mock.issue_tokens(ACCOUNT, 3600);
    write_auth(s.home.path(), &fresh, json!({}));
    assert_eq!(
        s.post("/v1/chat/completions", chat("two")).await.status,
        200
    );
    let last = responses(&s).pop().expect("request");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {}", fresh.access_token).as_str())
    );
    assert!(s.mock.token_requests().is_empty(), "no refresh was needed");
}

#[tokio::test]
async fn a_half_written_file_is_retried_not_fatal() {
    let s = Server::start().await;
    let path = s.auth_path();
    let full = std::fs::read(&path).expect("read");
    // Truncated as the CLI's truncate-then-write leaves it for a moment; completed 60 ms later.
    std::fs::write(&path, &full[..full.len() / 2]).expect("truncate");
    let writer = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            std::fs::write(&path, &full).expect("complete");
        })
    };
    let r = s
        .post("/v1/chat/completions", chat("during a rewrite"))
        .await;
    writer.await.expect("writer");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn refresh_token_reused_adopts_the_clis_newer_login() {
    let s = Server::start_with(Options {
        token_exp: -60,
        ..Options::default()
    })
    .await;
    let mine = s.auth_json();
    // The codex CLI spends the same refresh token first…
    let (status, cli_tokens) = common::post_tcp(
        &format!("{}/oauth/token", s.mock.auth_url()),
        json!({"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token",
               "refresh_token": mine["tokens"]["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 200);
    let server = std::sync::Arc::new(s);
    let req = {
        let s = server.clone();
        tokio::spawn(async move { s.post("/v1/chat/completions", chat("race")).await })
    };
    // …and writes its file while our refresh request is in flight.
    while server.mock.token_requests().len() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut doc = mine.clone();
    doc["tokens"]["access_token"] = cli_tokens["access_token"].clone();
    doc["tokens"]["refresh_token"] = cli_tokens["refresh_token"].clone();
    doc["tokens"]["id_token"] = cli_tokens["id_token"].clone();
    std::fs::write(server.auth_path(), doc.to_string()).expect("cli write");

    let r = req.await.expect("task");
    assert_eq!(r.status, 200, "{}", r.text());
    let last = responses(&server).pop().expect("upstream");
    let expected = format!(
        "Bearer {}",
        cli_tokens["access_token"].as_str().expect("token")
    );
    assert_eq!(last.header("authorization"), Some(expected.as_str()));
    assert_eq!(
        server.auth_json()["tokens"]["refresh_token"],
        cli_tokens["refresh_token"]
    );
}

#[tokio::test]
async fn a_refused_refresh_leaves_the_file_alone_and_says_to_log_in() {
    let s = Server::start_with(Options {
        token_exp: -60,
        ..Options::default()
    })
    .await;
    let before = std::fs::read(s.auth_path()).expect("read");
    s.mock.push_token_reply(TokenReply::Status {
        status: 401,
        body: json!({"error": {"code": "refresh_token_invalidated", "message": "invalidated"}}),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 401);
    let e = r.error();
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("codex login")),
        "{e}"
    );
    assert_eq!(e["code"], "codex_login_expired");
    assert_eq!(
        std::fs::read(s.auth_path()).expect("read"),
        before,
        "auth.json changed"
    );
    assert!(responses(&s).is_empty());

    // `codex login` writes a fresh login: picked up without a restart.
    let fresh = s.mock.issue_tokens(ACCOUNT, 3600);
    write_auth(s.home.path(), &fresh, json!({}));
    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 200);
}

#[tokio::test]
async fn no_login_is_a_401_that_says_what_to_do() {
    let s = Server::start_with(Options {
        write_auth: false,
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 401);
    let e = r.error();
    assert_eq!(e["code"], "codex_login_required");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("run `codex login`")),
        "{e}"
    );
}

#[tokio::test]
async fn api_key_mode_sends_the_key_and_no_account() {
    let s = Server::start_with(Options {
        write_auth: false,
        ..Options::default()
    })
    .await;
    std::fs::write(
        s.auth_path(),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-key"}).to_string(),
    )
    .expect("write");
    let r = s.post("/v1/chat/completions", chat("with a key")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = responses(&s).pop().expect("upstream");
    assert_eq!(up.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(up.header("chatgpt-account-id"), None);
}
