//! Claude Code's model names and the model map.

use super::*;
use serde_json::{json, Value};

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
