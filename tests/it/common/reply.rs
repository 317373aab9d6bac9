//! What a test reads of codex-serve's answer, and the request bodies and upstream views it checks,
//! shared by both tiers: `tests/it/common` (a spawned server) has it as a module, and the in-process
//! tier (`src/in_process`) includes this same file, so a case moves between them unchanged.

use bytes::Bytes;
use serde_json::{json, Value};

/// A whole answer: status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The lines of an NDJSON body, each parsed.
    pub fn ndjson(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l:?}"))
            })
            .collect()
    }

    /// `(event name, data)` of each SSE frame, in order.
    pub fn sse_events(&self) -> Vec<(String, Value)> {
        self.text()
            .split("\n\n")
            .filter(|f| !f.trim().is_empty())
            .map(|frame| {
                let mut name = String::new();
                let mut data = Value::Null;
                for line in frame.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d)
                            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {d:?}"));
                    }
                }
                (name, data)
            })
            .collect()
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn sse_data(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter_map(|frame| frame.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts the OpenAI error shape and returns the error object.
    pub fn error(&self) -> Value {
        let v = self.json();
        let e = v
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("no error object: {v}"));
        for k in ["message", "type", "param", "code"] {
            assert!(e.get(k).is_some(), "error lacks {k}: {e}");
        }
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        e
    }
}

pub fn chat(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": text}]})
}

pub fn chat_stream(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "stream": true, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": text}]})
}

/// The conversation as sent upstream: the input items after the tools item and the system message,
/// without the ids and namespaces the codex CLI's shape adds.
pub fn conversation(body: &Value) -> Vec<Value> {
    let items = body["input"].as_array().cloned().unwrap_or_default();
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|i| i["type"] != "additional_tools")
        .collect();
    if !items.is_empty() && items[0]["type"] == "message" && items[0]["role"] == "developer" {
        items.remove(0);
    }
    for i in &mut items {
        if let Some(o) = i.as_object_mut() {
            o.remove("id");
            o.remove("namespace");
        }
    }
    items
}

/// The system text codex-serve sent upstream: the leading `developer` message, as the codex CLI 0.171
/// sends its prompt (no top-level `instructions`).
pub fn sent_instructions(body: &Value) -> String {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"] == "message")
        .filter(|i| i["role"] == "developer")
        .map(|i| i["content"][0]["text"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

/// The client's tools as sent upstream, whatever the model's shape: top-level `tools` (classic) or the
/// `additional_tools` item with the function tools in the `functions` namespace (Responses Lite),
/// flattened back into one list.
pub fn sent_tools(body: &Value) -> Vec<Value> {
    let listed = match body.get("tools") {
        Some(Value::Array(tools)) => tools.clone(),
        _ => body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["type"] == "additional_tools")
            .and_then(|i| i["tools"].as_array().cloned())
            .unwrap_or_default(),
    };
    listed
        .into_iter()
        .flat_map(|t| {
            if t["type"] == "namespace" && t["name"] == "functions" {
                t["tools"].as_array().cloned().unwrap_or_default()
            } else {
                vec![t]
            }
        })
        .collect()
}
