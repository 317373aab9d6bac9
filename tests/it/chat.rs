//! Chat completions end to end: the real binary on a Unix socket, a hyper client, the mock backend.

use crate::common;

use codex_mock::{sse_frame, sse_reply, text_events, Chunk, Reply};
use common::{chat, chat_stream, Server};
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_and_models() {
    let s = Server::start().await;
    let r = s.request("GET", "/healthz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");

    let r = s.request("GET", "/v1/models", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"gpt-6.2-sol"), "{ids:?}");
    for m in v["data"].as_array().expect("data") {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_i64() && m["owned_by"].is_string());
    }
    // The catalog came from the backend (which lists no gpt-6.2-astra), not from the built-in fallback.
    assert!(
        !ids.contains(&"gpt-6.2-astra"),
        "built-in list served: {ids:?}"
    );

    let r = s.request("GET", "/v1/models/gpt-6.2-sol", None).await;
    assert_eq!(r.json()["id"], "gpt-6.2-sol");
    let r = s.request("GET", "/v1/models/no-such-model", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error()["code"], "model_not_found");
}

#[tokio::test]
async fn non_streaming_chat_sends_what_the_backend_expects() {
    let s = Server::start().await;
    let body = json!({"model": "gpt-6.2-sol", "temperature": 0.2, "max_tokens": 50, "messages": [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "How are you?"}]});
    let r = s.post("/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("x-request-id").is_some());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-6.2-sol");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: How are you?");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let usage = &v["usage"];
    assert!(usage["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap_or(0)
                + usage["completion_tokens"].as_u64().unwrap_or(0)
        )
    );
    assert!(usage["prompt_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage["completion_tokens_details"]["reasoning_tokens"].is_u64());

    let up = s
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
        .expect("upstream request");
    let b = &up.body;
    assert_eq!(common::sent_instructions(b), "Answer in French.");
    assert_eq!(b["store"], false);
    assert_eq!(b["stream"], true);
    assert_eq!(b["model"], "gpt-6.2-sol");
    for dropped in ["temperature", "max_tokens", "max_output_tokens", "messages"] {
        assert!(b.get(dropped).is_none(), "{dropped} reached the backend");
    }
    let roles: Vec<String> = common::conversation(b)
        .iter()
        .filter_map(|i| i["role"].as_str().map(String::from))
        .collect();
    assert_eq!(roles, ["user", "assistant", "developer", "user"]);
    assert!(b["include"]
        .as_array()
        .expect("include")
        .contains(&json!("reasoning.encrypted_content")));
    let key = b["prompt_cache_key"].as_str().expect("cache key");
    assert_eq!(up.header("session-id"), Some(key));
    assert_eq!(up.header("chatgpt-account-id"), Some(common::ACCOUNT));
    // As `codex exec` 0.171 sends them: the installation id is in the body only.
    assert_eq!(up.header("originator"), Some("codex_exec"));
    assert!(up.header("user-agent").is_some_and(
        |ua| ua.starts_with("codex_exec/0.171.0 (") && ua.ends_with(" (codex_exec; 0.171.0)")
    ));
    assert_eq!(up.header("version"), Some("0.171.0"));
    assert!(up.header("x-codex-installation-id").is_none());
    let install = b["client_metadata"]["x-codex-installation-id"]
        .as_str()
        .expect("installation id")
        .to_owned();
    assert_eq!(
        std::fs::read_to_string(s.home.path().join("installation_id")).expect("the CLI's file"),
        install
    );
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {}", s.tokens.access_token).as_str())
    );

    // The same conversation, one turn later, keeps its cache key; the installation id is stable.
    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-6.2-sol", "messages": [
                {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "More"}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let up2 = s
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
        .expect("second");
    assert_eq!(up2.body["prompt_cache_key"], key);
    assert_eq!(
        up2.body["client_metadata"]["x-codex-installation-id"],
        install
    );
    assert_eq!(up2.header("session-id"), up.header("session-id"));
}

fn chunks(r: &common::Reply) -> (Vec<Value>, bool) {
    let data = r.sse_data();
    let done = data.last().is_some_and(|d| d == "[DONE]");
    let chunks = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk json"))
        .collect();
    (chunks, done)
}

#[tokio::test]
async fn streaming_chat_has_the_openai_shape() {
    let s = Server::start().await;
    let r = s
        .post("/v1/chat/completions", chat_stream("stream me please"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    let (chunks, done) = chunks(&r);
    assert!(done, "no [DONE]: {}", r.text());
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let id = chunks[0]["id"].as_str().expect("id");
    let mut text = String::new();
    let mut finishes = Vec::new();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        for ch in c["choices"].as_array().expect("choices") {
            text.push_str(ch["delta"]["content"].as_str().unwrap_or(""));
            assert!(ch["delta"].get("reasoning_content").is_none());
            if !ch["finish_reason"].is_null() {
                finishes.push(ch["finish_reason"].clone());
            }
        }
    }
    assert_eq!(text, "echo: stream me please");
    assert_eq!(finishes, vec![json!("stop")]);
    let last = chunks.last().expect("usage chunk");
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["completion_tokens"]
        .as_u64()
        .is_some_and(|n| n > 0));
    // Several content deltas, not one lump.
    let content_chunks = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count();
    assert!(content_chunks >= 2, "{content_chunks} content chunks");
}

