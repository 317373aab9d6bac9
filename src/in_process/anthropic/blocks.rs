//! Content blocks: thinking carried back, tool round trips, images, system messages in place.

use super::*;
use serde_json::json;

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
