//! Chat and generate: NDJSON streams, thinking, images, structured output, errors.

use super::*;
use codex_mock::{sse_frame, sse_reply, text_events, Chunk, Reply};
use serde_json::json;

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
