//! OpenAI fidelity beyond plain text: reasoning continuity across a tool loop, images, structured output,
//! reasoning controls, built-in items, prompt caching. In process (was tests/fidelity.rs).

use super::{chat, Options, Server};
use codex_mock::{sse_reply, Reply};
use serde_json::{json, Value};

/// A turn that reasons, then calls a tool: what the backend sends for an agent's first step.
fn reasoning_then_call(resp: &str, enc: &str, call_id: &str) -> Vec<Value> {
    vec![
        json!({"type":"response.created","response":{"id":resp}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[]}}),
        json!({"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"Need the weather."}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Need the weather."}],"encrypted_content":enc}}),
        json!({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":call_id,"name":"get_weather","arguments":""}}),
        json!({"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"{\"city\":\"Oslo\"}"}),
        json!({"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":call_id,"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}),
        json!({"type":"response.completed","response":{"id":resp,"usage":{"input_tokens":20,"output_tokens":9,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":29}}}),
    ]
}

async fn tool_loop(stream_first: bool) {
    let s = Server::start().await;
    s.mock.push(sse_reply(&reasoning_then_call(
        "resp_1",
        "ENC-TURN-1",
        "call_w1",
    )));
    let tools = json!([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]);
    let mut first = json!({"model":"gpt-6.2-sol","tools":tools,"messages":[{"role":"user","content":"Weather in Oslo?"}]});
    if stream_first {
        first["stream"] = json!(true);
    }
    let r = s.post("/v1/chat/completions", first).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // The client runs the tool and sends the history back, without any reasoning of course.
    let second = json!({"model":"gpt-6.2-sol","tools":tools,"messages":[
        {"role":"user","content":"Weather in Oslo?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_w1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
        {"role":"tool","tool_call_id":"call_w1","content":"-3 C, snow"}]});
    let r = s.post("/v1/chat/completions", second).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let input = super::conversation(&s.last_upstream().body);
    let kinds: Vec<&str> = input
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
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
    assert_eq!(input[1]["encrypted_content"], "ENC-TURN-1");
    assert_eq!(
        input[1]["summary"],
        json!([{"type":"summary_text","text":"Need the weather."}])
    );
}

#[tokio::test]
async fn a_tool_loop_sends_the_remembered_reasoning_back_upstream() {
    tool_loop(false).await;
}

#[tokio::test]
async fn a_streamed_tool_loop_sends_the_remembered_reasoning_back_upstream() {
    tool_loop(true).await;
}

#[tokio::test]
async fn images_go_upstream_as_input_image_and_unsupported_parts_are_refused() {
    let s = Server::start().await;
    let body = json!({"model":"gpt-6.2-sol","messages":[{"role":"user","content":[
        {"type":"text","text":"What is in these?"},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"high"}},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]});
    let r = s.post("/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let content = &super::conversation(&s.last_upstream().body)[0]["content"];
    assert_eq!(
        content[0],
        json!({"type":"input_text","text":"What is in these?"})
    );
    assert_eq!(
        content[1],
        json!({"type":"input_image","image_url":"https://example.com/cat.png","detail":"high"})
    );
    assert_eq!(
        content[2],
        json!({"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"original"})
    );

    let before = s.mock.requests().len();
    for part in [
        json!({"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}),
        json!({"type":"file","file":{"file_id":"file-1"}}),
    ] {
        let kind = part["type"].as_str().expect("type").to_owned();
        let body = json!({"model":"gpt-6.2-sol","messages":[{"role":"user","content":[part]}]});
        let r = s.post("/v1/chat/completions", body).await;
        assert_eq!(r.status, 400);
        let e = r.error();
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(&kind)),
            "{e}"
        );
    }
    assert_eq!(
        s.mock.requests().len(),
        before,
        "refused parts reached the backend"
    );
}

#[tokio::test]
async fn structured_output_and_verbosity_become_text_controls() {
    let s = Server::start().await;
    let schema = json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false});
    let body = json!({"model":"gpt-6.2-sol","verbosity":"low",
        "response_format":{"type":"json_schema","json_schema":{"name":"thing","schema":schema,"strict":true}},
        "messages":[{"role":"user","content":"give json"}]});
    assert_eq!(s.post("/v1/chat/completions", body).await.status, 200);
    assert_eq!(
        s.last_upstream().body["text"],
        json!({"verbosity":"low","format":{"type":"json_schema","name":"thing","schema":schema,"strict":true}})
    );
    let body = json!({"model":"gpt-6.2-sol","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"json"}]});
    assert_eq!(s.post("/v1/chat/completions", body).await.status, 200);
    assert_eq!(
        s.last_upstream().body["text"],
        json!({"verbosity":"low","format":{"type":"json_object"}})
    );
}

#[tokio::test]
async fn reasoning_effort_from_field_suffix_and_flag_checked_against_the_catalog() {
    let s = Server::start_with(Options {
        args: vec![
            "--reasoning-effort".into(),
            "high".into(),
            "--reasoning-summary".into(),
            "detailed".into(),
        ],
    })
    .await;
    // The server default.
    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 200);
    assert_eq!(
        s.last_upstream().body["reasoning"],
        json!({"effort":"high","summary":"detailed","context":"all_turns"})
    );
    // A model-name suffix, both spellings.
    for model in ["gpt-6.2-sol-low", "gpt-6.2-sol:low"] {
        let body = json!({"model":model,"messages":[{"role":"user","content":"x"}]});
        let r = s.post("/v1/chat/completions", body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["model"], "gpt-6.2-sol");
        let up = s.last_upstream();
        assert_eq!(up.body["model"], "gpt-6.2-sol");
        assert_eq!(up.body["reasoning"]["effort"], "low");
    }
    // The field wins; an effort the catalog does not list for the model is refused with the list.
    let body = json!({"model":"gpt-5.6-luna","reasoning_effort":"low","messages":[{"role":"user","content":"x"}]});
    let r = s.post("/v1/chat/completions", body).await;
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["param"], "reasoning_effort");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("medium, high")),
        "{e}"
    );
    // gpt-6.2-sol takes max and ultra, but not minimal.
    let body = json!({"model":"gpt-6.2-sol","reasoning_effort":"ultra","messages":[{"role":"user","content":"x"}]});
    assert_eq!(s.post("/v1/chat/completions", body).await.status, 200);
    let body = json!({"model":"gpt-6.2-sol","reasoning_effort":"minimal","messages":[{"role":"user","content":"x"}]});
    assert_eq!(s.post("/v1/chat/completions", body).await.status, 400);
}

#[tokio::test]
async fn effort_variants_are_listed_only_when_asked() {
    let plain = Server::start().await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect()
    };
    let list = ids(plain.request("GET", "/v1/models", None).await.json());
    assert!(!list.iter().any(|m| m.ends_with("-high")), "{list:?}");
    let with = Server::start_with(Options {
        args: vec!["--list-effort-variants".into()],
    })
    .await;
    let list = ids(with.request("GET", "/v1/models", None).await.json());
    assert!(list.contains(&"gpt-6.2-sol-high".to_owned()), "{list:?}");
    assert!(!list.contains(&"gpt-5.6-luna-low".to_owned()), "{list:?}");
}

#[tokio::test]
async fn builtin_backend_items_never_become_tool_calls() {
    let s = Server::start().await;
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"type":"web_search_call","id":"ws_1","status":"in_progress"}}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"q"}}}),
        json!({"type":"response.output_text.delta","output_index":1,"delta":"Found it."}),
        json!({"type":"response.output_item.done","output_index":1,"item":{"type":"message","content":[{"type":"output_text","text":"Found it."}]}}),
        json!({"type":"response.completed","response":{"id":"r"}}),
    ]));
    let r = s.post("/v1/chat/completions", chat("search")).await;
    let v = r.json();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(
        v["choices"][0]["message"].get("tool_calls").is_none(),
        "{v}"
    );
    assert_eq!(v["choices"][0]["message"]["content"], "Found it.");
}

