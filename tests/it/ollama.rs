//! The Ollama API end to end: the real binary on a Unix socket, a hyper client, the mock backend.

use crate::common;

use codex_mock::{sse_frame, sse_reply, text_events, Chunk, Reply};
use common::{Options, Server};
use serde_json::{json, Value};

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn chat(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": text}]})
}

fn content(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn version_tags_and_show_come_from_the_catalog() {
    let s = Server::start().await;
    let r = s.request("GET", "/api/version", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["version"], "0.12.10");
    let r = s.request("HEAD", "/api/version", None).await;
    assert_eq!(r.status, 200);
    let r = s.request("GET", "/", None).await;
    assert_eq!(r.status, 200);

    // Nothing is loaded in memory here: the backend runs the models.
    let r = s.request("GET", "/api/ps", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"models": []}));

    let r = s.request("GET", "/api/tags", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let models = r.json()["models"].as_array().expect("models").clone();
    let names: Vec<&str> = models.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "gpt-5.5:latest",
            "gpt-6.2-sol:latest",
            "gpt-5.6-luna:latest"
        ]
    );
    for m in &models {
        // No file behind a Codex model: nothing made up about one.
        for absent in ["size", "digest", "modified_at"] {
            assert!(m.get(absent).is_none(), "{absent} in {m}");
        }
        assert_eq!(m["model"], m["name"]);
    }
    assert_eq!(
        models[1]["capabilities"],
        json!(["completion", "tools", "thinking", "vision"])
    );
    // The mock lists the mini model as text only.
    assert_eq!(
        models[2]["capabilities"],
        json!(["completion", "tools", "thinking"])
    );

    let r = s
        .post("/api/show", json!({"model": "gpt-6.2-sol:latest"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["capabilities"],
        json!(["completion", "tools", "thinking", "vision"])
    );
    assert_eq!(v["model_info"]["general.architecture"], "codex");
    assert_eq!(v["model_info"]["codex.context_length"], 272_000);
    assert!(v.get("size").is_none() && v.get("digest").is_none());
    // The older `name` field works too.
    let r = s.post("/api/show", json!({"name": "gpt-5.6-luna"})).await;
    assert_eq!(r.status, 200);

    let r = s.post("/api/show", json!({"model": "llama3:8b"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "model 'llama3:8b' not found"}));
    let r = s.post("/api/show", json!({})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());

    // With effort variants, each effort is a tag.
    let s = Server::start_with(Options {
        args: vec!["--list-effort-variants".into()],
        ..Options::default()
    })
    .await;
    let r = s.request("GET", "/api/tags", None).await;
    let names: Vec<String> = r.json()["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.contains(&"gpt-6.2-sol:high".to_owned()), "{names:?}");
    let r = s
        .post("/api/show", json!({"model": "gpt-5.6-luna:low"}))
        .await;
    assert_eq!(r.status, 404, "the mini model takes no low effort");
}

#[tokio::test]
async fn chat_streams_ndjson_by_default_with_real_counts() {
    let s = Server::start().await;
    let body = json!({"model": "gpt-6.2-sol:latest", "options": {"temperature": 0.1, "num_predict": 5},
        "keep_alive": "5m", "messages": [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "How are you?"}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = r.ndjson();
    assert!(lines.len() >= 3, "{lines:?}");
    let (last, deltas) = lines.split_last().expect("lines");
    for l in deltas {
        assert_eq!(l["done"], false);
        assert_eq!(l["model"], "gpt-6.2-sol:latest");
        assert_eq!(l["message"]["role"], "assistant");
        assert!(l["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    assert_eq!(content(&lines), "echo: How are you?");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"]["content"], "");

    // The counts are the backend's own.
    let up = s.last_upstream();
    let b = &up.body;
    assert_eq!(b["model"], "gpt-6.2-sol");
    assert_eq!(common::sent_instructions(b), "Answer in French.");
    assert_eq!(b["store"], false);
    for dropped in ["temperature", "max_output_tokens", "options", "keep_alive"] {
        assert!(b.get(dropped).is_none(), "{dropped} reached the backend");
    }
    assert!(last["prompt_eval_count"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(last["eval_count"], 4, "the mock counts the answer's words");
    for d in ["total_duration", "prompt_eval_duration", "eval_duration"] {
        assert!(last[d].is_u64(), "{d}: {last}");
    }
    assert!(last["total_duration"].as_u64() >= last["eval_duration"].as_u64());

    // Not streaming: one object with the whole message.
    let mut body = chat("Once");
    body["stream"] = json!(false);
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let v = r.json();
    assert_eq!(v["message"]["content"], "echo: Once");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "stop");
    assert!(v["eval_count"].is_u64() && v["prompt_eval_count"].is_u64());
}

#[tokio::test]
async fn thinking_is_returned_in_message_thinking_and_think_picks_the_effort() {
    let s = Server::start().await;
    // Unset `think` thinks and shows it, as Ollama does for thinking models.
    let r = s.post("/api/chat", chat("mock:reasoning fine")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.ndjson();
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "thinking about it");
    assert_eq!(content(&lines), "echo: fine");
    assert!(lines
        .iter()
        .all(|l| l["message"]["thinking"].is_null() || l["message"]["content"] == ""));
    assert_eq!(s.last_upstream().body["reasoning"]["summary"], "auto");

    let mut body = chat("mock:reasoning fine");
    body["think"] = json!(false);
    body["stream"] = json!(false);
    let r = s.post("/api/chat", body).await;
    let v = r.json();
    assert!(v["message"].get("thinking").is_none(), "{v}");
    assert_eq!(v["message"]["content"], "echo: fine");
    let up = s.last_upstream().body;
    assert_eq!(
        up["reasoning"]["effort"], "low",
        "the least this model takes"
    );
    assert!(up["reasoning"].get("summary").is_none());

    let mut body = chat("x");
    body["think"] = json!("max");
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200);
    // The most this model takes below max and ultra (the catalog lists xhigh for gpt-6.2-sol).
    assert_eq!(s.last_upstream().body["reasoning"]["effort"], "xhigh");
    let mut body = chat("x");
    body["model"] = json!("gpt-5.5");
    body["think"] = json!("max");
    s.post("/api/chat", body).await;
    assert_eq!(s.last_upstream().body["reasoning"]["effort"], "xhigh");

    let mut body = chat("x");
    body["think"] = json!("deep");
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("think")));

    // An effort tag the model does not take is refused, naming the ones it does.
    let mut body = chat("x");
    body["model"] = json!("gpt-5.6-luna:low");
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("medium, high")));
}

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
async fn images_structured_output_and_generate() {
    let s = Server::start().await;
    let body = json!({"model": "gpt-6.2-sol", "stream": false, "format": "json", "messages": [
        {"role": "user", "content": "What is this?", "images": [PNG]}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = s.last_upstream().body;
    let parts = &common::conversation(&up)[0]["content"];
    assert_eq!(parts[0]["type"], "input_text");
    assert_eq!(parts[1]["type"], "input_image");
    assert_eq!(
        parts[1]["image_url"],
        format!("data:image/png;base64,{PNG}")
    );
    assert_eq!(up["text"]["format"]["type"], "json_object");

    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let mut body = chat("x");
    body["format"] = schema.clone();
    s.post("/api/chat", body).await;
    let up = s.last_upstream().body;
    assert_eq!(up["text"]["format"]["type"], "json_schema");
    assert_eq!(up["text"]["format"]["schema"], schema);

    let body = json!({"model": "gpt-6.2-sol", "messages": [
        {"role": "user", "content": "x", "images": ["bm90IGFuIGltYWdlIGF0IGFsbA=="]}]});
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("PNG")));

    // /api/generate: the prompt, the system text and the images; answers in `response`.
    let body = json!({"model": "gpt-6.2-sol", "system": "Be terse.", "prompt": "Describe",
        "images": [PNG], "raw": false, "context": [1, 2, 3]});
    let r = s.post("/api/generate", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.ndjson();
    let text: String = lines
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect();
    assert_eq!(text, "echo: Describe");
    let last = lines.last().expect("last");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert!(last.get("context").is_none());
    let up = s.last_upstream().body;
    assert_eq!(common::sent_instructions(&up), "Be terse.");
    assert_eq!(
        common::conversation(&up)[0]["content"][1]["type"],
        "input_image"
    );

    let body = json!({"model": "gpt-6.2-sol", "prompt": "mock:reasoning ok", "stream": false});
    let v = s.post("/api/generate", body).await.json();
    assert_eq!(v["response"], "echo: ok");
    assert_eq!(v["thinking"], "thinking about it");
    assert!(v["eval_count"].is_u64());

    let body = json!({"model": "gpt-6.2-sol", "prompt": "def f(", "suffix": "return 1"});
    let r = s.post("/api/generate", body).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("suffix")));
}

#[tokio::test]
async fn an_empty_request_loads_and_keep_alive_zero_unloads() {
    let s = Server::start().await;
    let r = s
        .post("/api/chat", json!({"model": "gpt-6.2-sol", "messages": []}))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "load");
    let r = s
        .post(
            "/api/generate",
            json!({"model": "gpt-6.2-sol", "keep_alive": 0}),
        )
        .await;
    assert_eq!(r.json()["done_reason"], "unload");
    let r = s
        .post("/api/chat", json!({"model": "llama3", "messages": []}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(s.upstream_count(), 0, "nothing to ask the backend");
}

#[tokio::test]
async fn errors_have_ollamas_shape_and_status() {
    let s = Server::start().await;
    let r = s.post("/api/chat", chat("mock:usage_limit")).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let v = r.json();
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.contains("usage limit")));

    let mut body = chat("x");
    body["model"] = json!("llama3");
    let r = s.post("/api/chat", body).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "model 'llama3' not found"}));

    let r = s.raw("POST", "/api/chat", &[], b"{not json".to_vec()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());
    let r = s.request("GET", "/api/nope", None).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    let r = s.request("GET", "/api/chat", None).await;
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string());
    let big = vec![b' '; 9 * 1024 * 1024];
    let r = s.raw("POST", "/api/chat", &[], big).await;
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].is_string());

    // A stream cut after the first words ends with an error line and no `done` line.
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
    let r = s.post("/api/chat", chat("x")).await;
    assert_eq!(r.status, 200);
    let lines = r.ndjson();
    assert!(!lines.iter().any(|l| l["done"] == true));
    assert!(lines
        .last()
        .and_then(|l| l["error"].as_str())
        .is_some_and(|e| e.contains("closed")));

    // A response that fails before any output is an HTTP error.
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"error":{"code":"context_length_exceeded","message":"Your input exceeds the context window of this model."}}}),
    ]));
    let r = s.post("/api/chat", chat("x")).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("context window")));
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
