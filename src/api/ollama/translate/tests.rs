//! The Ollama request translation's cases, and a fuzz of it.

mod cases {
    use super::super::*;
    use serde_json::json;

    fn msgs(v: Value) -> Vec<Message> {
        serde_json::from_value(v).expect("messages")
    }

    #[test]
    fn images_get_their_type_from_their_bytes() {
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000");
        assert!(image_url(&png, "i")
            .expect("png")
            .starts_with("data:image/png;base64,"));
        let jpg = base64::engine::general_purpose::STANDARD.encode(b"\xff\xd8\xff\xe0rest");
        assert!(image_url(&jpg, "i")
            .expect("jpg")
            .starts_with("data:image/jpeg;base64,"));
        let webp = base64::engine::general_purpose::STANDARD.encode(b"RIFF\0\0\0\0WEBPVP8 ");
        assert!(image_url(&webp, "i")
            .expect("webp")
            .starts_with("data:image/webp"));
        assert!(image_url("data:image/gif;base64,R0lG", "i").is_ok());
        let txt = base64::engine::general_purpose::STANDARD.encode(b"hello world, not an image");
        assert_eq!(
            image_url(&txt, "i").err().and_then(|e| e.param),
            Some("i".into())
        );
        assert!(image_url("!!!!", "i").is_err());
        assert!(image_url("", "i").is_err());
    }

    #[test]
    fn tool_results_find_their_calls() {
        let c = conversation(msgs(json!([
            {"role":"system","content":"be brief"},
            {"role":"user","content":"weather in Oslo and Rome?"},
            {"role":"assistant","content":"","tool_calls":[
                {"function":{"name":"weather","arguments":{"city":"Oslo"}}},
                {"id":"own","function":{"name":"time","arguments":"{}"}}]},
            {"role":"tool","tool_name":"time","content":"noon"},
            {"role":"tool","content":"-3 C"},
            {"role":"tool","content":"stray"}
        ])))
        .expect("conversation");
        assert_eq!(c.instructions, ["be brief"]);
        let v = serde_json::to_value(&c.input).expect("json");
        assert_eq!(v[1]["call_id"], "call_ollama_2_0");
        assert_eq!(v[1]["arguments"], "{\"city\":\"Oslo\"}");
        assert_eq!(v[2]["call_id"], "own");
        assert_eq!(v[3]["call_id"], "own");
        assert_eq!(v[3]["output"], "noon");
        assert_eq!(v[4]["call_id"], "call_ollama_2_0");
        assert_eq!(v[5]["role"], "user");
        assert!(conversation(msgs(json!([{"role":"wizard","content":"x"}]))).is_err());
    }

    #[test]
    fn think_and_format() {
        assert_eq!(
            ThinkPlan::of(None).expect("unset"),
            ThinkPlan {
                show: true,
                want: Want::Default
            }
        );
        assert_eq!(
            ThinkPlan::of(Some(&Think::On(false))).expect("false").want,
            Want::Least
        );
        assert_eq!(
            ThinkPlan::of(Some(&Think::Level("max".into())))
                .expect("max")
                .want,
            Want::Near(ReasoningEffort::Xhigh)
        );
        assert!(ThinkPlan::of(Some(&Think::Level("hard".into()))).is_err());
        let f: Format = serde_json::from_value(json!({"type":"object"})).expect("schema");
        let t = f.to_text().expect("ok").expect("some");
        assert!(matches!(t.format, Some(TextFormat::JsonSchema { .. })));
        let f: Format = serde_json::from_value(json!("")).expect("empty");
        assert!(f.to_text().expect("ok").is_none());
        let f: Format = serde_json::from_value(json!("yaml")).expect("named");
        assert!(f.to_text().is_err());
    }
}

mod fuzz {
    use super::super::*;
    use crate::api::ollama::wire::{GenerateRequest, OllamaChatRequest};
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "user",
        "assistant",
        "system",
        "tool",
        "function",
        "json",
        "high",
        "max",
        "iVBORw0KGgo=",
        "/9j/4AAQ",
        "data:image/png;base64,AA",
        "",
        "{}",
        "{\"a\":1}",
    ];
    const KEYS: &[&str] = &[
        "model",
        "messages",
        "role",
        "content",
        "images",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "id",
        "tool_name",
        "tool_call_id",
        "tools",
        "type",
        "parameters",
        "format",
        "think",
        "stream",
        "prompt",
        "system",
        "suffix",
        "keep_alive",
    ];

    proptest! {
        #[test]
        fn any_json_is_translated_or_refused(v in crate::fuzz::json(WORDS, KEYS)) {
            let bytes = serde_json::to_vec(&v).expect("json");
            if let Ok(req) = crate::core::json::parse_json::<OllamaChatRequest>(&bytes) {
                let _ = ThinkPlan::of(req.think.as_ref());
                let _ = req.format.as_ref().map(Format::to_text);
                let _ = tools(req.tools);
                let _ = conversation(req.messages.unwrap_or_default());
            }
            if let Ok(req) = crate::core::json::parse_json::<GenerateRequest>(&bytes) {
                let _ = prompt_input(req.prompt.unwrap_or_default(), req.images);
            }
        }
    }
}
