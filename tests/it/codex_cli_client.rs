//! `/v1/responses` for the official codex CLI as a client: the tool types, input items, metadata and
//! `x-codex-*` headers it sends reach the backend as it sent them, and the items the backend answers
//! with are replayed on the next turn.

use crate::common;

use codex_mock::sse_reply;
use common::Server;
use serde_json::{json, Value};

/// The tools the codex CLI 0.171 sends to a classic model (shapes from its captured requests).
fn cli_tools() -> Value {
    json!([
        {"type":"function","name":"exec_command","description":"Run a command","strict":false,
         "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},
        {"type":"custom","name":"apply_patch","description":"Edit files",
         "format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}},
        {"type":"namespace","name":"image_gen","description":"Make images","tools":[
            {"type":"function","name":"generate","description":"One image","strict":false,
             "parameters":{"type":"object","properties":{}}}]},
        {"type":"tool_search","execution":"client","description":"Find deferred tools",
         "parameters":{"type":"object","properties":{"query":{"type":"string"}}}},
        {"type":"web_search","external_web_access":false,"search_content_types":["image","text"]},
        {"type":"image_generation","output_format":"png","size":"1024x1024"}
    ])
}

/// Every item type the CLI replays in a conversation.
fn cli_items() -> Value {
    json!([
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"patch it"}]},
        {"type":"compaction","encrypted_content":"ENC-1"},
        {"type":"custom_tool_call","status":"completed","call_id":"ct_1","name":"apply_patch","input":"*** Begin Patch"},
        {"type":"custom_tool_call_output","call_id":"ct_1","output":"Done"},
        {"type":"tool_search_call","call_id":"ts_1","status":"completed","execution":"client","arguments":{"query":"calendar"}},
        {"type":"tool_search_output","call_id":"ts_1","status":"completed","execution":"client","tools":[
            {"type":"namespace","name":"calendar","description":"Calendar","tools":[
                {"type":"function","name":"create_event","strict":false,"parameters":{"type":"object"}}]}]},
        {"type":"function_call","name":"create_event","namespace":"calendar","arguments":"{}","call_id":"fc_1"},
        {"type":"function_call_output","call_id":"fc_1","output":"ok"},
        {"type":"web_search_call","status":"completed","action":{"type":"search","query":"rust"}},
        {"type":"image_generation_call","status":"completed","revised_prompt":"a cat","result":"aGVsbG8="},
        {"type":"compaction_trigger"}
    ])
}

fn without_ids(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .cloned()
        .map(|mut i| {
            if let Some(o) = i.as_object_mut() {
                o.remove("id");
            }
            i
        })
        .collect()
}

