//! Builders for realistic Codex `/responses` SSE event sequences.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::{now_secs, Chunk, Reply};

/// Model name used in generated events unless the request named one.
pub const DEFAULT_MODEL: &str = "gpt-6.2-sol";

/// Token usage as `(input, cached, output, reasoning)`.
pub type Usage = (u64, u64, u64, u64);

/// One SSE frame: `event: {type}\ndata: {json}\n\n`, the event name taken from the JSON's `type`.
pub fn sse_frame(event: &Value) -> String {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    format!("event: {kind}\ndata: {event}\n\n")
}

/// A 200 SSE reply with one chunk per event and no delays.
pub fn sse_reply(events: &[Value]) -> Reply {
    Reply::Sse {
        headers: Vec::new(),
        chunks: events.iter().map(|e| Chunk::now(sse_frame(e))).collect(),
    }
}

/// An unsigned JWT `base64url(header).base64url(payload).sig` (no padding).
pub fn jwt(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("codex-mock-signature"),
    )
}

/// A plain assistant message streamed as `text_deltas`, then `response.completed`.
pub fn text_events(resp_id: &str, text_deltas: &[&str], usage: Usage) -> Vec<Value> {
    let mut seq = Sequence::new(resp_id);
    seq.message(text_deltas);
    seq.complete(usage)
}

/// A reasoning item (summary streamed as `summary_deltas`), then a message, then `response.completed`.
pub fn reasoning_then_text_events(
    resp_id: &str,
    summary_deltas: &[&str],
    text_deltas: &[&str],
    encrypted: &str,
    usage: Usage,
) -> Vec<Value> {
    let mut seq = Sequence::new(resp_id);
    seq.reasoning(summary_deltas, encrypted);
    seq.message(text_deltas);
    seq.complete(usage)
}

/// One `function_call` item per `(call_id, name, argument_deltas)`, then `response.completed`.
pub fn function_call_events(
    resp_id: &str,
    calls: &[(&str, &str, &[&str])],
    usage: Usage,
) -> Vec<Value> {
    let mut seq = Sequence::new(resp_id);
    for (call_id, name, deltas) in calls {
        seq.function_call(call_id, name, deltas);
    }
    seq.complete(usage)
}

/// A reasoning item, then one `function_call`, then `response.completed`: a first step that thinks
/// before it calls a tool.
pub(crate) fn reasoning_then_call_events(
    resp_id: &str,
    summary_deltas: &[&str],
    encrypted: &str,
    call: (&str, &str, &[&str]),
    usage: Usage,
) -> Vec<Value> {
    let mut seq = Sequence::new(resp_id);
    seq.reasoning(summary_deltas, encrypted);
    seq.function_call(call.0, call.1, call.2);
    seq.complete(usage)
}

/// One `compaction` item (the backend's answer to a `compaction_trigger` input item), then
/// `response.completed`.
pub fn compaction_events(resp_id: &str, encrypted: &str, usage: Usage) -> Vec<Value> {
    let mut seq = Sequence::new(resp_id);
    seq.compaction(encrypted);
    seq.complete(usage)
}

/// Overwrite `response.model` in every event that carries a response object.
pub(crate) fn set_model(events: &mut [Value], model: &str) {
    for event in events {
        if let Some(response) = event.get_mut("response").and_then(Value::as_object_mut) {
            response.insert("model".into(), json!(model));
        }
    }
}

/// Split `text` into about `n` pieces at word boundaries (whitespace stays with the word before it).
pub(crate) fn split_words(text: &str, n: usize) -> Vec<&str> {
    let ends = text
        .split_inclusive(char::is_whitespace)
        .scan(0, |end, word| {
            *end += word.len();
            Some(*end)
        });
    split_at(text, &ends.collect::<Vec<_>>(), n)
}

/// Split `text` into about `n` pieces on character boundaries.
pub(crate) fn split_chars(text: &str, n: usize) -> Vec<&str> {
    let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    split_at(text, &ends, n)
}

