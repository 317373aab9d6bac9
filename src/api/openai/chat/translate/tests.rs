//! The chat translation's cases, and a fuzz of it.

mod cases {
    use super::super::*;
    use crate::core::app::Defaults;
    use crate::core::prepare::split_model;
    use codex_client::request::ReasoningSummary;

    fn defaults() -> Defaults {
        Defaults {
            instructions: "default".into(),
            reasoning_effort: None,
            reasoning_summary: Some(ReasoningSummary::Auto),
        }
    }

    fn parse(v: Value) -> ChatCompletionRequest {
        serde_json::from_value(v).expect("request")
    }

    #[test]
    fn a_message_is_read_in_one_pass_whatever_its_field_order_and_checked_for_its_role() {
        let body = br#"{"model":"m","messages":[
            {"content":"role last","role":"user"},
            {"role":"assistant","content":null,"tool_calls":null,"refusal":"no"},
            {"role":"tool","content":[{"type":"text","text":"out"}],"tool_call_id":"c1"},
            {"role":"system","content":"x","tool_call_id":"ignored"}]}"#;
        let req: ChatCompletionRequest = crate::core::json::parse_json(body).expect("request");
        assert!(
            matches!(&req.messages[0], ChatMessage::User { content: MessageContent::Text(t) } if t == "role last")
        );
        assert!(matches!(&req.messages[1],
            ChatMessage::Assistant { content: None, refusal: Some(r), tool_calls } if r == "no" && tool_calls.is_empty()));
        assert!(matches!(&req.messages[2],
            ChatMessage::Tool { content: MessageContent::Parts(p), tool_call_id } if p.len() == 1 && tool_call_id == "c1"));
        assert!(matches!(&req.messages[3], ChatMessage::System { .. }));
        for (body, says, at) in [
            (
                r#"{"model":"m","messages":[{"role":"user"}]}"#,
                "missing field `content`",
                "messages[0]",
            ),
            (
                r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
                "missing field `tool_call_id`",
                "messages[0]",
            ),
            (
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                "unknown variant `robot`",
                "messages[0].role",
            ),
            (
                r#"{"model":"m","messages":[{"content":"x"}]}"#,
                "missing field `role`",
                "messages[0]",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":7}]}"#,
                "expected a string or an array of content parts",
                "messages[0].content",
            ),
        ] {
            let e = crate::core::json::parse_json::<ChatCompletionRequest>(body.as_bytes())
                .expect_err(body);
            assert!(e.message.contains(says), "{body}: {}", e.message);
            assert_eq!(e.param.as_deref(), Some(at), "{body}");
        }
    }

    #[test]
    fn system_goes_to_instructions_and_later_guidance_to_developer() {
        let t = parse(serde_json::json!({"model":"gpt-6.2-sol","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":"hi"},
            {"role":"assistant","content":"hello"},
            {"role":"system","content":"now be formal"},
            {"role":"developer","content":[{"type":"text","text":"dev"}]},
            {"role":"user","content":"again"}]}))
        .translate(None)
        .map(|p| p.offline(&defaults()))
        .expect("translate");
        let v = serde_json::to_value(&t.request).expect("json");
        assert_eq!(v["instructions"], "be brief");
        let roles: Vec<_> = v["input"]
            .as_array()
            .expect("input")
            .iter()
            .map(|i| i["role"].clone())
            .collect();
        assert_eq!(
            roles,
            ["user", "assistant", "developer", "developer", "user"]
        );
        assert_eq!(v["store"], false);
        assert!(v.get("temperature").is_none());
    }

    #[test]
    fn cache_key_is_stable_across_turns_and_client_ids_win() {
        let turn1 =
            parse(serde_json::json!({"model":"m","messages":[{"role":"user","content":"q"}]}))
                .translate(None)
                .map(|p| p.offline(&defaults()))
                .expect("t1");
        let turn2 = parse(serde_json::json!({"model":"m","messages":[
            {"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"q2"}]}))
        .translate(None).map(|p| p.offline(&defaults()))
        .expect("t2");
        assert_eq!(
            turn1.request.prompt_cache_key,
            turn2.request.prompt_cache_key
        );
        let own = parse(
            serde_json::json!({"model":"m","user":"u1","messages":[{"role":"user","content":"q"}]}),
        )
        .translate(Some("hdr"))
        .map(|p| p.offline(&defaults()))
        .expect("own");
        assert_eq!(own.request.prompt_cache_key.as_deref(), Some("u1"));
    }

    #[test]
    fn effort_suffixes_and_bad_input() {
        assert_eq!(
            split_model("gpt-6.2-sol-high"),
            ("gpt-6.2-sol", Some(ReasoningEffort::High))
        );
        assert_eq!(
            split_model("gpt-6.2-sol:xhigh"),
            ("gpt-6.2-sol", Some(ReasoningEffort::Xhigh))
        );
        assert_eq!(split_model("gpt-5.6-luna"), ("gpt-5.6-luna", None));
        let err = parse(serde_json::json!({"model":"m","messages":[]}))
            .translate(None)
            .map(|p| p.offline(&defaults()))
            .err()
            .expect("empty messages");
        assert_eq!(err.param.as_deref(), Some("messages"));
        let err = parse(
            serde_json::json!({"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}),
        )
        .translate(None)
        .map(|p| p.offline(&defaults()))
        .err()
        .expect("n");
        assert_eq!(err.param.as_deref(), Some("n"));
        assert!(serde_json::from_value::<ChatCompletionRequest>(
            serde_json::json!({"model":"m","messages":[{"role":"wizard","content":"x"}]})
        )
        .is_err());
        let err = parse(serde_json::json!({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}))
            .translate(None).map(|p| p.offline(&defaults()))
            .err()
            .expect("audio");
        assert!(err.message.contains("input_audio"));
    }
}

mod fuzz {
    //! The translator takes client JSON: any value, well-formed or not, is an answer or a 400, never a panic.
    use super::super::*;
    use crate::core::app::Defaults;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("user"),
                Just("assistant"),
                Just("system"),
                Just("tool"),
                Just("developer"),
                Just("text"),
                Just("image_url"),
                Just("function"),
                Just("auto"),
                Just("required"),
                Just("high"),
                Just("json_schema"),
                Just("gpt-6.2-sol-high"),
                Just("")
            ]
            .prop_map(|s| Value::String(s.into())),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let keys = prop_oneof![
                Just("model"),
                Just("messages"),
                Just("role"),
                Just("content"),
                Just("type"),
                Just("text"),
                Just("tool_calls"),
                Just("id"),
                Just("function"),
                Just("name"),
                Just("arguments"),
                Just("tool_call_id"),
                Just("tools"),
                Just("tool_choice"),
                Just("response_format"),
                Just("json_schema"),
                Just("schema"),
                Just("image_url"),
                Just("url"),
                Just("n"),
                Just("reasoning_effort"),
                Just("stream"),
                Just("refusal")
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_is_translated_or_refused(v in json()) {
            let defaults = Defaults {
                instructions: "d".into(),
                reasoning_effort: None,
                reasoning_summary: None,
            };
            let bytes = serde_json::to_vec(&v).expect("json");
            if let Ok(req) = crate::core::json::parse_json::<ChatCompletionRequest>(&bytes) {
                if let Ok(t) = req.translate(None).map(|p| p.offline(&defaults)) {
                    prop_assert!(!t.request.instructions.is_empty());
                    prop_assert!(!t.request.input.is_empty());
                }
            }
        }
    }
}
