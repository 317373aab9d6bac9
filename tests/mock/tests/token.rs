//! The token endpoint's scenarios: a delayed answer (the token is spent on arrival), short-lived access
//! tokens, rotation with `refresh_token_reused` on reuse, and the log and counts the login tests read.

use std::time::{Duration, Instant};

use codex_mock::{jwt, MockCodex, TokenOutcome, TokenScenario};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `POST /oauth/token` over a fresh connection; (status, JSON body).
async fn refresh(mock: &MockCodex, token: &str) -> (u16, Value) {
    let body = json!({"client_id": "app_x", "grant_type": "refresh_token", "refresh_token": token})
        .to_string();
    let addr = mock.url().trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: {addr}\r\noriginator: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    tcp.write_all(body.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8");
    let status = text[9..12].parse().expect("status");
    let (_, body) = text.split_once("\r\n\r\n").expect("head");
    (status, serde_json::from_str(body).expect("json"))
}

fn exp_of(access_token: &Value) -> i64 {
    use base64::Engine as _;
    let payload = access_token
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .expect("jwt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    let claims: Value = serde_json::from_slice(&bytes).expect("claims");
    claims["exp"].as_i64().expect("exp")
}

#[tokio::test]
async fn a_delayed_answer_spends_the_token_on_arrival_and_short_lifetimes_apply() {
    let mock = MockCodex::start().await;
    let first = mock.issue_tokens("acct-1", -10);
    assert_eq!(
        mock.current_refresh_token("acct-1").as_deref(),
        Some(first.refresh_token.as_str())
    );
    mock.set_token_scenario(TokenScenario {
        delay: Duration::from_millis(600),
        access_lifetime_secs: 90,
    });
    let started = Instant::now();
    let slow = refresh(&mock, &first.refresh_token);
    // The second request with the same token arrives while the first answer is still waiting.
    let racer = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        refresh(&mock, &first.refresh_token).await
    };
    let ((status, rotated), (racer_status, racer_body)) = tokio::join!(slow, racer);
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(status, 200);
    assert_eq!(racer_status, 401);
    assert_eq!(racer_body["error"]["code"], "refresh_token_reused");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let exp = exp_of(&rotated["access_token"]);
    assert!((now + 85..=now + 95).contains(&exp), "exp {exp}, now {now}");
    assert_eq!(
        mock.current_refresh_token("acct-1").as_deref(),
        rotated["refresh_token"].as_str()
    );

    let stats = mock.token_stats();
    assert_eq!((stats.requests, stats.refreshed, stats.reused), (2, 1, 1));
    let log = mock.token_log();
    assert_eq!(log[0].outcome, TokenOutcome::Refreshed);
    assert_eq!(log[1].outcome, TokenOutcome::Reused);
    assert_eq!(log[0].header("originator"), Some("test"));
    assert_eq!(log[1].refresh_token(), Some(first.refresh_token.as_str()));

    let (status, _) = refresh(&mock, &jwt(&json!({"not": "issued"}))).await;
    assert_eq!(status, 401);
    assert_eq!(mock.token_stats().failed, 1);
}