/// Cut `text` into `n` runs of the candidate cut points `ends` (ascending char boundaries).
fn split_at<'a>(text: &'a str, ends: &[usize], n: usize) -> Vec<&'a str> {
    if ends.is_empty() {
        return vec![text];
    }
    let mut start = 0;
    let mut pieces = Vec::with_capacity(n);
    for run in ends.chunks(ends.len().div_ceil(n.max(1))) {
        if let Some(&end) = run.last() {
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    pieces
}

/// Accumulates events (numbering them) and the final output items of one response.
struct Sequence {
    resp_id: String,
    suffix: String,
    created_at: i64,
    events: Vec<Value>,
    output: Vec<Value>,
}

impl Sequence {
    fn new(resp_id: &str) -> Self {
        let mut seq = Sequence {
            resp_id: resp_id.to_owned(),
            suffix: resp_id.strip_prefix("resp_").unwrap_or(resp_id).to_owned(),
            created_at: now_secs(),
            events: Vec::new(),
            output: Vec::new(),
        };
        let created = seq.response("in_progress", Vec::new());
        seq.push(json!({"type": "response.created", "response": created}));
        let in_progress = seq.response("in_progress", Vec::new());
        seq.push(json!({"type": "response.in_progress", "response": in_progress}));
        seq
    }

    fn push(&mut self, mut event: Value) {
        if let Some(obj) = event.as_object_mut() {
            obj.insert("sequence_number".into(), json!(self.events.len()));
        }
        self.events.push(event);
    }

    fn response(&self, status: &str, output: Vec<Value>) -> Value {
        json!({
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": DEFAULT_MODEL,
            "output": output,
            "error": null,
            "incomplete_details": null,
        })
    }

    fn message(&mut self, deltas: &[&str]) {
        let idx = self.output.len();
        let id = format!("msg_{}", self.suffix);
        let text: String = deltas.concat();
        let part = |text: &str| json!({"type": "output_text", "annotations": [], "text": text});
        self.push(json!({"type": "response.output_item.added", "output_index": idx, "item":
            {"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}));
        self.push(
            json!({"type": "response.content_part.added", "item_id": id, "output_index": idx,
            "content_index": 0, "part": part("")}),
        );
        for delta in deltas {
            self.push(
                json!({"type": "response.output_text.delta", "item_id": id, "output_index": idx,
                "content_index": 0, "delta": delta}),
            );
        }
        self.push(
            json!({"type": "response.output_text.done", "item_id": id, "output_index": idx,
            "content_index": 0, "text": text}),
        );
        self.push(
            json!({"type": "response.content_part.done", "item_id": id, "output_index": idx,
            "content_index": 0, "part": part(&text)}),
        );
        let item = json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
            "content": [part(&text)]});
        self.push(json!({"type": "response.output_item.done", "output_index": idx, "item": item}));
        self.output.push(item);
    }

    fn reasoning(&mut self, deltas: &[&str], encrypted: &str) {
        let idx = self.output.len();
        let id = format!("rs_{}", self.suffix);
        let text: String = deltas.concat();
        let part = |text: &str| json!({"type": "summary_text", "text": text});
        self.push(
            json!({"type": "response.output_item.added", "output_index": idx,
            "item": {"id": id, "type": "reasoning", "summary": []}}),
        );
        self.push(
            json!({"type": "response.reasoning_summary_part.added", "item_id": id,
            "output_index": idx, "summary_index": 0, "part": part("")}),
        );
        for delta in deltas {
            self.push(
                json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                "output_index": idx, "summary_index": 0, "delta": delta}),
            );
        }
        self.push(
            json!({"type": "response.reasoning_summary_text.done", "item_id": id,
            "output_index": idx, "summary_index": 0, "text": text}),
        );
        self.push(
            json!({"type": "response.reasoning_summary_part.done", "item_id": id,
            "output_index": idx, "summary_index": 0, "part": part(&text)}),
        );
        let item = json!({"id": id, "type": "reasoning", "summary": [part(&text)],
            "encrypted_content": encrypted});
        self.push(json!({"type": "response.output_item.done", "output_index": idx, "item": item}));
        self.output.push(item);
    }

    fn function_call(&mut self, call_id: &str, name: &str, deltas: &[&str]) {
        let idx = self.output.len();
        let id = format!("fc_{}_{idx}", self.suffix);
        let arguments: String = deltas.concat();
        self.push(
            json!({"type": "response.output_item.added", "output_index": idx, "item":
            {"id": id, "type": "function_call", "status": "in_progress", "call_id": call_id,
             "name": name, "arguments": ""}}),
        );
        for delta in deltas {
            self.push(
                json!({"type": "response.function_call_arguments.delta", "item_id": id,
                "output_index": idx, "delta": delta}),
            );
        }
        self.push(
            json!({"type": "response.function_call_arguments.done", "item_id": id,
            "output_index": idx, "arguments": arguments}),
        );
        let item = json!({"id": id, "type": "function_call", "status": "completed",
            "call_id": call_id, "name": name, "arguments": arguments});
        self.push(json!({"type": "response.output_item.done", "output_index": idx, "item": item}));
        self.output.push(item);
    }

    fn compaction(&mut self, encrypted: &str) {
        let idx = self.output.len();
        let id = format!("cmp_{}", self.suffix);
        let item = json!({"id": id, "type": "compaction", "encrypted_content": encrypted});
        self.push(json!({"type": "response.output_item.added", "output_index": idx, "item": item}));
        self.push(json!({"type": "response.output_item.done", "output_index": idx, "item": item}));
        self.output.push(item);
    }

    fn complete(mut self, (input, cached, output, reasoning): Usage) -> Vec<Value> {
        let items = std::mem::take(&mut self.output);
        let mut response = self.response("completed", items);
        response["usage"] = json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input + output,
        });
        self.push(json!({"type": "response.completed", "response": response}));
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_and_completed_shape() {
        let events = text_events("resp_1", &["Hel", "lo"], (10, 4, 2, 0));
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["sequence_number"], json!(i));
        }
        let last = events
            .last()
            .map(|e| e["response"].clone())
            .unwrap_or_default();
        assert_eq!(last["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(last["usage"]["total_tokens"], 12);
        assert_eq!(last["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert!(sse_frame(&events[0]).starts_with("event: response.created\ndata: {"));
    }

    #[test]
    fn reasoning_and_calls_keep_output_indexes() {
        let events = reasoning_then_text_events("resp_2", &["a", "b"], &["x"], "enc", (1, 0, 1, 1));
        let done: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .collect();
        assert_eq!(done[0]["item"]["summary"][0]["text"], "ab");
        assert_eq!(done[0]["item"]["encrypted_content"], "enc");
        assert_eq!(done[1]["output_index"], 1);

        let calls = function_call_events(
            "resp_3",
            &[("c1", "f", &["{\"a\"", ":1}"]), ("c2", "g", &["{}"])],
            (1, 0, 1, 0),
        );
        let completed = &calls[calls.len() - 1]["response"]["output"];
        assert_eq!(completed[0]["arguments"], "{\"a\":1}");
        assert_eq!(completed[1]["call_id"], "c2");
    }

    #[test]
    fn splitting_is_lossless_and_utf8_safe() {
        let text = "echo: héllo wörld — 日本語 🎉";
        let words = split_words(text, 3);
        assert_eq!(words.len(), 3);
        assert_eq!(words.concat(), text);
        let chars = split_chars("日本語🎉", 3);
        assert_eq!(chars.concat(), "日本語🎉");
        assert_eq!(split_words("", 3), vec![""]);
    }

    #[test]
    fn jwt_payload_round_trips() {
        let token = jwt(&json!({"exp": 5}));
        let payload = token.split('.').nth(1).unwrap_or_default();
        let decoded = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        assert_eq!(
            serde_json::from_slice::<Value>(&decoded).ok(),
            Some(json!({"exp": 5}))
        );
    }
}
