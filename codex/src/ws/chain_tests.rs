use super::*;
use crate::models::{self, ModelInfo};
use crate::render::{render, render_from, RequestKind, TurnIds};
use crate::request::{
    ContentPart, Reasoning, ReasoningEffort, Role, SummaryText, TextControls, Tool,
};
use proptest::prelude::*;
use serde_json::json;

fn ev(v: Value) -> StreamEvent {
    StreamEvent::parse(v.to_string()).expect("event")
}

fn user(t: &str) -> InputItem {
    InputItem::text(Role::User, t)
}

fn assistant(t: &str) -> InputItem {
    InputItem::text(Role::Assistant, t)
}

fn reasoning(enc: &str) -> InputItem {
    InputItem::Reasoning {
        summary: vec![SummaryText {
            text: "thinking".into(),
        }],
        encrypted_content: Some(enc.into()),
    }
}

fn call(id: &str, namespace: Option<&str>) -> InputItem {
    InputItem::FunctionCall {
        name: "exec".into(),
        namespace: namespace.map(str::to_owned),
        arguments: r#"{"cmd":"ls"}"#.into(),
        call_id: id.into(),
    }
}

fn output(id: &str, text: &str) -> InputItem {
    InputItem::FunctionCallOutput {
        call_id: id.into(),
        output: text.to_owned().into(),
    }
}

fn request(input: Vec<InputItem>) -> ResponsesRequest {
    let mut r = ResponsesRequest::new("gpt-5.5", "be brief", input);
    r.prompt_cache_key = Some("conv".into());
    r.tools = vec![Tool::Function {
        name: "exec".into(),
        description: None,
        strict: None,
        parameters: Some(json!({"type": "object"})),
    }];
    r.reasoning = Some(Reasoning {
        effort: Some(ReasoningEffort::Medium),
        summary: None,
    });
    r
}

/// The backend's output item JSON for an input item, with the fields the backend adds (ids, status,
/// annotations) that play no part in a replay.
fn backend_item(item: &InputItem, n: usize) -> Value {
    let mut v = serde_json::to_value(item).expect("item");
    let o = v.as_object_mut().expect("object");
    o.insert("id".into(), json!(format!("item_{n}")));
    if let Some(Value::Array(parts)) = o.get_mut("content") {
        for p in parts {
            p["annotations"] = json!([]);
        }
        o.insert("status".into(), json!("completed"));
    }
    v
}

/// Runs one turn's events through a `Turn`: the given output items, then `terminal`.
fn turn_with(
    req: &ResponsesRequest,
    lite: bool,
    outputs: &[Value],
    terminal: Value,
) -> Option<Chain> {
    let mut t = Turn::new(req.clone(), lite);
    t.observe(&ev(
        json!({"type":"response.created","response":{"id":"resp_1"}}),
    ));
    for (i, item) in outputs.iter().enumerate() {
        t.observe(&ev(
            json!({"type":"response.output_item.done","output_index":i,"item":item}),
        ));
    }
    t.observe(&ev(terminal));
    t.finish()
}

fn completed(outputs: &[InputItem], req: &ResponsesRequest) -> Chain {
    let items: Vec<Value> = outputs
        .iter()
        .enumerate()
        .map(|(n, i)| backend_item(i, n))
        .collect();
    turn_with(
        req,
        false,
        &items,
        json!({"type":"response.completed","response":{"id":"resp_1"}}),
    )
    .expect("a completed turn leaves a chain")
}

#[test]
fn a_chat_client_that_resends_everything_continues_on_its_second_turn() {
    // Turn 1: the user asks; the model thinks and calls a tool.
    let first = request(vec![user("list the files")]);
    let chain = completed(&[reasoning("E1"), call("call_1", None)], &first);
    assert_eq!(chain.len(), 3);
    // Turn 2, as a chat client sends it after the reasoning cache restored the reasoning in front
    // of the call: everything so far, then the tool's output.
    let second = request(vec![
        user("list the files"),
        reasoning("E1"),
        call("call_1", None),
        output("call_1", "a\nb\n"),
    ]);
    assert_eq!(
        Chain::plan(Some(&chain), &second, false),
        Send::Continue {
            previous_response_id: "resp_1".into(),
            held: 3
        }
    );
}

