//! The typed events: the shapes the backend sends, and the fast parser against the derived one.

use super::*;

#[test]
fn parses_the_event_shapes_the_backend_sends() {
    let e: ResponseEvent =
        serde_json::from_str(r#"{"type":"response.output_text.delta","delta":"hi"}"#)
            .expect("delta");
    assert!(matches!(e, ResponseEvent::OutputTextDelta { ref delta, .. } if delta == "hi"));

    let e: ResponseEvent = serde_json::from_str(
        r#"{"type":"response.completed","response":{"id":"r","usage":{"input_tokens":3,"input_tokens_details":null,"output_tokens":2,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":5}}}"#,
    )
    .expect("completed");
    let ResponseEvent::Completed { response } = e else {
        panic!("not completed")
    };
    let usage = response.usage.expect("usage");
    assert_eq!(usage.input_tokens_details.cached_tokens, 0);
    assert_eq!(usage.output_tokens_details.reasoning_tokens, 1);

    let e: ResponseEvent = serde_json::from_str(
        r#"{"type":"response.output_item.done","item":{"type":"web_search_call","id":"ws"}}"#,
    )
    .expect("other item");
    assert!(matches!(
        e,
        ResponseEvent::OutputItemDone {
            item: OutputItem::Other,
            ..
        }
    ));

    let e: ResponseEvent =
        serde_json::from_str(r#"{"type":"response.brand_new","x":1}"#).expect("unknown type");
    assert!(matches!(e, ResponseEvent::Other));
}

mod fast_parse {
    //! `ResponseEvent::from_json` agrees with the derived `Deserialize` on any event: same variant and
    //! fields, and an error exactly when the derived form errs.
    use super::*;
    use proptest::prelude::*;

    fn derived(s: &str) -> Result<ResponseEvent, serde_json::Error> {
        serde_json::from_str(s)
    }

    fn agree(s: &str) {
        let fast = ResponseEvent::from_json(s);
        let slow = derived(s);
        assert_eq!(
            format!("{:?}", fast.as_ref().ok()),
            format!("{:?}", slow.as_ref().ok()),
            "{s}"
        );
        assert_eq!(fast.is_err(), slow.is_err(), "{s}: {fast:?} / {slow:?}");
    }

    const KINDS: &[&str] = &[
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "error",
        "response.content_part.added",
        "response.output_text.done",
        "response.metadata",
        "something.new",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (0u32..5).prop_map(|n| n.to_string()),
            Just("1.5".to_string()),
            "\\PC{0,8}".prop_map(|t| serde_json::Value::String(t).to_string()),
            Just(r#""esc\"aped\n""#.to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just(r#"{"id":"r","model":"m","created_at":5,"usage":{"input_tokens":3,"input_tokens_details":null,"output_tokens":2,"total_tokens":5}}"#.to_string()),
            Just(r#"{"id":7}"#.to_string()),
            Just(r#"{"error":{"code":"c","message":"m"},"incomplete_details":{"reason":"max_output_tokens"},"output":[{"x":1}]}"#.to_string()),
            Just(r#"{"type":"message","id":"m","content":[{"type":"output_text","text":"hi"},{"type":"refusal","refusal":"no"},{"type":"x"}]}"#.to_string()),
            Just(r#"{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}"#.to_string()),
            Just(r#"{"type":"function_call","name":"f"}"#.to_string()),
            Just(r#"{"type":"reasoning","summary":[{"text":"t"}],"encrypted_content":"e"}"#.to_string()),
            Just(r#"{"type":"web_search_call","id":"w"}"#.to_string()),
        ]
    }

    fn event() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("delta"),
            Just("item_id"),
            Just("output_index"),
            Just("summary_index"),
            Just("response"),
            Just("item"),
            Just("code"),
            Just("message"),
            Just("type"),
            Just("extra"),
        ];
        (
            proptest::sample::select(KINDS),
            proptest::collection::vec((key, value()), 0..6),
        )
            .prop_map(|(kind, fields)| {
                let mut s = format!(r#"{{"type":"{kind}""#);
                for (k, v) in fields {
                    s.push_str(&format!(r#","{k}":{v}"#));
                }
                s.push('}');
                s
            })
    }

    #[test]
    fn the_events_the_backend_sends() {
        for s in [
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"hi","logprobs":[]}"#,
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"r","object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":3,"output_tokens":2,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":5}}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc","call_id":"c","name":"f","arguments":"{}"}}"#,
            r#"{"type":"response.in_progress","response":{"id":"r"}}"#,
            r#"{"type":"response.content_part.done","part":{"type":"output_text","text":"x"}}"#,
            r#"{"type":"error","code":"x","message":"y"}"#,
            // Not the fast path: whitespace, `type` later, escapes in the type.
            r#"{ "type": "response.output_text.delta", "delta": "a" }"#,
            r#"{"delta":"a","type":"response.output_text.delta"}"#,
            r#"{"type":"response.output_text\u002edelta","delta":"a"}"#,
            // Errors both ways.
            r#"{"type":"response.output_text.delta"}"#,
            r#"{"type":"response.output_text.delta","delta":"a","type":"x"}"#,
            r#"{"type":"response.created"}"#,
            r#"{"type":"something.new","x":}"#,
            r#"{"type":"response.in_progress"} trailing"#,
            r#"{"type":"response.refusal.delta","delta":"a","item_id":5}"#,
        ] {
            agree(s);
        }
    }

    proptest! {
        #[test]
        fn any_event_parses_as_the_derived_form_does(s in event()) {
            agree(&s);
        }
    }
}
