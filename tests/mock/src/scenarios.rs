//! Answers that let agent loops end: a request whose last input item is a tool's result is answered
//! with text that quotes it (`tool said: <output>`), so a client that ran the tool the mock asked for
//! (`mock:tool NAME ARGS_JSON`) gets a final answer instead of the same call again.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::events;

/// A directive on a line of its own after other text (Claude Code puts `<system-reminder>`s before
/// the user's words in the same message): the text from that line on.
pub(crate) fn directive_text(text: &str) -> &str {
    match text.rfind("\nmock:") {
        Some(at) if !text.trim_start().starts_with("mock:") => &text[at + 1..],
        _ => text,
    }
}

/// The text of the tool result that ends the request's input, if it ends with one.
pub(crate) fn tool_result_text(request: &Value) -> Option<String> {
    let last = request.get("input")?.as_array()?.last()?;
    match last.get("type").and_then(Value::as_str)? {
        "function_call_output" | "custom_tool_call_output" => {}
        _ => return None,
    }
    Some(match last.get("output")? {
        Value::String(s) => s.clone(),
        // Content parts: their texts.
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    })
}

/// The type of the request's last input item.
fn last_kind(request: &Value) -> Option<&str> {
    let last = request.get("input")?.as_array()?.last()?;
    last.get("type")?.as_str()
}

/// Whether the input ends with `{"type":"compaction_trigger"}`: the client asks the backend to compact
/// the history before it (earlier triggers were answered, and replaced, already).
pub(crate) fn asks_for_compaction(request: &Value) -> bool {
    last_kind(request) == Some("compaction_trigger")
}

/// Whether the input ends with a `compaction` item: the client goes on from a compacted history, in
/// which the tool results before it are gone, so a `mock:call` would call again for ever.
pub(crate) fn resumes_from_compaction(request: &Value) -> bool {
    last_kind(request) == Some("compaction")
}

/// The answer to a compaction request, or to the first request after one; `None` for any other.
/// `tokens` is `(input, cached)`.
pub(crate) fn compaction_events(
    request: &Value,
    user_text: &str,
    resp_id: &str,
    (input, cached): (u64, u64),
) -> Option<Vec<Value>> {
    if asks_for_compaction(request) {
        // The history so far comes back as one opaque item, which says what it replaced.
        let items = request
            .get("input")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let encrypted = STANDARD.encode(format!(
            "codex-mock compaction of {items} items for {resp_id}"
        ));
        return Some(events::compaction_events(
            resp_id,
            &encrypted,
            (input, cached, 1, 0),
        ));
    }
    if resumes_from_compaction(request) {
        let answer = format!("after compaction: {user_text}");
        let words = u64::try_from(answer.split_whitespace().count()).unwrap_or(u64::MAX);
        let deltas = events::split_words(&answer, 3);
        return Some(events::text_events(
            resp_id,
            &deltas,
            (input, cached, words, 0),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_trailing_tool_result_counts() {
        let req = json!({"input": [{"role": "user", "content": "x"},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "42"}]});
        assert_eq!(tool_result_text(&req).as_deref(), Some("42"));
        let parts = json!({"input": [{"type": "function_call_output", "call_id": "c",
            "output": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]});
        assert_eq!(tool_result_text(&parts).as_deref(), Some("ab"));
        let user_last = json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"},
            {"role": "user", "content": "go on"}]});
        assert_eq!(tool_result_text(&user_last), None);
    }

    #[test]
    fn compaction_is_asked_for_and_resumed_from_by_the_last_item() {
        let ask =
            json!({"input": [{"role": "user", "content": "x"}, {"type": "compaction_trigger"}]});
        assert!(asks_for_compaction(&ask) && !resumes_from_compaction(&ask));
        let resume = json!({"input": [{"role": "user", "content": "x"},
            {"type": "compaction", "encrypted_content": "e"}]});
        assert!(resumes_from_compaction(&resume) && !asks_for_compaction(&resume));
        assert!(!asks_for_compaction(&json!({"input": "x"})));

        let events = compaction_events(&ask, "x", "resp_9", (5, 0)).unwrap_or_default();
        let done = events
            .iter()
            .find(|e| e["type"] == "response.output_item.done");
        let item = done.map(|e| e["item"].clone()).unwrap_or_default();
        assert_eq!(item["type"], "compaction");
        let decoded = STANDARD
            .decode(item["encrypted_content"].as_str().unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(decoded, b"codex-mock compaction of 2 items for resp_9");
        let last = events.last().map(|e| e["response"]["output"][0].clone());
        assert_eq!(last, Some(item));
        let resumed = compaction_events(&resume, "x", "resp_10", (5, 0)).unwrap_or_default();
        let text = resumed
            .iter()
            .find(|e| e["type"] == "response.output_text.done");
        assert_eq!(
            text.map(|e| e["text"].clone()),
            Some(json!("after compaction: x"))
        );
        assert!(compaction_events(&json!({"input": "x"}), "x", "resp_11", (1, 0)).is_none());
    }
}
