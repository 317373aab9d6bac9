//! The Anthropic Messages API in process: the router, the mock backend.

use super::{self as common};

use common::{Options, Server};
use serde_json::{json, Value};

mod blocks;
mod count_and_errors;
mod models;
mod streaming;

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn msg(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": text}]})
}

/// Checks the SSE frames are Anthropic's: each `event:` name is its data's `type`, blocks open and
/// close in turn, and the message ends with `message_delta` then `message_stop`.
fn check_sequence(events: &[(String, Value)]) {
    assert!(!events.is_empty());
    for (name, data) in events {
        assert_eq!(data["type"], name.as_str(), "{data}");
    }
    assert_eq!(events[0].0, "message_start");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block started while another was open");
                assert_eq!(data["index"], next);
                open = data["index"].as_u64();
                next += 1;
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open),
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(open, None);
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
}

fn deltas(events: &[(String, Value)], kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == kind)
        .filter_map(|(_, d)| d["delta"][field].as_str())
        .collect()
}
