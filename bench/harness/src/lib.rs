//! Shared pieces of the benchmark harness: the fixed Codex answer the static upstream serves.
//!
//! The stream has the shape the Codex backend sends for a short text answer: lifecycle events, one message
//! item whose text arrives as a few deltas, the `.done` events, and `response.completed` with usage. It is
//! rendered once at start-up, so serving it costs the upstream nothing but the write.

use bytes::Bytes;
use serde_json::{json, Value};

pub const MODEL: &str = "gpt-6.2-sol";
const RESPONSE_ID: &str = "resp_bench0000000000000000000000";
const ITEM_ID: &str = "msg_bench00000000000000000000000";
const CREATED_AT: i64 = 1_764_000_000;

/// The answer's text, as the backend would split it into deltas (roughly one token each).
pub const DELTAS: &[&str] = &[
    "Hello", "!", " How", " can", " I", " help", " you", " today", "?",
];

/// One SSE frame: `event: <type>` and `data: <json>`, ended by a blank line.
fn frame(data: &Value) -> Bytes {
    let kind = data["type"].as_str().unwrap_or("message");
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

fn response(status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": true,
        "store": false,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    })
}

/// The whole answer, split where the upstream writes: `head` goes out at once, then one frame per delta,
/// then `tail`. `deltas[k]` holds exactly the k-th text delta.
pub struct Answer {
    pub head: Bytes,
    pub deltas: Vec<Bytes>,
    pub tail: Bytes,
}

impl Answer {
    pub fn render() -> Answer {
        let text: String = DELTAS.concat();
        let mut seq = 0u64;
        let mut next = || {
            seq += 1;
            seq - 1
        };
        let message = |status: &str, content: Value| json!({"id": ITEM_ID, "type": "message", "status": status, "role": "assistant", "content": content});
        let part = json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text});
        let mut head = Vec::new();
        for ev in [
            json!({"type": "response.created", "sequence_number": next(),
                   "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.in_progress", "sequence_number": next(),
                   "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "sequence_number": next(), "output_index": 0,
                   "item": message("in_progress", json!([]))}),
            json!({"type": "response.content_part.added", "sequence_number": next(), "item_id": ITEM_ID,
                   "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
        ] {
            head.extend_from_slice(&frame(&ev));
        }
        let deltas = DELTAS
            .iter()
            .map(|d| {
                frame(
                    &json!({"type": "response.output_text.delta", "sequence_number": next(),
                              "item_id": ITEM_ID, "output_index": 0, "content_index": 0,
                              "delta": d, "logprobs": []}),
                )
            })
            .collect();
        let usage = json!({
            "input_tokens": 1234,
            "input_tokens_details": {"cached_tokens": 1024},
            "output_tokens": DELTAS.len(),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1234 + DELTAS.len(),
        });
        let mut tail = Vec::new();
        for ev in [
            json!({"type": "response.output_text.done", "sequence_number": next(), "item_id": ITEM_ID,
                   "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": next(), "item_id": ITEM_ID,
                   "output_index": 0, "content_index": 0, "part": part}),
            json!({"type": "response.output_item.done", "sequence_number": next(), "output_index": 0,
                   "item": message("completed", json!([part]))}),
            json!({"type": "response.completed", "sequence_number": next(),
                   "response": response("completed", json!([message("completed", json!([part]))]), usage)}),
        ] {
            tail.extend_from_slice(&frame(&ev));
        }
        Answer {
            head: Bytes::from(head),
            deltas,
            tail: Bytes::from(tail),
        }
    }

    /// All of it in one buffer, for the fast path.
    pub fn whole(&self) -> Bytes {
        let mut all = Vec::with_capacity(
            self.head.len() + self.tail.len() + self.deltas.iter().map(Bytes::len).sum::<usize>(),
        );
        all.extend_from_slice(&self.head);
        for d in &self.deltas {
            all.extend_from_slice(d);
        }
        all.extend_from_slice(&self.tail);
        Bytes::from(all)
    }
}

/// The `{base}/models` answer: a small catalog in the backend's shape.
pub fn catalog() -> Bytes {
    let level = |e: &str| json!({"effort": e, "description": e});
    let model = |slug: &str, priority: u32| {
        json!({
            "slug": slug, "display_name": slug, "visibility": "list", "supported_in_api": true,
            "priority": priority, "default_reasoning_level": "medium",
            "supported_reasoning_levels": [level("low"), level("medium"), level("high")],
            "shell_type": "shell_command", "context_window": 272000,
        })
    };
    let doc =
        json!({"models": [model(MODEL, 1), model("gpt-5.6-luna", 2), model("gpt-5.6-sol", 3)]});
    Bytes::from(doc.to_string())
}

/// A JWT-shaped token (unsigned; nobody here checks signatures) with these claims.
pub fn fake_jwt(claims: &Value) -> String {
    use base64_url as b;
    format!(
        "{}.{}.{}",
        b::encode(br#"{"alg":"none","typ":"JWT"}"#),
        b::encode(claims.to_string().as_bytes()),
        b::encode(b"bench-signature")
    )
}

/// Just enough base64url (no padding) for [`fake_jwt`], to keep the harness's dependencies small.
mod base64_url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[cfg(test)]
    #[test]
    fn known_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"\xfb\xff"), "-_8");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_well_formed_sse_with_every_delta_and_usage() {
        let a = Answer::render();
        let whole = String::from_utf8(a.whole().to_vec()).expect("utf8");
        let frames: Vec<&str> = whole.split_terminator("\n\n").collect();
        assert_eq!(frames.len(), 4 + DELTAS.len() + 4);
        for f in &frames {
            let (event, data) = f.split_once('\n').expect("two lines");
            let v: Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("data")).expect("json");
            assert_eq!(event.strip_prefix("event: "), v["type"].as_str());
        }
        assert!(frames
            .last()
            .is_some_and(|f| f.contains("\"total_tokens\":1243")));
        for (k, d) in a.deltas.iter().enumerate() {
            let d = std::str::from_utf8(d).expect("utf8");
            assert!(d.contains(&format!("\"delta\":{}", json!(DELTAS[k]))));
        }
    }
}