#[tokio::test]
async fn classic_request_passes_every_tool_item_metadata_and_header_through() {
    let s = Server::start().await;
    let body = json!({
        "model": "gpt-5.5", "input": cli_items(), "tools": cli_tools(), "tool_choice": "auto",
        "parallel_tool_calls": true, "store": false, "stream": true,
        "include": ["reasoning.encrypted_content"],
        "client_metadata": {"x-codex-installation-id": "cli-install", "turn_id": "cli-turn",
                            "session_id": "cli-session", "mcp_attribution": "{\"status\":\"used\"}",
                            "guardian_credits_requested": "0"}
    });
    let r = s
        .raw(
            "POST",
            "/v1/responses",
            &[
                ("x-codex-turn-state", "sticky-route-1"),
                ("x-codex-window-id", "cli-session:3"),
                ("x-codex-beta-features", "remote_compaction_v2"),
            ],
            serde_json::to_vec(&body).expect("json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = s.last_upstream();

    // Tools: exactly as the client sent them.
    assert_eq!(up.body["tools"], cli_tools(), "{}", up.body["tools"]);
    // Items: as sent (codex-serve adds only its ids), and no second developer message of its own.
    let input = up.body["input"].as_array().expect("input");
    assert_eq!(
        without_ids(input),
        cli_items().as_array().expect("items").clone()
    );

    // client_metadata: the client's keys survive, except the ones that repeat our headers.
    let meta = &up.body["client_metadata"];
    assert_eq!(meta["x-codex-installation-id"], "cli-install");
    assert_eq!(meta["turn_id"], "cli-turn");
    assert_eq!(meta["mcp_attribution"], "{\"status\":\"used\"}");
    assert_eq!(meta["guardian_credits_requested"], "0");
    assert_eq!(meta["session_id"].as_str(), up.header("session-id"));
    assert_eq!(
        meta["x-codex-window-id"].as_str(),
        up.header("x-codex-window-id")
    );

    // Headers: the client's own x-codex-* pass on; codex-serve's win where both set one.
    assert_eq!(up.header("x-codex-turn-state"), Some("sticky-route-1"));
    let window = up.header("x-codex-window-id").expect("window id");
    assert_ne!(window, "cli-session:3");
    assert!(window.ends_with(":0"), "{window}");
    let beta: Vec<_> = up
        .headers
        .iter()
        .filter(|(n, _)| n == "x-codex-beta-features")
        .collect();
    assert_eq!(beta.len(), 1, "{beta:?}");
}

#[tokio::test]
async fn a_lite_model_keeps_the_clients_own_tools_item_without_wrapping_it_again() {
    let s = Server::start().await;
    let tools_item = json!({"type":"additional_tools","role":"developer","tools":[
        {"type":"namespace","name":"functions","description":"","tools":[
            {"type":"function","name":"exec_command","strict":false,"parameters":{"type":"object"}},
            {"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}}]},
        {"type":"namespace","name":"clock","description":"Time","tools":[
            {"type":"function","name":"now","strict":false,"parameters":{"type":"object"}}]}]});
    let items = json!([
        tools_item,
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},
        {"type":"function_call","name":"exec_command","namespace":"functions","arguments":"{}","call_id":"c1"},
        {"type":"function_call_output","call_id":"c1","output":"ok"}
    ]);
    let r = s
        .post(
            "/v1/responses",
            json!({"model":"gpt-6.2-sol","input":items,"store":false,"stream":true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = s.last_upstream();
    assert!(up.body.get("tools").is_none(), "{}", up.body);
    let input = up.body["input"].as_array().expect("input");
    assert_eq!(without_ids(input), items.as_array().expect("items").clone());
}

#[tokio::test]
async fn a_lite_model_gets_top_level_custom_tools_in_the_functions_namespace() {
    let s = Server::start().await;
    let r = s
        .post(
            "/v1/responses",
            json!({"model":"gpt-6.2-sol","input":"hi","tools":[
                {"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}},
                {"type":"web_search","external_web_access":false}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = s.last_upstream();
    let at = &up.body["input"][0];
    assert_eq!(at["type"], "additional_tools");
    assert_eq!(
        at["tools"],
        json!([
            {"type":"namespace","name":"functions","description":"","tools":[
                {"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}}]},
            {"type":"web_search","external_web_access":false}
        ])
    );
}

#[tokio::test]
async fn custom_and_tool_search_calls_are_replayed_from_a_stored_response() {
    let s = Server::start().await;
    let call = json!({"type":"custom_tool_call","id":"ctc_1","status":"completed","call_id":"ct_9",
                      "name":"apply_patch","input":"*** Begin Patch"});
    let search = json!({"type":"tool_search_call","id":"tsc_1","status":"completed","call_id":"ts_9",
                        "execution":"client","arguments":{"query":"calendar"}});
    s.mock.push(sse_reply(&[
        json!({"type":"response.created","response":{"id":"resp_r1","status":"in_progress","output":[]}}),
        json!({"type":"response.output_item.done","output_index":0,"item":call}),
        json!({"type":"response.output_item.done","output_index":1,"item":search}),
        json!({"type":"response.completed","response":{"id":"resp_r1","status":"completed","output":[call, search],
               "usage":{"input_tokens":5,"output_tokens":3,"total_tokens":8}}}),
    ]));
    let r = s
        .post(
            "/v1/responses",
            json!({"model":"gpt-5.5","input":"patch","tools":[
                {"type":"custom","name":"apply_patch"},{"type":"tool_search","execution":"client"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let r = s
        .post(
            "/v1/responses",
            json!({"model":"gpt-5.5","previous_response_id":id,"input":[
                {"type":"custom_tool_call_output","call_id":"ct_9","output":"Done"},
                {"type":"tool_search_output","call_id":"ts_9","status":"completed","execution":"client","tools":[]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let conv = common::conversation(&s.last_upstream().body);
    let kinds: Vec<&str> = conv.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "custom_tool_call",
            "tool_search_call",
            "custom_tool_call_output",
            "tool_search_output"
        ],
        "{conv:?}"
    );
    assert_eq!(conv[1]["input"], "*** Begin Patch");
    assert_eq!(conv[2]["arguments"], json!({"query":"calendar"}));
}

#[tokio::test]
async fn a_tool_type_the_backend_does_not_take_is_refused_by_name() {
    let s = Server::start().await;
    let r = s
        .post(
            "/v1/responses",
            json!({"model":"gpt-5.5","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs"]}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["param"], "tools[0]");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("'file_search'")),
        "{e}"
    );
}