#[test]
fn an_edited_earlier_turn_is_never_a_continuation() {
    let first = request(vec![user("what is 2+2?"), assistant("4"), user("and 3+3?")]);
    let chain = completed(&[assistant("6")], &first);
    let honest = request(vec![
        user("what is 2+2?"),
        assistant("4"),
        user("and 3+3?"),
        assistant("6"),
        user("thanks"),
    ]);
    assert!(matches!(
        Chain::plan(Some(&chain), &honest, false),
        Send::Continue { held: 4, .. }
    ));
    // The same conversation with the first answer edited: same length, same last items.
    let edited = request(vec![
        user("what is 2+2?"),
        assistant("four"),
        user("and 3+3?"),
        assistant("6"),
        user("thanks"),
    ]);
    assert_eq!(Chain::plan(Some(&chain), &edited, false), Send::Full);
    // The model's answer edited by the client.
    let rewritten = request(vec![
        user("what is 2+2?"),
        assistant("4"),
        user("and 3+3?"),
        assistant("six"),
        user("thanks"),
    ]);
    assert_eq!(Chain::plan(Some(&chain), &rewritten, false), Send::Full);
    // A turn taken back (shorter history) and a turn dropped in the middle.
    let shorter = request(vec![user("what is 2+2?"), assistant("4")]);
    assert_eq!(Chain::plan(Some(&chain), &shorter, false), Send::Full);
    let dropped = request(vec![
        user("what is 2+2?"),
        user("and 3+3?"),
        assistant("6"),
        user("thanks"),
        user("again"),
    ]);
    assert_eq!(Chain::plan(Some(&chain), &dropped, false), Send::Full);
}

#[test]
fn another_shape_starts_a_fresh_chain_but_client_metadata_does_not() {
    let first = request(vec![user("hi")]);
    let chain = completed(&[assistant("hello")], &first);
    let next = || request(vec![user("hi"), assistant("hello"), user("bye")]);
    assert!(matches!(
        Chain::plan(Some(&chain), &next(), false),
        Send::Continue { held: 2, .. }
    ));
    type Change = Box<dyn Fn(&mut ResponsesRequest)>;
    let changes: Vec<(&str, Change)> = vec![
        ("model", Box::new(|r| r.model = "gpt-6.2-sol".into())),
        (
            "instructions",
            Box::new(|r| r.instructions = "be long".into()),
        ),
        ("tools", Box::new(|r| r.tools.push(Tool::web_search()))),
        ("no tools", Box::new(|r| r.tools.clear())),
        (
            "tool choice",
            Box::new(|r| {
                r.tool_choice = Some(crate::request::ToolChoice::Mode(
                    crate::request::ToolChoiceMode::Required,
                ))
            }),
        ),
        ("parallel", Box::new(|r| r.parallel_tool_calls = false)),
        (
            "effort",
            Box::new(|r| {
                r.reasoning = Some(Reasoning {
                    effort: Some(ReasoningEffort::High),
                    summary: None,
                })
            }),
        ),
        ("include", Box::new(|r| r.include.push("x".into()))),
        (
            "cache key",
            Box::new(|r| r.prompt_cache_key = Some("other".into())),
        ),
        (
            "text",
            Box::new(|r| {
                r.text = Some(TextControls {
                    verbosity: Some("low".into()),
                    format: None,
                })
            }),
        ),
        (
            "tier",
            Box::new(|r| r.service_tier = Some("priority".into())),
        ),
    ];
    for (what, change) in changes {
        let mut r = next();
        change(&mut r);
        assert_eq!(Chain::plan(Some(&chain), &r, false), Send::Full, "{what}");
    }
    // Per-request bookkeeping is not part of the shape.
    let mut r = next();
    r.client_metadata = Some(serde_json::Map::from_iter([(
        "turn_id".to_owned(),
        json!("t-2"),
    )]));
    r.client_headers = vec![("x-codex-turn-state".into(), "s".into())];
    assert!(matches!(
        Chain::plan(Some(&chain), &r, false),
        Send::Continue { .. }
    ));
    // The same shape on a Lite model is another wire shape.
    assert_eq!(Chain::plan(Some(&chain), &next(), true), Send::Full);
}

#[test]
fn reasoning_that_differs_or_is_missing_sends_everything() {
    let first = request(vec![user("q")]);
    let chain = completed(&[reasoning("E1"), assistant("a")], &first);
    let with = |r: Option<InputItem>| {
        let mut v = vec![user("q")];
        v.extend(r);
        v.extend([assistant("a"), user("q2")]);
        request(v)
    };
    assert!(matches!(
        Chain::plan(Some(&chain), &with(Some(reasoning("E1"))), false),
        Send::Continue { held: 3, .. }
    ));
    // The reasoning cache lost it: the backend would see reasoning the client's history lacks.
    assert_eq!(Chain::plan(Some(&chain), &with(None), false), Send::Full);
    assert_eq!(
        Chain::plan(Some(&chain), &with(Some(reasoning("E2"))), false),
        Send::Full
    );
    let other_summary = InputItem::Reasoning {
        summary: vec![],
        encrypted_content: Some("E1".into()),
    };
    assert_eq!(
        Chain::plan(Some(&chain), &with(Some(other_summary)), false),
        Send::Full
    );
}

