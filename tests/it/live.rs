//! Against the real Codex backend with the real login in ~/.codex (or $CODEX_HOME). Not run by default:
//! `cargo test --test live -- --ignored` on a machine where `codex login` has been done.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::chat;

#[tokio::test]
#[ignore = "needs a real `codex login` and network access"]
async fn live_chat_with_the_real_backend() {
    let run = tempfile::tempdir().expect("tmp");
    let socket = run.path().join("live.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = hyper_util::client::legacy::Client::unix();
    let mut body = chat("Reply with the single word: pong");
    body["model"] =
        serde_json::json!(std::env::var("CODEX_SERVE_LIVE_MODEL").unwrap_or("gpt-5.6-luna".into()));
    let req = hyper::Request::post(hyperlocal::Uri::new(&socket, "/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("request");
    use hyperlocal::UnixClientExt;
    let resp: hyper::Response<hyper::body::Incoming> = client.request(req).await.expect("send");
    let status = resp.status();
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .is_some_and(|t| t.to_lowercase().contains("pong")));
}
