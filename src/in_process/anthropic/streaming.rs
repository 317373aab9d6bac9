//! The SSE event sequence and keep-alive pings.

use super::*;
use codex_mock::{sse_frame, text_events, Chunk, Reply};
use serde_json::{json, Value};

#[tokio::test]
async fn streaming_has_anthropics_exact_event_sequence() {
    let s = Server::start().await;
    let mut body = msg("claude-opus-4-5", "Count to three");
    body["stream"] = json!(true);
    let r = s.post("/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = r.sse_events();
    check_sequence(&events);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..3], ["message_start", "ping", "content_block_start"]);
    let start = &events[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert!(start["usage"]["input_tokens"]
        .as_u64()
        .is_some_and(|n| n > 0));
    assert_eq!(
        events[2].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(
        deltas(&events, "text_delta", "text"),
        "echo: Count to three"
    );
    let (_, delta) = events
        .iter()
        .find(|(n, _)| n == "message_delta")
        .expect("message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 4);
    assert!(delta["usage"]["input_tokens"].is_u64());
}

#[tokio::test]
async fn a_silent_backend_gets_pings_in_the_stream() {
    let s = Server::start().await;
    let events = text_events("resp_slow", &["slow ", "answer"], (1, 0, 2, 0));
    // The message starts, then the backend says nothing for a while (as when it reasons at length).
    let chunks: Vec<Chunk> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Chunk::delayed(sse_frame(e), if i == 3 { 10_500 } else { 0 }))
        .collect();
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks,
    });
    let mut body = msg("gpt-6.2-sol", "x");
    body["stream"] = json!(true);
    let r = s.post("/v1/messages", body).await;
    let events = r.sse_events();
    check_sequence(&events);
    let pings = events.iter().filter(|(n, _)| n == "ping").count();
    assert!(
        pings >= 2,
        "one after message_start, one in the silence: {events:?}"
    );
    assert_eq!(deltas(&events, "text_delta", "text"), "slow answer");
}
