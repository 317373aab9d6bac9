use super::*;
use crate::models;
use crate::request::{FunctionChoice, Reasoning};
use serde_json::json;

fn catalog(slug: &str) -> ModelInfo {
    models::fallback()
        .into_iter()
        .find(|m| m.slug == slug)
        .expect("model in the built-in catalog")
}

fn ids() -> TurnIds {
    TurnIds::new(
        "01a233ab-7d42-7682-90f4-0cd401510cd9".into(),
        "01a233ab-7daa-7633-8370-88c86b1f5ced".into(),
        "142ffc43-c2fb-4e4c-8ef8-47fabf802bc4".into(),
    )
}

fn request(model: &str) -> ResponsesRequest {
    let mut req = ResponsesRequest::new(
        model,
        "be brief",
        vec![
            InputItem::text(Role::User, "what is the weather?"),
            InputItem::FunctionCall {
                call_id: "call_1".into(),
                name: "weather".into(),
                arguments: "{}".into(),
                namespace: None,
            },
            InputItem::FunctionCallOutput {
                call_id: "call_1".into(),
                output: "sunny".to_owned().into(),
            },
            InputItem::Message {
                role: Role::User,
                content: vec![ContentPart::InputImage {
                    image_url: "data:image/png;base64,AAAA".into(),
                    detail: None,
                }],
            },
        ],
    );
    req.tools = vec![
        Tool::Function {
            name: "weather".into(),
            description: Some("the weather".into()),
            strict: None,
            parameters: Some(json!({"type": "object", "properties": {}})),
        },
        Tool::web_search(),
    ];
    req.prompt_cache_key = Some("ignored: the session id is the cache key".into());
    req
}