#[tokio::test]
async fn reasoning_goes_to_reasoning_content_not_content() {
    let s = Server::start().await;
    s.mock
        .push(sse_reply(&codex_mock::reasoning_then_text_events(
            "resp_r",
            &["Weighing ", "options"],
            &["Final ", "answer"],
            "ZW5jcnlwdGVk",
            (10, 4, 6, 3),
        )));
    let r = s.post("/v1/chat/completions", chat("think")).await;
    let m = &r.json()["choices"][0]["message"];
    assert_eq!(m["content"], "Final answer");
    assert_eq!(m["reasoning_content"], "Weighing options");
    assert_eq!(
        r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    assert_eq!(
        r.json()["usage"]["prompt_tokens_details"]["cached_tokens"],
        4
    );

    s.mock
        .push(sse_reply(&codex_mock::reasoning_then_text_events(
            "resp_r2",
            &["Weighing ", "options"],
            &["Final ", "answer"],
            "ZW5jcnlwdGVk",
            (10, 4, 6, 3),
        )));
    let r = s.post("/v1/chat/completions", chat_stream("think")).await;
    let (chunks, done) = chunks(&r);
    assert!(done);
    let field = |f: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"][f].as_str())
            .collect()
    };
    assert_eq!(field("reasoning_content"), "Weighing options");
    assert_eq!(field("content"), "Final answer");
}

#[tokio::test]
async fn utf8_split_across_network_reads_arrives_whole() {
    let s = Server::start().await;
    let text = "h\u{e9}llo w\u{f6}rld \u{65e5}\u{672c}\u{8a9e} \u{1f389}";
    let events = text_events("resp_u", &[text], (5, 0, 5, 0));
    let stream: String = events.iter().map(sse_frame).collect();
    // Cut every frame inside a multi-byte character, one network write per piece.
    let bytes = stream.into_bytes();
    let mut chunks = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b >= 0xC0 {
            chunks.push(Chunk::delayed(bytes[start..=i].to_vec(), 2));
            start = i + 1;
        }
    }
    chunks.push(Chunk::now(bytes[start..].to_vec()));
    assert!(chunks.len() > 5);
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks,
    });
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    let got: String = r
        .sse_data()
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(got, text);
}

#[tokio::test]
async fn a_cut_stream_ends_with_an_error_and_no_done() {
    let s = Server::start().await;
    let events = text_events(
        "resp_cut",
        &["partial ", "answer ", "never finished"],
        (1, 0, 1, 0),
    );
    // Everything up to the second delta, then the connection closes.
    let cut: Vec<Chunk> = events
        .iter()
        .take_while(|e| e["type"] != "response.output_text.done")
        .take(6)
        .map(|e| Chunk::now(sse_frame(e)))
        .collect();
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks: cut,
    });
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    assert_eq!(r.status, 200);
    let data = r.sse_data();
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a cut stream must not look finished"
    );
    let last: Value = serde_json::from_str(data.last().expect("frames")).expect("json");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("closed")),
        "{last}"
    );
    assert!(!data.iter().any(|d| d.contains("finish_reason\":\"stop")));

    // The same cut without streaming is a 502, and the server is fine afterwards.
    let events = text_events("resp_cut2", &["a"], (1, 0, 1, 0));
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks: vec![Chunk::now(sse_frame(&events[0]))],
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 502);
    r.error();
    let r = s.post("/v1/chat/completions", chat("still alive")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn failed_and_incomplete_responses() {
    let s = Server::start().await;
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"context_length_exceeded","message":"Your input exceeds the context window of this model."}}}),
    ]));
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["code"], "context_length_exceeded");

    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.output_text.delta","delta":"cut sh"}),
        json!({"type":"response.incomplete","response":{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}}),
    ]));
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    let (chunks, done) = chunks(&r);
    assert!(done);
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, vec![&json!("length")]);
}

#[tokio::test]
async fn usage_limit_is_a_429_that_says_when_it_resets() {
    let s = Server::start().await;
    let resets = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 5400;
    s.mock.push(Reply::Status {
        status: 429,
        headers: vec![("x-codex-primary-used-percent".into(), "100.0".into())],
        body: json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                     "plan_type": "plus", "resets_at": resets}})
        .to_string(),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 429);
    let e = r.error();
    assert_eq!(e["code"], "usage_limit_reached");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("resets in 1h 29m") || m.contains("resets in 1h 30m")),
        "{e}"
    );
    let after: u64 = r
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((5390..=5400).contains(&after), "{after}");
    // Never retried.
    assert_eq!(
        s.mock
            .requests()
            .iter()
            .filter(|r| r.path == "/responses")
            .count(),
        1
    );
}

