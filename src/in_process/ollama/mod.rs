//! The Ollama API in process: the router, the mock backend.

use super::{self as common};

use common::{Options, Server};
use serde_json::{json, Value};

mod chat;
mod models;
mod tools;

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn chat(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": text}]})
}

fn content(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect()
}