#[test]
fn only_a_completed_response_with_replayable_output_can_be_continued() {
    let req = request(vec![user("q")]);
    let msg = backend_item(&assistant("a"), 0);
    for terminal in [
        json!({"type":"response.incomplete","response":{"id":"resp_1"}}),
        json!({"type":"response.failed","response":{"id":"resp_1","error":{"code":"x"}}}),
        json!({"type":"error","code":"x","message":"y"}),
        // Completed, but without an id to continue from.
        json!({"type":"response.completed","response":{}}),
    ] {
        assert!(
            turn_with(&req, false, std::slice::from_ref(&msg), terminal.clone()).is_none(),
            "{terminal}"
        );
    }
    // A stream that ended without a terminal event.
    let mut t = Turn::new(req.clone(), false);
    t.observe(&ev(json!({"type":"response.output_item.done","item":msg})));
    assert!(t.finish().is_none());
    // An output item no client can send back (the backend's own shell call).
    let shell = json!({"type":"local_shell_call","id":"ls_1","call_id":"c","status":"completed"});
    assert!(turn_with(
        &req,
        false,
        &[shell],
        json!({"type":"response.completed","response":{"id":"resp_1"}})
    )
    .is_none());
    // No chain at all: a new socket.
    assert_eq!(Chain::plan(None, &req, false), Send::Full);
}

#[test]
fn after_a_prewarm_the_first_turn_sends_nothing_new() {
    // The codex CLI's prewarm: its first request with `generate: false`, which completes with no
    // output; the real request then continues it with an empty input.
    let req = request(vec![user("q")]);
    let chain = turn_with(
        &req,
        false,
        &[],
        json!({"type":"response.completed","response":{"id":"resp_warm"}}),
    )
    .expect("chain");
    assert_eq!(
        Chain::plan(Some(&chain), &req, false),
        Send::Continue {
            previous_response_id: "resp_warm".into(),
            held: 1
        }
    );
}

#[test]
fn a_lite_models_namespaced_call_matches_the_chat_clients_bare_one() {
    let req = request(vec![user("q")]);
    // The backend answers a Lite model's call in the `functions` namespace.
    let item = backend_item(&call("call_1", Some("functions")), 0);
    let chain = turn_with(
        &req,
        true,
        &[item],
        json!({"type":"response.completed","response":{"id":"resp_1"}}),
    )
    .expect("chain");
    let next = request(vec![
        user("q"),
        call("call_1", None),
        output("call_1", "ok"),
    ]);
    assert!(matches!(
        Chain::plan(Some(&chain), &next, true),
        Send::Continue { held: 2, .. }
    ));
    // Another namespace is another call.
    let other = request(vec![
        user("q"),
        call("call_1", Some("mcp")),
        output("call_1", "ok"),
    ]);
    assert_eq!(Chain::plan(Some(&chain), &other, true), Send::Full);
}

#[test]
fn refusals_and_message_parts_replay_as_chat_clients_send_them() {
    let refusal = json!({"type":"message","id":"m","role":"assistant","status":"completed",
        "content":[{"type":"refusal","refusal":"no"}]});
    assert_eq!(replay_output(&refusal), Some(assistant("no")));
    let text = json!({"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi","annotations":[],"logprobs":[]}]});
    assert_eq!(replay_output(&text), Some(assistant("hi")));
    assert_eq!(
        replay_output(&json!({"type":"message","role":"assistant","content":[]})),
        None
    );
}

// ---- properties ------------------------------------------------------------------------------------

fn item() -> impl Strategy<Value = InputItem> {
    let text = "[a-c]{0,3}";
    prop_oneof![
        text.prop_map(|t| user(&t)),
        text.prop_map(|t| assistant(&t)),
        text.prop_map(|t| reasoning(&t)),
        ("[a-b]{1,2}", text).prop_map(|(id, t)| InputItem::FunctionCall {
            name: "exec".into(),
            namespace: None,
            arguments: t.into(),
            call_id: id,
        }),
        ("[a-b]{1,2}", text).prop_map(|(id, t)| output(&id, &t)),
        text.prop_map(|t| InputItem::Message {
            role: Role::User,
            content: vec![ContentPart::InputImage {
                image_url: t.into(),
                detail: None
            }]
        }),
    ]
}

