//! The Anthropic Messages API end to end: the real binary on a Unix socket, a hyper client, the mock
//! backend.

use crate::common;

use codex_mock::{sse_frame, sse_reply, text_events, Chunk, Reply};
use common::{Options, Server};
use serde_json::{json, Value};

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn msg(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": text}]})
}

/// Checks the SSE frames are Anthropic's: each `event:` name is its data's `type`, blocks open and
/// close in turn, and the message ends with `message_delta` then `message_stop`.
fn check_sequence(events: &[(String, Value)]) {
    assert!(!events.is_empty());
    for (name, data) in events {
        assert_eq!(data["type"], name.as_str(), "{data}");
    }
    assert_eq!(events[0].0, "message_start");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block started while another was open");
                assert_eq!(data["index"], next);
                open = data["index"].as_u64();
                next += 1;
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open),
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(open, None);
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
}

fn deltas(events: &[(String, Value)], kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == kind)
        .filter_map(|(_, d)| d["delta"][field].as_str())
        .collect()
}

#[tokio::test]
async fn a_message_with_claude_codes_model_names() {
    let s = Server::start().await;
    let body = json!({"model": "claude-opus-4-5-20251101", "max_tokens": 1024, "temperature": 0.5,
        "top_k": 5, "stop_sequences": ["\n\nHuman:"],
        "system": [{"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "user_abc_account__session_123"},
        "messages": [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": [{"type": "text", "text": "Bonjour"}]},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]}]});
    let r = s
        .raw(
            "POST",
            "/v1/messages",
            &[("anthropic-version", "2023-06-01"), ("x-api-key", "unused")],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("request-id").is_some());
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    assert_eq!(v["model"], "gpt-5.5", "the Codex model that answered");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "echo: How are you?"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    let u = &v["usage"];
    assert!(u["input_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(u["output_tokens"], 4);
    assert_eq!(u["cache_creation_input_tokens"], 0);
    assert_eq!(u["cache_read_input_tokens"], 0);

    let b = s.last_upstream().body;
    assert_eq!(b["model"], "gpt-5.5");
    assert_eq!(common::sent_instructions(&b), "Answer in French.");
    // The conversation's key becomes its UUIDv7, the codex CLI's prompt_cache_key and session-id.
    let session = b["prompt_cache_key"]
        .as_str()
        .expect("cache key")
        .to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&session)
            .expect("uuid")
            .get_version_num(),
        7
    );
    assert_eq!(
        s.last_upstream().header("session-id"),
        Some(session.as_str())
    );
    for dropped in [
        "temperature",
        "top_k",
        "stop_sequences",
        "max_tokens",
        "max_output_tokens",
        "metadata",
    ] {
        assert!(b.get(dropped).is_none(), "{dropped} reached the backend");
    }
    let roles: Vec<String> = common::conversation(&b)
        .iter()
        .filter_map(|i| i["role"].as_str().map(String::from))
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);

    // The same session again: the backend's cache is counted apart, as Anthropic does.
    let r = s.post("/v1/messages", body).await;
    let u = &r.json()["usage"];
    assert!(
        u["cache_read_input_tokens"].as_u64().is_some_and(|n| n > 0),
        "{u}"
    );

    // A mapped name the account lacks says so, and how to fix it.
    let r = s
        .post("/v1/messages", msg("claude-sonnet-4-5-20250929", "x"))
        .await;
    assert_eq!(r.status, 404);
    let e = r.json();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "not_found_error");
    let m = e["error"]["message"].as_str().unwrap_or("");
    assert!(
        m.contains("gpt-6.1-terra") && m.contains("--model-map"),
        "{m}"
    );

    // A Codex name passes through.
    let r = s.post("/v1/messages", msg("gpt-6.2-sol", "direct")).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.last_upstream().body["model"], "gpt-6.2-sol");
}

#[tokio::test]
async fn the_model_map_is_configurable() {
    let s = Server::start_with(Options {
        args: vec![
            "--model-map".into(),
            "claude-*sonnet*=gpt-6.2-sol:high".into(),
            "--model-map".into(),
            "claude-haiku-4-5=gpt-5.6-luna".into(),
        ],
        ..Options::default()
    })
    .await;
    let r = s
        .post("/v1/messages", msg("claude-sonnet-4-5-20250929", "x"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "gpt-6.2-sol");
    let b = s.last_upstream().body;
    assert_eq!(b["model"], "gpt-6.2-sol");
    assert_eq!(b["reasoning"]["effort"], "high");
    let r = s.post("/v1/messages", msg("claude-haiku-4-5", "x")).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.last_upstream().body["model"], "gpt-5.6-luna");
    // Defaults still apply after the user's rules.
    let r = s.post("/v1/messages", msg("claude-opus-4-5", "x")).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.last_upstream().body["model"], "gpt-5.5");
}

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
async fn thinking_blocks_carry_the_reasoning_back() {
    let s = Server::start().await;
    let mut body = msg("gpt-6.2-sol", "mock:reasoning fine");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 10000});
    let r = s.post("/v1/messages", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let content = v["content"].as_array().expect("content").clone();
    assert_eq!(content.len(), 2, "{v}");
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], "thinking about it");
    let sig = content[0]["signature"]
        .as_str()
        .expect("signature")
        .to_owned();
    assert!(sig.starts_with("codex-serve.reasoning.v1:"), "{sig}");
    assert_eq!(content[1], json!({"type": "text", "text": "echo: fine"}));
    let up = s.last_upstream().body;
    assert_eq!(up["reasoning"]["effort"], "medium", "10k tokens of budget");
    assert_eq!(up["reasoning"]["summary"], "auto");
    // The backend's reasoning tokens are Anthropic's thinking tokens.
    assert_eq!(v["usage"]["output_tokens_details"]["thinking_tokens"], 3);

    // Streaming: thinking_delta, then signature_delta just before the block stops.
    body["stream"] = json!(true);
    let r = s.post("/v1/messages", body).await;
    let events = r.sse_events();
    check_sequence(&events);
    assert_eq!(
        events[2].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        deltas(&events, "thinking_delta", "thinking"),
        "thinking about it"
    );
    let sig_at = events
        .iter()
        .position(|(_, d)| d["delta"]["type"] == "signature_delta")
        .expect("signature_delta");
    assert_eq!(events[sig_at + 1].0, "content_block_stop");
    assert_eq!(events[sig_at + 1].1["index"], 0);

    // The client replays its thinking block: the encrypted reasoning goes back upstream.
    let replay = json!({"model": "gpt-6.2-sol", "max_tokens": 100,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": "mock:reasoning fine"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "and now?"}]});
    let r = s.post("/v1/messages", replay).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = s.last_upstream().body;
    let up = json!({"input": common::conversation(&sent), "reasoning": sent["reasoning"]});
    assert_eq!(up["input"][1]["type"], "reasoning");
    assert_eq!(
        format!(
            "codex-serve.reasoning.v1:{}",
            up["input"][1]["encrypted_content"].as_str().unwrap_or("")
        ),
        sig
    );
    assert_eq!(up["reasoning"]["effort"], "low");

    // Without `thinking`, no thinking blocks and no summary asked for.
    let r = s
        .post("/v1/messages", msg("gpt-6.2-sol", "mock:reasoning fine"))
        .await;
    let v = r.json();
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "echo: fine"}])
    );
    assert!(s.last_upstream().body["reasoning"].get("summary").is_none());

    // `output_config.effort` and `display: omitted`.
    let mut body = msg("gpt-5.5", "mock:reasoning fine");
    body["thinking"] = json!({"type": "adaptive", "display": "omitted"});
    body["output_config"] = json!({"effort": "max"});
    let v = s.post("/v1/messages", body).await.json();
    assert_eq!(v["content"][0]["type"], "thinking");
    assert_eq!(v["content"][0]["thinking"], "");
    assert!(v["content"][0]["signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(s.last_upstream().body["reasoning"]["effort"], "xhigh");
}

#[tokio::test]
async fn a_tool_round_trip() {
    let s = Server::start().await;
    let tools = json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let body = json!({"model": "gpt-6.2-sol", "max_tokens": 100, "tools": tools,
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [{"role": "user", "content": "mock:tool get_weather {\"city\":\"Oslo\"}"}]});
    let r = s.post("/v1/messages", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["content"],
        json!([{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}])
    );
    let up = s.last_upstream().body;
    assert_eq!(up["tool_choice"], "required");
    assert_eq!(up["parallel_tool_calls"], false);
    let sent = common::sent_tools(&up);
    assert_eq!(sent[0]["name"], "get_weather");
    assert_eq!(sent[0]["parameters"]["required"], json!(["city"]));

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let events = s.post("/v1/messages", streamed).await.sse_events();
    check_sequence(&events);
    let start = events
        .iter()
        .find(|(n, _)| n == "content_block_start")
        .expect("start");
    assert_eq!(
        start.1["content_block"],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}})
    );
    let json_text = deltas(&events, "input_json_delta", "partial_json");
    assert_eq!(json_text, "{\"city\":\"Oslo\"}");
    let pieces = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .count();
    assert!(pieces > 1, "arguments stream in increments");

    // The client runs the tool and answers with a tool_result.
    let body = json!({"model": "gpt-6.2-sol", "max_tokens": 100, "tools": tools,
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "-3 C"}]},
                {"type": "text", "text": "Is that cold?"}]}]});
    let r = s.post("/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = s.last_upstream().body;
    let items = common::conversation(&up);
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "function_call",
            "function_call_output",
            "message"
        ]
    );
    assert_eq!(items[2]["call_id"], "call_1");
    assert_eq!(items[2]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(items[3]["call_id"], "call_1");
    assert_eq!(items[3]["output"], "-3 C");
    assert_eq!(
        up["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
}

#[tokio::test]
async fn images_by_data_and_by_url() {
    let s = Server::start().await;
    let body = json!({"model": "gpt-6.2-sol", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "What are these?"}]}]});
    let r = s.post("/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let parts = common::conversation(&s.last_upstream().body)[0]["content"].clone();
    assert_eq!(parts[0]["type"], "input_image");
    assert_eq!(
        parts[0]["image_url"],
        format!("data:image/png;base64,{PNG}")
    );
    assert_eq!(parts[1]["image_url"], "https://example.com/cat.jpg");
    assert_eq!(parts[2]["text"], "What are these?");
}

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