fn body(req: ResponsesRequest, model: Option<&ModelInfo>) -> (Value, Rendered) {
    let r = render(req, model, &ids(), 1_796_163_206_647).expect("render");
    (serde_json::from_slice(&r.body).expect("json"), r)
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn a_lite_model_gets_the_responses_lite_shape() {
    let m = catalog("gpt-6.2-sol");
    let (v, r) = body(request("gpt-6.2-sol"), Some(&m));
    assert!(r.lite);
    assert_eq!(
        keys(&v),
        [
            "model",
            "stream",
            "input",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "store",
            "include",
            "prompt_cache_key",
            "text",
            "client_metadata"
        ]
    );
    let first = &v["input"][0];
    assert_eq!(keys(first), ["type", "id", "role", "tools"]);
    assert_eq!(first["type"], "additional_tools");
    assert_eq!(first["role"], "developer");
    assert!(first["id"].as_str().expect("id").starts_with("at_"));
    assert_eq!(
        first["tools"][0],
        json!({"type": "namespace", "name": "functions", "description": "", "tools": [
            {"type": "function", "name": "weather", "description": "the weather", "strict": false,
             "parameters": {"type": "object", "properties": {}}}]})
    );
    assert_eq!(first["tools"][1], json!({"type": "web_search"}));
    // The system text is the first developer message; no top-level instructions or tools.
    assert_eq!(v["input"][1]["role"], "developer");
    assert_eq!(v["input"][1]["content"][0]["text"], "be brief");
    assert!(v.get("instructions").is_none() && v.get("tools").is_none());
    // Replayed calls of the client's functions carry the namespace they were offered in.
    let call = &v["input"][3];
    assert_eq!(
        keys(call),
        ["type", "name", "namespace", "arguments", "call_id"]
    );
    assert_eq!(call["namespace"], "functions");
    assert!(v["input"][4]["id"]
        .as_str()
        .expect("id")
        .starts_with("fco_"));
    assert_eq!(v["input"][5]["content"][0]["detail"], "original");
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(
        v["reasoning"],
        json!({"effort": "low", "context": "all_turns"})
    );
    assert_eq!(v["text"], json!({"verbosity": "low"}));
    assert_eq!(v["tool_choice"], "auto");
    assert_eq!(v["store"], false);
    assert_eq!(v["stream"], true);
    assert_eq!(v["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(
        v["prompt_cache_key"],
        "01a233ab-7d42-7682-90f4-0cd401510cd9"
    );
    let meta: Value = serde_json::from_str(
        v["client_metadata"]["x-codex-turn-metadata"]
            .as_str()
            .expect("metadata"),
    )
    .expect("json");
    assert_eq!(meta["model"], "gpt-6.2-sol");
    assert_eq!(meta["reasoning_effort"], "low");
    assert_eq!(meta["window_id"], "01a233ab-7d42-7682-90f4-0cd401510cd9:0");
    assert_eq!(
        meta["context_window_id"],
        "01a233ab-7daa-7633-8370-88c86b1f5ced"
    );
    assert_eq!(meta["analytics_enabled"], false);
    assert_eq!(
        v["client_metadata"]["mcp_attribution"],
        r#"{"status":"none"}"#
    );
    assert_eq!(
        meta,
        serde_json::from_str::<Value>(&r.turn_metadata).expect("json")
    );
    assert_eq!(
        v["client_metadata"]["x-codex-installation-id"],
        "142ffc43-c2fb-4e4c-8ef8-47fabf802bc4"
    );
}

#[test]
fn gpt_5_5_gets_the_classic_shape_without_instructions() {
    let m = catalog("gpt-5.5");
    let (v, r) = body(request("gpt-5.5"), Some(&m));
    assert!(!r.lite);
    assert_eq!(
        keys(&v),
        [
            "model",
            "stream",
            "input",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "store",
            "include",
            "prompt_cache_key",
            "text",
            "client_metadata"
        ]
    );
    assert!(v.get("instructions").is_none());
    assert_eq!(v["input"][0]["role"], "developer");
    assert_eq!(keys(&v["input"][0]), ["type", "id", "role", "content"]);
    assert_eq!(
        keys(&v["tools"][0]),
        ["type", "name", "description", "strict", "parameters"]
    );
    assert!(v["input"][2].get("namespace").is_none());
    assert_eq!(v["parallel_tool_calls"], true);
    assert_eq!(v["reasoning"], json!({"effort": "medium"}));
}

#[test]
fn the_clients_choices_win_where_the_model_takes_them() {
    let m = catalog("gpt-6.2-sol");
    let mut req = request("gpt-6.2-sol");
    req.reasoning = Some(Reasoning {
        effort: Some(ReasoningEffort::Ultra),
        summary: Some(ReasoningSummary::Detailed),
    });
    req.text = Some(TextControls {
        verbosity: Some("high".into()),
        format: None,
    });
    req.tool_choice = Some(ToolChoice::Function(FunctionChoice {
        name: "weather".into(),
    }));
    let (v, _) = body(req, Some(&m));
    assert_eq!(
        v["reasoning"],
        json!({"effort": "ultra", "summary": "detailed", "context": "all_turns"})
    );
    assert_eq!(v["text"]["verbosity"], "high");
    assert_eq!(
        v["tool_choice"],
        json!({"type": "function", "name": "weather"})
    );

    // A model without verbosity or summaries gets neither.
    let mut plain = m.clone();
    plain.support_verbosity = Some(false);
    plain.supports_reasoning_summaries = Some(false);
    plain.supports_parallel_tool_calls = Some(false);
    plain.use_responses_lite = false;
    let mut req = request("x");
    req.reasoning = Some(Reasoning {
        effort: None,
        summary: Some(ReasoningSummary::Auto),
    });
    let (v, _) = body(req, Some(&plain));
    assert!(v.get("text").is_none());
    assert_eq!(v["reasoning"], json!({"effort": "low"}));
    assert_eq!(v["parallel_tool_calls"], false);
}

#[test]
fn ids_are_stable_across_turns_and_a_toolless_lite_request_has_no_tools_item() {
    let m = catalog("gpt-6.2-sol");
    let mut req = request("gpt-6.2-sol");
    req.tools.clear();
    let (a, _) = body(req.clone(), Some(&m));
    req.input.push(InputItem::text(Role::User, "and tomorrow?"));
    let (b, _) = body(req, Some(&m));
    assert_eq!(a["input"][0]["type"], "message");
    assert_eq!(a["input"][0]["id"], b["input"][0]["id"]);
    assert_eq!(a["input"][1]["id"], b["input"][1]["id"]);
    assert_ne!(b["input"][1]["id"], b["input"][5]["id"]);
    // An unknown model: the classic shape, only what was asked.
    let (v, r) = body(request("gpt-unknown-1"), None);
    assert!(!r.lite && v.get("reasoning").is_none() && v.get("text").is_none());
    assert_eq!(v["tools"][1], json!({"type": "web_search"}));
}

#[test]
fn a_clients_own_websocket_fields_are_not_passed_on() {
    // The codex CLI as a client of codex-serve's socket stamps its frames; those stamps are about that
    // frame, and codex-serve's own frames get theirs when they are sent.
    let m = catalog("gpt-5.5");
    let mut req = request("gpt-5.5");
    let mut metadata = serde_json::Map::new();
    for (k, v) in [
        (
            "ws_request_header_x_openai_internal_codex_responses_lite",
            "true",
        ),
        ("x-codex-ws-stream-request-start-ms", "1796000000000"),
        ("mine", "kept"),
    ] {
        metadata.insert(k.into(), Value::String(v.into()));
    }
    req.client_metadata = Some(metadata);
    let (v, _) = body(req, Some(&m));
    let sent = v["client_metadata"].as_object().expect("client_metadata");
    assert_eq!(sent["mine"], "kept");
    assert!(!sent.contains_key("ws_request_header_x_openai_internal_codex_responses_lite"));
    assert!(!sent.contains_key("x-codex-ws-stream-request-start-ms"));
}

/// The wire form as it was built before items were serialised once: through a `Value` tree, the id a
/// `uuid` v5 over the JSON of `[index, item]`. The fast path must give the same bytes and the same ids
/// (a changed id would cost every conversation its cached prompt prefix).
fn wire_item_by_value(item: &InputItem, index: usize, ids: &TurnIds, namespaced: bool) -> String {
    let Value::Object(fields) = serde_json::to_value(item).expect("to value") else {
        panic!("an item is an object");
    };
    let prefix = match item {
        InputItem::Message { .. } => Some("msg"),
        InputItem::AdditionalTools { .. } => Some("at"),
        InputItem::FunctionCallOutput { .. } => Some("fco"),
        _ => None,
    };
    let mut out = Map::new();
    let mut fields = fields.into_iter();
    let (k, v) = fields.next().expect("the type tag");
    out.insert(k, v);
    if let Some(prefix) = prefix {
        let seed = serde_json::to_vec(&(index, item)).expect("seed");
        let ns = uuid::Uuid::parse_str(&ids.session).expect("session uuid");
        let id = format!("{prefix}_{}", uuid::Uuid::new_v5(&ns, &seed));
        out.insert("id".into(), Value::String(id));
    }
    for (k, v) in fields {
        let name = k == "name";
        out.insert(k, v);
        if name && namespaced {
            out.insert("namespace".into(), FUNCTIONS_NAMESPACE.into());
        }
    }
    serde_json::to_string(&out).expect("to string")
}

#[test]
fn an_item_is_serialised_once_with_the_same_bytes_and_ids_as_through_a_value() {
    let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} emoji \u{1F600} \u{2028} é";
    let mut items = request("gpt-5.5").input;
    items.extend([
        InputItem::text(Role::Assistant, tricky),
        InputItem::text(Role::Developer, ""),
        InputItem::FunctionCall {
            call_id: "call_\"2\"".into(),
            name: "weather".into(),
            arguments: format!("{{\"q\":{}}}", serde_json::to_string(tricky).expect("json")).into(),
            namespace: None,
        },
        InputItem::FunctionCall {
            call_id: "call_3".into(),
            name: "not_a_client_function".into(),
            arguments: "{}".into(),
            namespace: None,
        },
        InputItem::FunctionCallOutput {
            call_id: "call_2".into(),
            output: tricky.to_owned().into(),
        },
        InputItem::CompactionTrigger {},
    ]);
    let ids = ids();
    let functions = vec!["weather".to_owned()];
    for lite in [false, true] {
        for (index, item) in items.iter().enumerate() {
            let namespaced = gets_functions_namespace(item, lite, &functions);
            let fast = wire_item(item, index, &id_namespace(&ids.session), lite, &functions)
                .expect("wire item");
            assert_eq!(
                fast.get(),
                wire_item_by_value(item, index, &ids, namespaced),
                "item {index}, lite {lite}"
            );
        }
    }
}
