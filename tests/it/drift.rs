//! Where the APIs used to behave differently for the same thing (issue 14): the request log, the model
//! check, and a backend stream that ends before its last event. Every API now goes through one
//! preparation step and one answer driver; these tests hold each of them to the same behaviour.

use crate::common;

use codex_mock::{sse_frame, text_events, Chunk, Reply};
use common::{Options, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Each frame of the backend's answer comes this long after the one before: the backend's wait.
const DELAY_MS: u64 = 250;

fn slow_answer() -> Reply {
    common::slow_stream(&["slow ", "answer"], DELAY_MS)
}

fn request_lines(s: &Server) -> Vec<Value> {
    s.logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .map(|v| v["fields"].clone())
        .collect()
}

fn json_logs() -> Options {
    Options {
        args: vec!["--log-format".into(), "json".into()],
        ..Options::default()
    }
}

#[tokio::test]
async fn every_api_logs_its_model_and_the_backends_wait_as_not_overhead() {
    let s = Server::start_with(json_logs()).await;
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (
            "/v1/messages",
            json!({"model": "gpt-6.2-sol", "max_tokens": 50, "messages": user}),
        ),
        (
            "/v1/messages",
            json!({"model": "gpt-6.2-sol", "max_tokens": 50, "stream": true, "messages": user}),
        ),
        (
            "/api/chat",
            json!({"model": "gpt-6.2-sol", "messages": user}),
        ),
        (
            "/api/generate",
            json!({"model": "gpt-6.2-sol", "prompt": "hi", "stream": false}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "hi", "stream": true}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "gpt-6.2-sol", "stream": true, "messages": user}),
        ),
    ];
    for (path, body) in &cases {
        s.mock.push(slow_answer());
        let r = s.post(path, body.clone()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let overhead: f64 = r
            .header("x-codex-serve-overhead-ms")
            .expect("overhead header")
            .parse()
            .expect("a number");
        // The backend's first frame alone took DELAY_MS: none of that is codex-serve's overhead.
        assert!(
            overhead < DELAY_MS as f64 * 0.6,
            "{path} {body}: overhead {overhead} ms counts the backend's wait"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines = request_lines(&s);
    assert_eq!(lines.len(), cases.len(), "{lines:?}");
    for (line, (path, _)) in lines.iter().zip(&cases) {
        assert_eq!(line["route"], *path, "{line}");
        assert_eq!(line["model"], "gpt-6.2-sol", "{line}");
        let ttfb = line["upstream_ttfb_ms"].as_f64().unwrap_or(0.0);
        assert!(ttfb >= DELAY_MS as f64 * 0.9, "{path}: {line}");
        assert!(line["total_ms"].as_f64() >= line["upstream_ttfb_ms"].as_f64());
    }

    // A WebSocket turn is a request of its own: one line each, with its model and the backend's wait.
    let stream = tokio::net::UnixStream::connect(&s.socket)
        .await
        .expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async("ws://localhost/v1/responses", stream)
        .await
        .expect("websocket handshake");
    s.mock.push(slow_answer());
    let create = json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "hi"});
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg.expect("frame") {
            let v: Value = serde_json::from_str(&t).expect("json");
            if v["type"] == "response.completed" {
                break;
            }
            assert_ne!(v["type"], "error", "{v}");
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines = request_lines(&s);
    let turn = lines
        .iter()
        .find(|l| l["route"] == "/v1/responses" && l["method"] == "WS")
        .unwrap_or_else(|| panic!("no line for the WebSocket turn: {lines:?}"));
    assert_eq!(turn["model"], "gpt-6.2-sol", "{turn}");
    assert!(
        turn["upstream_ttfb_ms"].as_f64().unwrap_or(0.0) >= DELAY_MS as f64 * 0.9,
        "{turn}"
    );
    assert!(
        turn["completion_tokens"].as_u64().is_some_and(|n| n > 0),
        "{turn}"
    );
    assert_eq!(turn["complete"], true, "{turn}");
}

#[tokio::test]
async fn every_api_refuses_a_model_the_login_lacks_with_the_same_error() {
    let s = Server::start().await;
    let user = json!([{"role": "user", "content": "hi"}]);
    let before = s.upstream_count();
    let openai = [
        (
            "/v1/chat/completions",
            json!({"model": "no-such-model", "messages": user}),
        ),
        (
            "/v1/responses",
            json!({"model": "no-such-model", "input": "hi"}),
        ),
        (
            "/v1/responses",
            json!({"model": "no-such-model", "input": "hi", "stream": true}),
        ),
    ];
    let mut messages = Vec::new();
    for (path, body) in openai {
        let r = s.post(path, body).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.error()["code"], "model_not_found", "{path}");
        assert_eq!(r.error()["param"], "model", "{path}");
        messages.push(r.error()["message"].as_str().unwrap_or("").to_owned());
    }
    let r = s
        .post(
            "/api/chat",
            json!({"model": "no-such-model", "messages": user}),
        )
        .await;
    assert_eq!(r.status, 404);
    messages.push(r.json()["error"].as_str().unwrap_or("").to_owned());
    let r = s
        .post(
            "/v1/messages",
            json!({"model": "no-such-model", "max_tokens": 5, "messages": user}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");
    messages.push(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    );
    assert!(
        messages
            .iter()
            .all(|m| m == "model 'no-such-model' not found"),
        "{messages:?}"
    );
    // Refused here: nothing went to the backend.
    assert_eq!(s.upstream_count(), before);
}

/// The backend's answer without its last event, then the end of the body.
fn cut_short() -> Reply {
    let events = text_events("resp_cut", &["half ", "an answer"], (3, 0, 3, 0));
    let n = events.len() - 1;
    Reply::Sse {
        headers: vec![],
        chunks: events[..n]
            .iter()
            .map(|e| Chunk::now(sse_frame(e)))
            .collect(),
    }
}

#[tokio::test]
async fn a_stream_the_backend_ends_early_ends_with_an_error_on_every_api() {
    let s = Server::start().await;
    s.mock.push(cut_short());
    let r = s
        .post("/v1/chat/completions", common::chat_stream("x"))
        .await;
    let data = r.sse_data();
    assert!(!data.iter().any(|d| d == "[DONE]"), "{data:?}");
    let last: Value = serde_json::from_str(data.last().expect("frames")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_error", "{data:?}");

    s.mock.push(cut_short());
    let r = s
        .post(
            "/api/chat",
            json!({"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let lines = r.ndjson();
    assert!(
        lines.last().is_some_and(|l| l["error"].is_string()),
        "{lines:?}"
    );

    s.mock.push(cut_short());
    let r = s
        .post(
            "/v1/messages",
            json!({"model": "gpt-6.2-sol", "max_tokens": 5, "stream": true,
                   "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let events = r.sse_events();
    assert!(
        events.last().is_some_and(|(name, _)| name == "error"),
        "{events:?}"
    );

    s.mock.push(cut_short());
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x", "stream": true}),
        )
        .await;
    let events = r.sse_events();
    assert!(
        events.last().is_some_and(|(name, _)| name == "error"),
        "{events:?}"
    );
}

/// A WebSocket turn's log line comes out of the HTTP request's code path, so it carries the same fields
/// (it used to have its own, which left out the limits left).
#[tokio::test]
async fn a_websocket_turn_is_logged_with_the_fields_of_an_http_request() {
    let s = Server::start_with(json_logs()).await;
    let r = s.post("/v1/chat/completions", common::chat("hi")).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let stream = tokio::net::UnixStream::connect(&s.socket)
        .await
        .expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async("ws://localhost/v1/responses", stream)
        .await
        .expect("websocket handshake");
    let create = json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "hi"});
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg.expect("frame") {
            let v: Value = serde_json::from_str(&t).expect("json");
            assert_ne!(v["type"], "error", "{v}");
            if v["type"] == "response.completed" {
                break;
            }
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines = request_lines(&s);
    let find = |method: &str| {
        lines
            .iter()
            .find(|l| l["method"] == method)
            .unwrap_or_else(|| panic!("no {method} line: {lines:?}"))
            .clone()
    };
    let (http, turn) = (find("POST"), find("WS"));
    let fields = |l: &Value| {
        l.as_object()
            .map(|o| o.keys().cloned().collect::<std::collections::BTreeSet<_>>())
            .unwrap_or_default()
    };
    assert_eq!(fields(&turn), fields(&http), "{turn}\n{http}");
    let left = turn["limit_left_pct"].as_f64().expect("limit left");
    assert!((0.0..=100.0).contains(&left), "{turn}");
    assert_eq!(turn["transport"], "websocket", "{turn}");
}