/// Claude Code 2.1 with its default models sends the `mid-conversation-system` beta and `system`
/// messages after the user's turn: they reach the backend as developer messages in place.
#[tokio::test]
async fn system_messages_mid_conversation_as_claude_code_sends_them() {
    let s = Server::start().await;
    let body = json!({"model": "claude-opus-5-5", "max_tokens": 32000, "stream": false,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "system", "content": [{"type": "text", "text": "<system-reminder>plan</system-reminder>",
                "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": "done"},
            {"role": "system", "content": "later guidance"},
            {"role": "user", "content": "second"}]});
    let r = s
        .raw(
            "POST",
            "/v1/messages?beta=true",
            &[
                ("anthropic-version", "2023-06-01"),
                (
                    "anthropic-beta",
                    "claude-code-20250219,mid-conversation-system-2026-04-07",
                ),
            ],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], "echo: second");
    let b = s.last_upstream().body;
    assert_eq!(b["model"], "gpt-5.5");
    let conv = common::conversation(&b);
    let roles: Vec<&str> = conv.iter().filter_map(|i| i["role"].as_str()).collect();
    assert_eq!(
        roles,
        ["user", "developer", "assistant", "developer", "user"]
    );
    assert_eq!(conv[3]["content"][0]["text"], "later guidance");

    // Refusals in Anthropic's words: a location, then what is wrong.
    let r = s
        .post(
            "/v1/messages",
            json!({"model": "claude-opus-5-5", "max_tokens": 5,
                "messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-should-retry"), Some("false"));
    assert_eq!(
        r.json()["error"]["message"],
        "messages.1.role: Input should be 'user', 'assistant' or 'system'"
    );
    let r = s
        .post("/v1/messages", json!({"max_tokens": 5, "messages": []}))
        .await;
    assert_eq!(r.json()["error"]["message"], "model: Field required");
    let r = s
        .post(
            "/v1/messages",
            json!({"model": "claude-opus-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]}]}),
        )
        .await;
    let m = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        m.starts_with("messages.0.content.0.document: ")
            && m.contains("does not support PDF input"),
        "{m}"
    );
}