#[tokio::test]
async fn backend_errors_are_passed_on_readably() {
    let s = Server::start().await;
    s.mock.push(Reply::Status {
        status: 400,
        headers: vec![],
        body: json!({"detail": "The 'gpt-9' model is not supported when using Codex with a ChatGPT account."})
            .to_string(),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("'gpt-9' model is not supported")));

    for _ in 0..5 {
        s.mock.push(Reply::Status {
            status: 500,
            headers: vec![],
            body: "oops".into(),
        });
    }
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 502, "{}", r.text());
    // One try and four retries, then the error.
    assert_eq!(
        s.mock
            .requests()
            .iter()
            .filter(|r| r.path == "/responses")
            .count(),
        6
    );
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let s = Server::start().await;
    let r = s
        .raw("POST", "/v1/chat/completions", &[], b"{not json".to_vec())
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("not valid JSON")));

    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("wizard")));

    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": []}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["param"], "messages");

    let r = s
        .post(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    r.error();

    let r = s.request("GET", "/v1/nope", None).await;
    assert_eq!(r.status, 404);
    r.error();

    let r = s.request("GET", "/v1/chat/completions", None).await;
    assert_eq!(r.status, 405);
    r.error();

    let big = vec![b' '; 9 * 1024 * 1024];
    let r = s.raw("POST", "/v1/chat/completions", &[], big).await;
    assert_eq!(r.status, 413);
    r.error();

    // None of these reached the backend.
    assert_eq!(
        s.mock
            .requests()
            .iter()
            .filter(|r| r.path == "/responses")
            .count(),
        0
    );
}

#[tokio::test]
async fn tool_calls_stream_with_stable_indices_and_one_finish_reason() {
    let s = Server::start().await;
    let events = codex_mock::function_call_events(
        "resp_t",
        &[
            ("call_a", "get_weather", &["{\"city\":", "\"Paris\"}"]),
            ("call_b", "get_time", &["{\"tz\":\"CET\"}"]),
        ],
        (12, 0, 8, 0),
    );
    s.mock.push(sse_reply(&events));
    let body = json!({"model": "gpt-6.2-sol", "stream": true,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "strict": true}},
                  {"type": "function", "function": {"name": "get_time", "description": "time"}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "messages": [{"role": "user", "content": "weather and time?"}]});
    let r = s.post("/v1/chat/completions", body).await;
    let (chunks, done) = chunks(&r);
    assert!(done);
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finishes = Vec::new();
    for c in &chunks {
        let Some(ch) = c["choices"].get(0) else {
            continue;
        };
        if !ch["finish_reason"].is_null() {
            finishes.push(ch["finish_reason"].clone());
        }
        for tc in ch["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().expect("index") as usize;
            if let Some(id) = tc["id"].as_str() {
                assert_eq!(i, calls.len(), "indices in output order");
                assert_eq!(tc["type"], "function");
                calls.push((
                    id.into(),
                    tc["function"]["name"].as_str().expect("name").into(),
                    String::new(),
                ));
            }
            calls[i]
                .2
                .push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        calls,
        vec![
            (
                "call_a".into(),
                "get_weather".into(),
                "{\"city\":\"Paris\"}".into()
            ),
            (
                "call_b".into(),
                "get_time".into(),
                "{\"tz\":\"CET\"}".into()
            )
        ]
    );
    assert_eq!(finishes, vec![json!("tool_calls")]);
    // Arguments arrived in increments, not in one piece.
    let arg_chunks = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_null())
        .filter(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].is_string())
        .count();
    assert!(arg_chunks >= 3, "{arg_chunks}");

    let up = s
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
        .expect("upstream");
    assert_eq!(
        common::sent_tools(&up.body)[0],
        json!({"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": true})
    );
    assert_eq!(
        up.body["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    // A Responses Lite model: the codex CLI asks for no parallel calls.
    assert_eq!(up.body["parallel_tool_calls"], false);

    // Non-streaming: full arguments on the message; the history goes back as function_call items.
    s.mock.push(sse_reply(&codex_mock::function_call_events(
        "resp_t2",
        &[("call_c", "f", &["{}"])],
        (1, 0, 1, 0),
    )));
    let r = s.post("/v1/chat/completions", chat("call f")).await;
    let v = r.json();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "f", "arguments": "{}"})
    );
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_c");

    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-6.2-sol", "messages": [
                {"role": "user", "content": "call f"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_c", "content": "42"},
                {"role": "user", "content": "thanks"}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let up = s
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses")
        .expect("upstream");
    let input = common::conversation(&up.body);
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "call_c", "name": "f", "arguments": "{}"})
    );
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "call_c", "output": "42"})
    );
}

#[tokio::test]
async fn a_stream_that_fails_before_any_output_gets_an_http_status() {
    let s = Server::start().await;
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.in_progress","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"context_length_exceeded","message":"too long"}}}),
    ]));
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error()["code"], "context_length_exceeded");
}
