use super::*;

#[test]
fn the_frame_puts_the_ws_fields_where_the_cli_does() {
    let body = br#"{"model":"m","stream":true,"input":[],"text":{},"client_metadata":{"a":"b"}}"#;
    let opts = CreateOptions {
        previous_response_id: Some("resp_1".into()),
        generate: Some(false),
    };
    let frame = create_frame(body, true, &opts).unwrap();
    assert_eq!(
        frame.stamped(1_796_000_000_123).unwrap(),
        r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","stream":true,"input":[],"text":{},"generate":false,"client_metadata":{"a":"b","ws_request_header_x_openai_internal_codex_responses_lite":"true","x-codex-ws-stream-request-start-ms":"1796000000123"}}"#
    );
    // A classic model: no Lite flag; the send time still.
    let plain = create_frame(body, false, &CreateOptions::default())
        .unwrap()
        .stamped(7)
        .unwrap();
    assert!(!plain.contains("generate") && !plain.contains("previous_response_id"));
    assert!(!plain.contains(LITE_METADATA_KEY), "{plain}");
    assert!(
        plain.contains(r#""x-codex-ws-stream-request-start-ms":"7""#),
        "{plain}"
    );
}

#[test]
fn the_frame_copies_the_rendered_fields_as_they_would_serialize_again() {
    // A body as serde_json renders it: the frame's copy of each field is what parsing it into
    // values and serializing them again gave.
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "m", "input": [{"type": "message", "text": "é \" \n \u{2028} \u{1}"}],
        "temperature": 0.1, "big": 12_345_678_901_234_567_890u64, "neg": -3, "f": 1e300,
        "nested": {"b": [true, null, 2.5], "a": {}},
        "client_metadata": {"x": "y"}, "last": []
    }))
    .unwrap();
    let fields: serde_json::Map<String, Value> = serde_json::from_slice(&body).unwrap();
    let mut expected = serde_json::Map::new();
    expected.insert("type".into(), Value::String("response.create".into()));
    for (k, v) in fields {
        expected.insert(k, v);
    }
    expected["client_metadata"][START_MS_METADATA_KEY] = Value::String("5".into());
    let frame = create_frame(&body, false, &CreateOptions::default()).unwrap();
    assert_eq!(
        frame.stamped(5).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
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
