//! The translation's cases, and a fuzz of it: any JSON is a plan or a 400, never a panic.

mod cases {
    use super::super::*;
    use crate::api::anthropic::wire::*;
    use serde_json::{json, Value};

    fn translate(v: Value) -> Result<Translated, ApiError> {
        crate::core::json::parse_json::<MessagesRequest>(&serde_json::to_vec(&v).expect("json"))?
            .translate()
    }

    #[test]
    fn blocks_become_items_in_order() {
        let t = translate(json!({"model":"m","max_tokens":10,
            "system":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}],
            "messages":[
                {"role":"user","content":[{"type":"text","text":"look"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
                    {"type":"image","source":{"type":"url","url":"https://x/y.png"}}]},
                {"role":"assistant","content":[
                    {"type":"thinking","thinking":"hm","signature":signature("ENC")},
                    {"type":"thinking","thinking":"theirs","signature":"EqQBCkgIAR..."},
                    {"type":"text","text":"calling"},
                    {"type":"tool_use","id":"toolu_1","name":"f","input":{"x":1}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"toolu_1","content":"42"},
                    {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,"content":[{"type":"text","text":"boom"}]},
                    {"type":"text","text":"go on"}]}]}))
        .expect("translate");
        assert_eq!(t.plan.instructions.as_deref(), Some("a\n\nb"));
        let v = serde_json::to_value(&t.plan.input).expect("json");
        let kinds: Vec<&str> = v
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "reasoning",
                "message",
                "function_call",
                "function_call_output",
                "function_call_output",
                "message"
            ]
        );
        assert_eq!(
            v[0]["content"][1]["image_url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(v[0]["content"][2]["image_url"], "https://x/y.png");
        assert_eq!(v[1]["encrypted_content"], "ENC");
        assert_eq!(v[1]["summary"][0]["text"], "hm");
        assert_eq!(v[2]["content"][0]["type"], "output_text");
        assert_eq!(v[3]["arguments"], "{\"x\":1}");
        assert_eq!(v[4]["output"], "42");
        assert_eq!(v[5]["output"], "Error: boom");
        assert_eq!(t.thinking, Thinking::Off);
    }

    #[test]
    fn thinking_effort_tools_and_refusals() {
        let t = translate(json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "thinking":{"type":"enabled","budget_tokens":10000},
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},
            "tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}],
            "metadata":{"user_id":"session-1"}}))
        .expect("translate");
        assert_eq!(t.thinking, Thinking::Summarized);
        assert_eq!(t.plan.effort, Want::Near(ReasoningEffort::Medium));
        assert_eq!(
            t.plan.tool_choice,
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
        );
        assert!(!t.plan.parallel_tool_calls);
        assert!(matches!(t.plan.tools[1], Tool::WebSearch { .. }));
        assert_eq!(t.plan.cache_key.as_deref(), Some("session-1"));

        let t = translate(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "thinking":{"type":"adaptive","display":"omitted"},"output_config":{"effort":"max",
            "format":{"type":"json_schema","schema":{"type":"object"}}}}),
        )
        .expect("translate");
        assert_eq!(t.thinking, Thinking::Omitted);
        assert_eq!(t.plan.effort, Want::Near(ReasoningEffort::Xhigh));
        assert!(t.plan.text.is_some());

        for (body, needle) in [
            (json!({"model":"m","messages":[]}), "messages"),
            (
                json!({"model":"m","messages":[{"role":"tool","content":"x"}]}),
                "role",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"x"}}]}]}),
                "document",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}),
                "Files API",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"bash_20250124","name":"bash"}]}),
                "bash_20250124",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"sometimes"}}),
                "thinking",
            ),
        ] {
            let e = translate(body).err().expect("refused");
            assert!(
                e.message.contains(needle)
                    || e.param.as_deref().is_some_and(|p| p.contains(needle)),
                "{needle}: {e:?}"
            );
        }
        // A text document is text.
        let t = translate(
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"document",
            "source":{"type":"text","media_type":"text/plain","data":"the doc"}}]}]}),
        )
        .expect("text document");
        assert_eq!(
            serde_json::to_value(&t.plan.input).expect("json")[0]["content"][0]["text"],
            "the doc"
        );
    }

    #[test]
    fn system_messages_are_developer_items_in_place() {
        // As Claude Code sends them with the mid-conversation-system beta: after the user's turn, as a
        // string or as text blocks with cache_control.
        let t = translate(json!({"model":"claude-opus-5-5","system":"base","messages":[
            {"role":"user","content":"hi"},
            {"role":"system","content":"remember the plan"},
            {"role":"assistant","content":"ok"},
            {"role":"system","content":[{"type":"text","text":"now","cache_control":{"type":"ephemeral"}}]},
            {"role":"user","content":"go"}]}))
        .expect("translate");
        assert_eq!(t.plan.instructions.as_deref(), Some("base"));
        let v = serde_json::to_value(&t.plan.input).expect("json");
        let roles: Vec<&str> = v
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["role"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            roles,
            ["user", "developer", "assistant", "developer", "user"]
        );
        assert_eq!(v[1]["content"][0]["type"], "input_text");
        assert_eq!(v[3]["content"][0]["text"], "now");
        let e = translate(
            json!({"model":"m","messages":[{"role":"system","content":[{"type":"image",
            "source":{"type":"url","url":"https://x/y.png"}}]}]}),
        )
        .err()
        .expect("an image in a system message is refused");
        assert_eq!(e.param.as_deref(), Some("messages[0].content"));
    }

    #[test]
    fn budgets_map_to_efforts() {
        assert_eq!(budget_effort(1024), ReasoningEffort::Low);
        assert_eq!(budget_effort(4000), ReasoningEffort::Low);
        assert_eq!(budget_effort(10_000), ReasoningEffort::Medium);
        assert_eq!(budget_effort(31_999), ReasoningEffort::High);
        assert_eq!(budget_effort(64_000), ReasoningEffort::Xhigh);
        assert_eq!(encrypted_content(&signature("E")), Some("E"));
        assert_eq!(encrypted_content("EqQB"), None);
        assert_eq!(encrypted_content(SIGNATURE_PREFIX), None);
    }
}

mod fuzz {
    use crate::api::anthropic::wire::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "user",
        "assistant",
        "text",
        "image",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "document",
        "base64",
        "url",
        "file",
        "enabled",
        "adaptive",
        "disabled",
        "omitted",
        "auto",
        "any",
        "tool",
        "none",
        "json_schema",
        "web_search_20250305",
        "custom",
        "codex-serve.reasoning.v1:E",
        "max",
        "",
    ];
    const KEYS: &[&str] = &[
        "model",
        "messages",
        "role",
        "content",
        "type",
        "text",
        "source",
        "media_type",
        "data",
        "url",
        "id",
        "name",
        "input",
        "tool_use_id",
        "is_error",
        "thinking",
        "signature",
        "system",
        "tools",
        "input_schema",
        "tool_choice",
        "budget_tokens",
        "display",
        "output_config",
        "effort",
        "format",
        "schema",
        "metadata",
        "user_id",
        "max_tokens",
        "stream",
    ];

    proptest! {
        #[test]
        fn any_json_is_translated_or_refused(v in crate::fuzz::json(WORDS, KEYS)) {
            let bytes = serde_json::to_vec(&v).expect("json");
            if let Ok(req) = crate::core::json::parse_json::<MessagesRequest>(&bytes) {
                if let Ok(t) = req.translate() {
                    prop_assert!(!t.plan.input.is_empty());
                }
            }
        }
    }
}
