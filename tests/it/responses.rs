//! `POST /v1/responses`: normalised upstream, events passed through unchanged, final object assembled.

use crate::common;

use codex_mock::{sse_frame, sse_reply, text_events};
use common::Server;
use serde_json::{json, Value};

fn last_upstream(s: &Server) -> codex_mock::RecordedRequest {
    s.mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
        .expect("upstream request")
}

#[tokio::test]
async fn non_streaming_assembles_the_response_object() {
    let s = Server::start().await;
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "Hello responses", "max_output_tokens": 100,
                   "temperature": 0.5, "store": true, "metadata": {"a": "b"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()));
    let out = v["output"].as_array().expect("output");
    let msg = out
        .iter()
        .find(|i| i["type"] == "message")
        .expect("message item");
    assert_eq!(msg["content"][0]["text"], "echo: Hello responses");
    assert!(v["usage"]["input_tokens"].as_u64().is_some_and(|n| n > 0));

    let up = last_upstream(&s);
    assert_eq!(
        common::conversation(&up.body),
        [
            json!({"type":"message","role":"user","content":[{"type":"input_text","text":"Hello responses"}]})
        ]
    );
    assert_eq!(up.body["store"], false);
    assert_eq!(up.body["stream"], true);
    for dropped in ["max_output_tokens", "temperature", "metadata"] {
        assert!(
            up.body.get(dropped).is_none(),
            "{dropped} reached the backend"
        );
    }
    assert_eq!(
        common::sent_instructions(&up.body),
        "You are a helpful assistant."
    );
    assert_eq!(
        up.header("session-id"),
        up.body["prompt_cache_key"].as_str()
    );
}

/// Every field the backend sent is in `got` with the same value; `got` may have more.
fn assert_superset(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or_else(|| panic!("{at}.{k} dropped"));
                assert_superset(gv, wv, &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: length");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                assert_superset(gv, wv, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[tokio::test]
async fn streaming_keeps_every_backend_field_and_fills_the_rest() {
    let s = Server::start().await;
    let events = text_events("resp_pass", &["one ", "two ", "three"], (7, 0, 3, 0));
    s.mock.push(sse_reply(&events));
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "stream": true, "input": "count"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    let expected: String = events.iter().map(sse_frame).collect();
    let got = r.text();
    // Same events in the same order, every backend field kept, OpenAI's required fields filled in.
    let parse = |text: &str| -> Vec<(String, Value)> {
        text.split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|f| {
                let mut kind = String::new();
                let mut data = Value::Null;
                for line in f.lines() {
                    if let Some(k) = line.strip_prefix("event: ") {
                        kind = k.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).expect("data json");
                    }
                }
                (kind, data)
            })
            .collect()
    };
    let (got, want) = (parse(&got), parse(&expected));
    assert_eq!(got.len(), want.len());
    for (i, ((gk, gv), (wk, wv))) in got.iter().zip(&want).enumerate() {
        assert_eq!(gk, wk);
        assert_eq!(gv["type"], *wk);
        assert_eq!(gv["sequence_number"], i as u64);
        assert_superset(gv, wv, wk);
    }
    let done = &got.last().expect("completed").1["response"];
    for k in [
        "object",
        "created_at",
        "status",
        "model",
        "output",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "metadata",
    ] {
        assert!(!done[k].is_null(), "response.{k} missing");
    }
    assert_eq!(
        done["usage"]["input_tokens_details"]["cache_write_tokens"],
        0
    );
    assert!(got
        .iter()
        .filter(|(k, _)| k == "response.output_text.delta")
        .all(|(_, v)| v["logprobs"] == json!([])));
}

#[tokio::test]
async fn items_tools_and_instructions_are_normalised() {
    let s = Server::start().await;
    let body = json!({"model": "gpt-6.2-sol-high", "instructions": "Be exact.",
        "input": [
            {"role": "system", "content": "Also be kind."},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"},
                                          {"type": "input_image", "image_url": "https://example.com/sky.jpg"}]},
            {"type": "function_call", "call_id": "call_9", "name": "w", "arguments": "{}", "id": "fc_9", "status": "completed"},
            {"type": "function_call_output", "call_id": "call_9", "output": "sunny"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}], "encrypted_content": "ENC"},
            {"role": "system", "content": "late guidance"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "It is sunny."}]},
            {"role": "user", "content": "thanks"}],
        "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": true}, {"type": "web_search"}],
        "tool_choice": {"type": "function", "name": "w"},
        "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}, "strict": true}}});
    let r = s.post("/v1/responses", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = last_upstream(&s).body;
    assert_eq!(b["model"], "gpt-6.2-sol");
    assert_eq!(b["reasoning"]["effort"], "high");
    assert_eq!(common::sent_instructions(&b), "Be exact.\n\nAlso be kind.");
    let input = common::conversation(&b);
    // The model takes images in full detail, so they are sent as the codex CLI sends them.
    assert_eq!(
        input[0]["content"][1],
        json!({"type": "input_image", "image_url": "https://example.com/sky.jpg", "detail": "original"})
    );
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "call_9", "name": "w", "arguments": "{}"})
    );
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "call_9", "output": "sunny"})
    );
    assert_eq!(
        input[3],
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}], "encrypted_content": "ENC"})
    );
    assert_eq!(input[4]["role"], "developer");
    assert_eq!(
        input[5]["content"][0],
        json!({"type": "output_text", "text": "It is sunny."})
    );
    assert_eq!(
        Value::Array(common::sent_tools(&b)),
        json!([{"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": true}, {"type": "web_search"}])
    );
    assert_eq!(b["tool_choice"], json!({"type": "function", "name": "w"}));
    assert_eq!(b["text"]["format"]["type"], "json_schema");
}

#[tokio::test]
async fn unsupported_requests_are_refused_before_the_backend() {
    let s = Server::start().await;
    let cases = [
        (
            json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            // Not kept: refused by its id.
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0].id",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
            "input[0].content[0]",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "code_interpreter"}]}),
            "tools[0]",
        ),
        (json!({"model": "m", "input": []}), "input"),
        (
            json!({"model": "m", "input": [{"role": "wizard", "content": "x"}]}),
            "input[0].role",
        ),
    ];
    for (body, param) in cases {
        let r = s.post("/v1/responses", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.error()["param"], param, "{body}");
    }
    assert!(last_upstream_opt(&s).is_none());
}

fn last_upstream_opt(s: &Server) -> Option<codex_mock::RecordedRequest> {
    s.mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
}

#[tokio::test]
async fn failures_map_to_statuses_and_stream_cuts_to_error_events() {
    let s = Server::start().await;
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"id":"r","error":{"code":"context_length_exceeded","message":"too long"}}}),
    ]));
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["code"], "context_length_exceeded");

    let events = text_events("resp_cut", &["a", "b"], (1, 0, 1, 0));
    s.mock.push(codex_mock::Reply::Sse {
        headers: vec![],
        chunks: events
            .iter()
            .take(4)
            .map(|e| codex_mock::Chunk::now(sse_frame(e)))
            .collect(),
    });
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x", "stream": true}),
        )
        .await;
    let text = r.text();
    let last = text.trim_end().rsplit("\n\n").next().expect("frame");
    assert!(last.starts_with("event: error\ndata: "), "{last}");
    assert!(!text.contains("event: response.completed"), "{text}");
}
