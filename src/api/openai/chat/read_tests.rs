//! The resent history read once gives exactly what reading the whole body gives.

use serde_json::{json, Value};

use super::*;

fn no_default(_: &mut String) {}

/// What reading `body` whole, with nothing kept, gives: the plan, or the error's message and field.
fn whole(body: &[u8]) -> Result<String, (String, Option<String>)> {
    through(&Resent::default(), body)
}

/// What reading `body` through `bodies` gives.
fn through(bodies: &Resent<Settled>, body: &[u8]) -> Result<String, (String, Option<String>)> {
    read_with(bodies, &no_default, Bytes::copy_from_slice(body), Some("s"))
        .map(|c| format!("{:?} {} {}", c.plan, c.streaming, c.include_usage))
        .map_err(|e| (e.message, e.param))
}

/// An agent loop's turns: each adds an assistant tool call and 4 kB of its output.
fn conversation(turns: usize) -> Vec<Value> {
    let mut m = vec![
        json!({"role": "system", "content": "be brief"}),
        json!({"role": "system", "content": "and exact"}),
        json!({"role": "user", "content": [{"type": "text", "text": "list the files"}]}),
    ];
    for t in 0..turns {
        m.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": format!("call_{t}"), "type": "function",
             "function": {"name": "exec", "arguments": format!("{{\"cmd\":\"ls {t}\"}}")}}]}));
        let alphabet = ['a', 'b', ' ', '"', '\\', '\n', '\u{e9}'];
        let out: String = (0..4096)
            .map(|i| alphabet[(i * 5 + i / 3 + t) % 7])
            .collect();
        m.push(json!({"role": "tool", "tool_call_id": format!("call_{t}"), "content": out}));
    }
    m
}

fn body(messages: &[Value], pretty: bool) -> Vec<u8> {
    // `model` before the messages, the rest after: both sides of the cut.
    let v = json!({"model": "gpt-test", "messages": messages, "stream": true,
        "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {"name": "exec", "parameters": {"type": "object"}}}]});
    if pretty {
        serde_json::to_vec_pretty(&v).expect("json")
    } else {
        serde_json::to_vec(&v).expect("json")
    }
}

/// A store that has kept the body of a `turns`-turn conversation, and that body's text.
fn kept(turns: usize) -> (Resent<Settled>, String) {
    let bodies = Resent::default();
    let first = body(&conversation(turns), false);
    through(&bodies, &first).expect("first");
    (bodies, String::from_utf8(first).expect("utf8"))
}

#[test]
fn every_turn_of_a_growing_conversation_reads_as_the_whole_body_does() {
    for pretty in [false, true] {
        let bodies = Resent::default();
        // More turns than a settled chain holds links (`MAX_DEPTH`): it is copied into one on the way.
        let full = conversation(40);
        let mut hits = 0;
        for turn in 2..=40 {
            let b = body(&full[..3 + 2 * turn], pretty);
            hits += usize::from(bodies.find(&b).is_some());
            assert_eq!(
                through(&bodies, &b),
                whole(&b),
                "turn {turn}, pretty {pretty}"
            );
        }
        // From the turn after the first large body on, every body continues the one before.
        assert_eq!(hits, 38, "pretty {pretty}");
        assert_eq!(
            bodies.len(),
            1,
            "a continued body replaces the one it continues"
        );
    }
}

#[test]
fn an_edited_earlier_message_is_read_whole() {
    let bodies = Resent::default();
    let full = conversation(6);
    let b = body(&full[..9], false);
    through(&bodies, &b).expect("first");
    let mut edited = full[..11].to_vec();
    edited[2] = json!({"role": "user", "content": [{"type": "text", "text": "list the filez"}]});
    let e = body(&edited, false);
    assert!(bodies.find(&e).is_none());
    assert_eq!(through(&bodies, &e), whole(&e));
    // Another model named before the messages is another prefix too.
    let other = String::from_utf8(body(&full[..11], false))
        .expect("utf8")
        .replace("gpt-test", "gpt-other");
    assert!(bodies.find(other.as_bytes()).is_none());
}

#[test]
fn the_same_messages_with_other_fields_after_them_are_read_fresh() {
    let (bodies, text) = kept(4);
    // No new message, and `stream` and the tools changed: only the fields after the messages differ.
    let changed = text.replace("\"stream\":true", "\"stream\":false").replace(
        "\"name\":\"exec\",\"parameters\"",
        "\"name\":\"run\",\"parameters\"",
    );
    assert!(bodies.find(changed.as_bytes()).is_some());
    let (a, w) = (
        through(&bodies, changed.as_bytes()),
        whole(changed.as_bytes()),
    );
    assert_eq!(a, w);
    assert!(a.expect("plan").contains("\"run\""));
}

#[test]
fn a_system_message_after_the_conversation_began_stays_developer_text_when_resumed() {
    let bodies = Resent::default();
    let mut m = conversation(2);
    through(&bodies, &body(&m, false)).expect("first");
    m.push(json!({"role": "system", "content": "now summarise"}));
    let b = body(&m, false);
    assert!(bodies.find(&b).is_some());
    let plan = through(&bodies, &b);
    assert_eq!(plan, whole(&b));
    assert!(plan.expect("plan").contains("now summarise"));
}

#[test]
fn errors_in_the_new_part_name_the_same_field_as_a_whole_read() {
    let full = conversation(4);
    let first = body(&full[..7], false);
    let text = String::from_utf8(body(&full, false)).expect("utf8");
    let cases = [
        // A wrong type in a new message: the index counts the settled messages too.
        text.replace("\"tool_call_id\":\"call_3\"", "\"tool_call_id\":7"),
        // A trailing comma after the settled messages, which cutting them would hide.
        {
            let settled = String::from_utf8(first.clone()).expect("utf8");
            let end = settled.find("],\"stream\"").expect("end of messages");
            format!("{},{}", &settled[..end], &settled[end..])
        },
        // Invalid JSON after the cut.
        text.replace("\"stream\":true", "\"stream\":tru"),
        // A known field of the wrong type after the messages.
        text.replace("\"stream\":true", "\"stream\":\"yes\""),
    ];
    for case in cases {
        let bodies = Resent::default();
        through(&bodies, &first).expect("first");
        let got = through(&bodies, case.as_bytes());
        assert!(got.is_err(), "{case:.80}");
        assert_eq!(got, whole(case.as_bytes()));
    }
}

#[test]
fn small_bodies_are_not_kept() {
    let bodies = Resent::default();
    let small = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    through(&bodies, small.as_bytes()).expect("small");
    assert_eq!(bodies.len(), 0);
}

#[test]
fn a_body_whose_new_messages_cannot_be_located_is_not_kept() {
    // The request parser skips an unknown field without checking its UTF-8; locating the messages does
    // check it. Such a body is answered, but not kept: a later body is never cut where it ends.
    let (bodies, text) = kept(4);
    let end = text.find("],\"stream\"").expect("end of messages");
    let mut odd = text.as_bytes()[..end].to_vec();
    odd.extend_from_slice(b",{\"role\":\"user\",\"content\":\"x\",\"name\":\"\xff\"}");
    odd.extend_from_slice(&text.as_bytes()[end..]);
    assert!(bodies.find(&odd).is_some());
    assert_eq!(through(&bodies, &odd), whole(&odd));
    // Kept, it would have settled just after the comma before the odd message: a trailing comma after
    // the first body's messages would then have been cut into a valid body.
    let trailing = format!("{}, {}", &text[..end], &text[end..]);
    let got = through(&bodies, trailing.as_bytes());
    assert!(got.is_err());
    assert_eq!(got, whole(trailing.as_bytes()));
}
