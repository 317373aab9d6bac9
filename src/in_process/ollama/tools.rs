//! Tool calls: a round trip and a loop that keeps the model's reasoning.

use super::*;
use codex_mock::sse_reply;
use serde_json::{json, Value};

#[tokio::test]
async fn a_tool_round_trip_with_object_arguments() {
    let s = Server::start().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let body = json!({"model": "gpt-6.2-sol", "tools": tools,
        "messages": [{"role": "user", "content": "mock:tool get_weather {\"city\":\"Oslo\"}"}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.ndjson();
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"]["tool_calls"].is_array())
        .collect();
    assert_eq!(calls.len(), 1, "one line for the finished call: {lines:?}");
    let call = &calls[0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["index"], 0);
    assert_eq!(call["function"]["arguments"], json!({"city": "Oslo"}));
    let last = lines.last().expect("last");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    let up = s.last_upstream().body;
    let sent = common::sent_tools(&up);
    assert_eq!(sent[0]["type"], "function");
    assert_eq!(sent[0]["name"], "get_weather");
    assert_eq!(sent[0]["parameters"]["required"], json!(["city"]));

    // The client runs the tool and sends the history back as Ollama clients do: arguments as an object,
    // the result named by `tool_name` (no ids at all).
    let body = json!({"model": "gpt-6.2-sol", "tools": tools, "stream": false, "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "tool_name": "get_weather", "content": "-3 C, snow"},
        {"role": "user", "content": "Thanks"}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = common::conversation(&s.last_upstream().body);
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(items[2]["type"], "function_call_output");
    assert_eq!(items[2]["call_id"], items[1]["call_id"]);
    assert_eq!(items[2]["output"], "-3 C, snow");

    // With the ids this server gave out, the results keep them.
    let body = json!({"model": "gpt-6.2-sol", "stream": false, "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let input = common::conversation(&s.last_upstream().body);
    assert_eq!(input[1]["call_id"], "call_1");
    assert_eq!(input[2]["call_id"], "call_1");

    // Not streaming, the call is in the message.
    let body = json!({"model": "gpt-6.2-sol", "tools": tools, "stream": false,
        "messages": [{"role": "user", "content": "mock:tool get_weather {\"city\":\"Rome\"}"}]});
    let v = s.post("/api/chat", body).await.json();
    assert_eq!(
        v["message"]["tool_calls"][0]["function"]["arguments"]["city"],
        "Rome"
    );
    assert_eq!(v["done_reason"], "stop");
}

#[tokio::test]
async fn a_tool_loop_keeps_the_models_reasoning() {
    let s = Server::start().await;
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r1"}}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Need the weather."}],"encrypted_content":"ENC-1"}}),
        json!({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_w1","name":"get_weather","arguments":""}}),
        json!({"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_w1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}),
        json!({"type":"response.completed","response":{"id":"r1","usage":{"input_tokens":20,"output_tokens":9}}}),
    ]));
    let r = s.post("/api/chat", chat("Weather in Oslo?")).await;
    let lines = r.ndjson();
    let call = lines
        .iter()
        .find_map(|l| l["message"]["tool_calls"].get(0).cloned())
        .expect("a call");
    assert_eq!(call["id"], "call_w1");
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "Need the weather.");

    // The client sends the history back with the call as it got it (and its thinking, which cannot be
    // replayed): the encrypted reasoning goes back upstream in front of the call.
    let body = json!({"model": "gpt-6.2-sol", "stream": false, "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "thinking": "Need the weather.", "tool_calls": [call]},
        {"role": "tool", "tool_name": "get_weather", "content": "-3 C"}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let input = common::conversation(&s.last_upstream().body);
    let kinds: Vec<&str> = input
        .iter()
        .map(|i| i["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ]
    );
    assert_eq!(input[1]["encrypted_content"], "ENC-1");
    assert_eq!(input[3]["call_id"], "call_w1");
}
