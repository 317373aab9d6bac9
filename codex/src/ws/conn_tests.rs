use super::*;

/// The layout of a hand-written body whose strings hold neither `"` nor `,"client_metadata":`.
fn layout(body: &str) -> FrameLayout {
    let start = r#"{"model":""#.len();
    FrameLayout {
        model_end: start + body[start..].find('"').unwrap() + 1,
        metadata_at: body.find(r#","client_metadata":"#).unwrap(),
    }
}

#[test]
fn the_frame_puts_the_ws_fields_where_the_cli_does() {
    let body = r#"{"model":"m","stream":true,"input":[],"text":{},"client_metadata":{"a":"b"}}"#;
    let opts = CreateOptions {
        previous_response_id: Some("resp_1".into()),
        generate: Some(false),
    };
    let frame = create_frame(body.as_bytes(), layout(body), true, &opts).unwrap();
    assert_eq!(
        frame.stamped(1_796_000_000_123),
        r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","stream":true,"input":[],"text":{},"generate":false,"client_metadata":{"a":"b","ws_request_header_x_openai_internal_codex_responses_lite":"true","x-codex-ws-stream-request-start-ms":"1796000000123"}}"#
    );
    // A classic model: no Lite flag; the send time still.
    let plain = create_frame(
        body.as_bytes(),
        layout(body),
        false,
        &CreateOptions::default(),
    )
    .unwrap()
    .stamped(7);
    assert_eq!(
        plain,
        r#"{"type":"response.create","model":"m","stream":true,"input":[],"text":{},"client_metadata":{"a":"b","x-codex-ws-stream-request-start-ms":"7"}}"#
    );
    // Empty metadata: no stray comma.
    let bare = r#"{"model":"m","stream":true,"client_metadata":{}}"#;
    let frame = create_frame(
        bare.as_bytes(),
        layout(bare),
        true,
        &CreateOptions::default(),
    );
    let parsed: Value = serde_json::from_str(&frame.unwrap().stamped(9)).unwrap();
    assert_eq!(parsed["client_metadata"][LITE_METADATA_KEY], "true");
    assert_eq!(parsed["client_metadata"][START_MS_METADATA_KEY], "9");
}

#[test]
fn a_rendered_body_becomes_its_frame_by_its_layout() {
    use crate::request::{InputItem, ResponsesRequest, Role, Tool};
    // Strings the layout must not be fooled by: a tool schema with a `client_metadata` property, a
    // message and a client's metadata value holding quotes and the key's own text.
    let mut req = ResponsesRequest::new(
        "gpt-5.5",
        r#"be "brief""#,
        vec![InputItem::text(
            Role::User,
            "say ,\"client_metadata\":{} and \u{2028} \u{1} é",
        )],
    );
    req.tools = vec![Tool::Function {
        name: "f".into(),
        description: None,
        strict: None,
        parameters: Some(serde_json::json!({"type": "object",
            "properties": {"client_metadata": {"type": "string"}, "model": {}}})),
    }];
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "note".into(),
        Value::String(r#"a","client_metadata":{"b"}"#.into()),
    );
    req.client_metadata = Some(metadata);
    let ids = crate::render::TurnIds::new(
        "01a233ab-7d42-7682-90f4-0cd401510cd9".into(),
        "01a233ab-7daa-7633-8370-88c86b1f5ced".into(),
        "142ffc43-c2fb-4e4c-8ef8-47fabf802bc4".into(),
    );
    let r = crate::render::render(req, None, &ids, 1_796_163_206_647).unwrap();
    let previous = r#"resp_"9"#;
    let opts = CreateOptions {
        previous_response_id: Some(previous.into()),
        generate: Some(true),
    };
    let text = create_frame(&r.body, r.layout, true, &opts)
        .unwrap()
        .stamped(5);
    // The body's fields in their order, each as it was, with the frame's own where the CLI puts them.
    let body: serde_json::Map<String, Value> = serde_json::from_slice(&r.body).unwrap();
    let mut expected = serde_json::Map::new();
    expected.insert("type".into(), Value::String("response.create".into()));
    for (k, v) in body {
        if k == "client_metadata" {
            expected.insert("generate".into(), Value::Bool(true));
        }
        let after_model = k == "model";
        expected.insert(k, v);
        if after_model {
            expected.insert(
                "previous_response_id".into(),
                Value::String(previous.into()),
            );
        }
    }
    let metadata = expected["client_metadata"].as_object_mut().unwrap();
    metadata.insert(LITE_METADATA_KEY.into(), Value::String("true".into()));
    metadata.insert(START_MS_METADATA_KEY.into(), Value::String("5".into()));
    assert_eq!(text, serde_json::to_string(&expected).unwrap());
}

#[test]
fn a_body_without_the_frame_layout_is_an_error_not_a_broken_frame() {
    let body = r#"{"model":"m","stream":true,"client_metadata":{}}"#;
    let good = layout(body);
    for bad in [
        FrameLayout {
            model_end: 999,
            ..good
        },
        FrameLayout {
            metadata_at: 3,
            ..good
        },
        FrameLayout {
            model_end: good.metadata_at + 1,
            ..good
        },
        FrameLayout {
            model_end: 2,
            ..good
        },
    ] {
        let e = create_frame(body.as_bytes(), bad, false, &CreateOptions::default());
        assert!(matches!(e, Err(CodexError::Decode(_))), "{bad:?}");
    }
}

#[test]
fn a_wrapped_error_maps_like_its_http_answer() {
    let e = wrapped_error(r#"{"type":"error","status":401,"error":{"message":"expired"}}"#);
    assert!(matches!(e, Some(CodexError::Unauthorized { .. })));
    let e = wrapped_error(
        r#"{"type":"error","status":429,"error":{"type":"usage_limit_reached","message":"x"}}"#,
    );
    assert!(matches!(e, Some(CodexError::UsageLimit { .. })));
    assert!(wrapped_error(r#"{"type":"error","code":"x","message":"y"}"#).is_none());
    assert!(
        wrapped_error(r#"{"type":"response.output_text.delta","delta":"\"error\""}"#).is_none()
    );
}
