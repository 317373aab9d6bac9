use super::*;

const FN: Shape = Shape::Obj(&[("name", Shape::Str), ("parameters", Shape::Obj(&[]))]);
static T: Shape = Shape::Obj(&[
    ("temperature", Shape::Num),
    ("max_tokens", Shape::Int),
    ("stop", Shape::OneOf(&[Shape::Str, Shape::Arr(&Shape::Str)])),
    (
        "tools",
        Shape::Arr(&Shape::Obj(&[("type", Shape::Str), ("function", FN)])),
    ),
]);

fn err(body: &str) -> Mismatch {
    check(body.as_bytes(), &T).expect_err(body)
}

#[test]
fn names_the_field_in_openais_words() {
    let m = err(r#"{"temperature":"hot"}"#);
    assert_eq!(m.param, "temperature");
    assert_eq!(
        m.message,
        "Invalid type for 'temperature': expected a decimal, but got a string instead."
    );
    let m = err(r#"{"max_tokens":1.5}"#);
    assert_eq!(
        m.message,
        "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."
    );
    let m = err(r#"{"x":{"a":[1]},"tools":[{"type":"function","function":{"parameters":123}}]}"#);
    assert_eq!(m.param, "tools[0].function.parameters");
    assert!(m.message.contains("expected an object, but got an integer"));
    let m = err(r#"{"stop":5}"#);
    assert!(
        m.message.contains("expected one of a string or an array"),
        "{}",
        m.message
    );
    let m = err(r#"{"stop":["a",{}]}"#);
    assert_eq!(m.param, "stop[1]");
}

#[test]
fn ollama_routes_get_gos_words() {
    static MSG: Shape = Shape::Obj(&[("content", Shape::Str)]);
    static O: Shape = Shape::Obj(&[
        ("messages", Shape::Go("[]api.Message", &Shape::Arr(&MSG))),
        ("stream", Shape::Bool),
    ]);
    let known = Known(&O, Wording::Ollama("ChatRequest"));
    let m = check_as(br#"{"messages":[{"content":[1]}]}"#, known).expect_err("mismatch");
    assert_eq!(
        m.message,
        "json: cannot unmarshal array into Go struct field ChatRequest.messages.content of type string"
    );
    let m = check_as(br#"{"messages":"hi"}"#, known).expect_err("mismatch");
    assert!(
        m.message
            .ends_with("ChatRequest.messages of type []api.Message"),
        "{}",
        m.message
    );
    let m = check_as(br#"{"stream":"yes"}"#, known).expect_err("mismatch");
    assert!(m.message.ends_with("of type bool"), "{}", m.message);
}

#[test]
fn anthropic_routes_get_anthropics_words() {
    let m = check_as(
        br#"{"tools":[{"function":{"parameters":[]}}]}"#,
        Known(&T, Wording::Anthropic),
    )
    .expect_err("mismatch");
    assert_eq!(m.param, "tools.0.function.parameters");
    assert_eq!(
        m.message,
        "tools.0.function.parameters: Input should be a valid dictionary"
    );
}

#[test]
fn scalars_are_typed_as_the_parse_types_them() {
    static S: Shape = Shape::Obj(&[
        ("s", Shape::Str),
        ("i", Shape::Int),
        ("b", Shape::OneOf(&[Shape::Bool, Shape::Str])),
        ("a", Shape::OneOf(&[Shape::Str, Shape::Arr(&Shape::Str)])),
    ]);
    let got = |body: &str| check(body.as_bytes(), &S).err().map(|m| m.message);
    let wrong = |field: &str, expected: &str, kind: &str| {
        Some(format!(
            "Invalid type for '{field}': expected {expected}, but got {kind} instead."
        ))
    };
    assert_eq!(
        got(r#"{"s":-0}"#),
        wrong("s", "a string", "a decimal number")
    );
    assert_eq!(got(r#"{"s":0}"#), wrong("s", "a string", "an integer"));
    assert_eq!(
        got(r#"{"s":-9223372036854775808}"#),
        wrong("s", "a string", "an integer")
    );
    assert_eq!(
        got(r#"{"s":18446744073709551616}"#),
        wrong("s", "a string", "a decimal number")
    );
    assert_eq!(got(r#"{"s":true}"#), wrong("s", "a string", "a boolean"));
    // A key is compared unescaped.
    assert_eq!(got(r#"{"\u0073":1}"#), wrong("s", "a string", "an integer"));
    assert_eq!(got(r#"{"s":{"a":1}}"#), wrong("s", "a string", "an object"));
    assert_eq!(got(r#"{"s":[]}"#), wrong("s", "a string", "an array"));
    assert_eq!(
        got(r#"{"i":1.5}"#),
        wrong("i", "an integer", "a decimal number")
    );
    assert_eq!(got(r#"{"i":"1"}"#), wrong("i", "an integer", "a string"));
    assert_eq!(
        got(r#"{"b":1}"#),
        wrong("b", "one of a boolean or a string", "an integer")
    );
    // A string or an array of them: the array is walked, with its path.
    assert_eq!(
        got(r#"{"a":["x",{"y":1}]}"#),
        wrong("a[1]", "a string", "an object")
    );
    assert_eq!(
        got(r#"{"a":{}}"#),
        wrong("a", "one of a string or an array", "an object")
    );
    for ok in [
        r#"{"i":1E2,"s":"a\"b\u00e9\n"}"#,
        r#"{"i":-0,"b":false}"#,
        r#"{"i":18446744073709551616}"#,
        r#"{"i":2.0,"s":null,"b":"x"}"#,
        // Out of range: the parse fails, and the request's own parser says why.
        r#"{"i":1e400,"s":1}"#,
        r#"{"s":"\x"}"#,
        r#"{"a":"x","b":true}"#,
        r#"{"a":["x","y"]}"#,
        r#"{"a":["x",1e400]}"#,
    ] {
        assert_eq!(got(ok), None, "{ok}");
    }
}

#[test]
fn accepts_good_null_unknown_and_non_json() {
    for ok in [
        r#"{"temperature":0.2,"max_tokens":2.0,"stop":"x","tools":[],"unknown":{"deep":[1,2]}}"#,
        r#"{"temperature":null,"max_tokens":null,"stop":["a"]}"#,
        r#"{"tools":[{"function":{"name":"f","parameters":{"type":"object"}}}]}"#,
        "{not json",
        "",
    ] {
        assert_eq!(check(ok.as_bytes(), &T), Ok(()), "{ok}");
    }
}