/// What the backend answers with: text, reasoning, calls.
fn out_item() -> impl Strategy<Value = InputItem> {
    let text = "[a-c]{0,3}";
    prop_oneof![
        text.prop_map(|t| assistant(&t)),
        text.prop_map(|t| reasoning(&t)),
        ("[a-b]{1,2}", text).prop_map(|(id, t)| InputItem::FunctionCall {
            name: "exec".into(),
            namespace: None,
            arguments: t.into(),
            call_id: id,
        }),
    ]
}

/// A change to one item that leaves it a different item.
fn edit(item: &InputItem, salt: u8) -> InputItem {
    let bump = |s: &str| format!("{s}{}", (b'x' + salt % 3) as char);
    match item.clone() {
        InputItem::Message { role, content } => match content.first() {
            Some(ContentPart::InputText { text }) => InputItem::text(role, bump(text)),
            Some(ContentPart::OutputText { text }) => InputItem::text(role, bump(text)),
            _ => InputItem::Message {
                role: Role::Assistant,
                content,
            },
        },
        InputItem::Reasoning {
            encrypted_content, ..
        } => reasoning(&bump(encrypted_content.as_deref().unwrap_or(""))),
        InputItem::FunctionCall {
            name,
            namespace,
            arguments,
            call_id,
        } => InputItem::FunctionCall {
            name,
            namespace,
            arguments: bump(&arguments).into(),
            call_id,
        },
        InputItem::FunctionCallOutput { call_id, .. } => output(&bump(&call_id), "x"),
        other => other,
    }
}

fn model(slug: &str) -> ModelInfo {
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

fn wire_input(body: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(body).expect("json");
    v["input"].as_array().cloned().unwrap_or_default()
}

proptest! {
    /// A history that continues what the backend holds is a continuation whose held part is exactly
    /// that; any single edit, removal or insertion inside the held part is not.
    #[test]
    fn only_exact_prefixes_continue(
        sent in proptest::collection::vec(item(), 0..6),
        out in proptest::collection::vec(out_item(), 0..4),
        new in proptest::collection::vec(item(), 0..4),
        at in any::<prop::sample::Index>(),
        salt in any::<u8>(),
        kind in 0u8..3,
    ) {
        let first = request(sent.clone());
        let chain = completed(&out, &first);
        let mut history: Vec<InputItem> = sent.iter().chain(&out).cloned().collect();
        let held = history.len();
        history.extend(new.iter().cloned());
        let plan = Chain::plan(Some(&chain), &request(history.clone()), false);
        prop_assert_eq!(plan.held(), Some(held));
        prop_assert_eq!(plan.previous_response_id(), Some("resp_1"));

        if held > 0 {
            let i = at.index(held);
            let mut changed = history.clone();
            match kind {
                0 => changed[i] = edit(&changed[i], salt),
                1 => { changed.remove(i); }
                _ => changed.insert(i, edit(&changed[i], salt)),
            }
            // An edit that happens to leave the held part as it was (removing one of two equal
            // neighbours) is no edit of it.
            let unchanged = changed.len() >= held && changed[..held] == history[..held];
            let plan = Chain::plan(Some(&chain), &request(changed), false);
            prop_assert_eq!(plan == Send::Full, !unchanged);
        }
    }

    /// A continuation's body holds exactly the items a full render would send after the held ones,
    /// with the same ids: nothing the backend holds is sent again, nothing new is lost.
    #[test]
    fn the_continuation_is_the_tail_of_the_full_render(
        input in proptest::collection::vec(item(), 1..8),
        held in any::<prop::sample::Index>(),
        lite in any::<bool>(),
    ) {
        let slug = if lite { "gpt-6.2-sol" } else { "gpt-5.5" };
        let m = model(slug);
        let req = request(input.clone());
        let full = wire_input(&render(req.clone(), Some(&m), &ids(), 0).expect("render").body);
        let n = held.index(input.len() + 1);
        // One set of ids for both (each `ids()` draws a new turn id).
        let same = ids();
        let tail = crate::render::render_tail(
            req.clone_from_item(n), Some(&m), &same, RequestKind::Turn { started_at_ms: 0 }, n,
        ).expect("render");
        let from = render_from(req, Some(&m), &same, 0, Some(n)).expect("render");
        // Rendered from a copy without the held items: the same bytes.
        prop_assert_eq!(&tail.body, &from.body);
        let part = wire_input(&from.body);
        prop_assert_eq!(&full[full.len() - (input.len() - n)..], &part[..]);
    }
}