#[tokio::test]
async fn follow_up_turns_hit_the_prompt_cache() {
    let s = Server::start().await;
    let turn1 = json!({"model":"gpt-6.2-sol","messages":[
        {"role":"system","content":"You review Rust code."},
        {"role":"user","content":"Here is a long file to review: fn main() { println!(\"hello\"); }"}]});
    let r1 = s.post("/v1/chat/completions", turn1).await.json();
    assert_eq!(r1["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let answer = r1["choices"][0]["message"]["content"]
        .as_str()
        .expect("answer")
        .to_owned();
    let turn2 = json!({"model":"gpt-6.2-sol","messages":[
        {"role":"system","content":"You review Rust code."},
        {"role":"user","content":"Here is a long file to review: fn main() { println!(\"hello\"); }"},
        {"role":"assistant","content":answer},
        {"role":"user","content":"And the tests?"}]});
    let r2 = s.post("/v1/chat/completions", turn2).await.json();
    assert!(
        r2["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{r2}"
    );
    let reqs: Vec<_> = s
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/responses")
        .collect();
    assert_eq!(
        reqs[0].body["prompt_cache_key"],
        reqs[1].body["prompt_cache_key"]
    );
    assert_eq!(reqs[0].header("session-id"), reqs[1].header("session-id"));

    // A client's own conversation id wins: the X-Session-Id header.
    let r = s
        .raw(
            "POST",
            "/v1/chat/completions",
            &[("x-session-id", "editor-conv-42")],
            chat("hi").to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200);
    // The editor's conversation key maps to one UUIDv7, the CLI's session id and cache key.
    let first = s.last_upstream();
    let session = first.header("session-id").expect("session").to_owned();
    assert_eq!(first.body["prompt_cache_key"], session.as_str());
    let again = s
        .raw(
            "POST",
            "/v1/chat/completions",
            &[("x-session-id", "editor-conv-42")],
            chat("hi again").to_string().into_bytes(),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        s.last_upstream().header("session-id"),
        Some(session.as_str())
    );
}

#[tokio::test]
async fn a_stream_of_only_done_items_still_reaches_the_client() {
    // The codex CLI reads only output_item.done; the backend may send no deltas at all.
    let s = Server::start().await;
    s.mock.push(Reply::Sse {
        headers: vec![("content-type".into(), String::new())],
        chunks: [
            json!({"type":"response.output_item.done","item":{"type":"message","role":"assistant","id":"m","content":[{"type":"output_text","text":"done"}]}}),
            json!({"type":"response.completed","response":{"id":"r2"}}),
        ]
        .iter()
        .map(|e| codex_mock::Chunk::now(codex_mock::sse_frame(e)))
        .collect(),
    });
    let r = s
        .post("/v1/chat/completions", super::chat_stream("x"))
        .await;
    let content: String = r
        .sse_data()
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "done");
}
