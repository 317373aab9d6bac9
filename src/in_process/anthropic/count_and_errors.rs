//! `count_tokens` and errors in Anthropic's shape.

use super::*;
use codex_mock::{sse_frame, sse_reply, text_events, Chunk, Reply};
use serde_json::json;

#[tokio::test]
async fn count_tokens_is_an_estimate_without_the_backend() {
    let s = Server::start().await;
    let small =
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]});
    let r = s.post("/v1/messages/count_tokens", small).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json()["input_tokens"].as_u64().expect("count");
    let big = json!({"model": "claude-sonnet-4-5", "system": "You are terse.",
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "Hi ".repeat(400)}]});
    let b = s.post("/v1/messages/count_tokens", big).await.json()["input_tokens"]
        .as_u64()
        .expect("count");
    assert!(a > 0 && b > a + 250, "{a} {b}");
    assert_eq!(s.upstream_count(), 0);
}

#[tokio::test]
async fn errors_have_anthropics_shape() {
    let s = Server::start().await;
    let check = |r: &common::Reply, status: u16, kind: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = r.json();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    };
    let r = s
        .post("/v1/messages", msg("gpt-6.2-sol", "mock:usage_limit"))
        .await;
    check(&r, 429, "rate_limit_error");
    assert!(r.header("retry-after").is_some());

    let r = s.raw("POST", "/v1/messages", &[], b"{oops".to_vec()).await;
    check(&r, 400, "invalid_request_error");
    let r = s
        .post(
            "/v1/messages",
            json!({"model": "gpt-6.2-sol", "max_tokens": 5}),
        )
        .await;
    check(&r, 400, "invalid_request_error");
    assert!(r.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("messages")));
    let r = s.request("GET", "/v1/messages", None).await;
    check(&r, 405, "invalid_request_error");
    let big = vec![b' '; 9 * 1024 * 1024];
    let r = s.raw("POST", "/v1/messages", &[], big).await;
    check(&r, 413, "request_too_large");

    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"error":{"code":"server_is_overloaded","message":"Overloaded, try later."}}}),
    ]));
    let r = s.post("/v1/messages", msg("gpt-6.2-sol", "x")).await;
    check(&r, 503, "overloaded_error");

    // Cut after the first words: an `error` event, and no message_stop.
    let events = text_events("resp_cut", &["partial ", "answer"], (1, 0, 1, 0));
    let cut: Vec<Chunk> = events
        .iter()
        .take_while(|e| e["type"] != "response.output_text.done")
        .take(5)
        .map(|e| Chunk::now(sse_frame(e)))
        .collect();
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks: cut,
    });
    let mut body = msg("gpt-6.2-sol", "x");
    body["stream"] = json!(true);
    let r = s.post("/v1/messages", body).await;
    assert_eq!(r.status, 200);
    let events = r.sse_events();
    assert!(!events.iter().any(|(n, _)| n == "message_stop"));
    let (name, data) = events.last().expect("events");
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
}
