//! Finished responses of `/v1/responses`, kept so a client can continue with `previous_response_id`.
//!
//! The backend runs with `store: false` and refuses `previous_response_id`, so this process keeps the
//! conversation: each stored response holds the full item list (its input, and its output as input items,
//! encrypted reasoning included) that the next turn is built on. In memory only, per user process; bounded
//! by count and bytes, oldest out first, with a time to live.

use std::sync::Arc;
use std::time::Duration;

use codex_client::request::InputItem;
use serde_json::Value;

use crate::core::bounded::{item_bytes, BoundedMap};

pub(crate) struct Stored {
    /// The response object as the client received it.
    pub(crate) response: Value,
    /// Input and output of the whole conversation up to this response, ready to send upstream again.
    pub(crate) items: Arc<Vec<InputItem>>,
}

pub(crate) struct ResponseStore {
    map: BoundedMap<String, Arc<Stored>>,
    /// The id of each output item of a stored response, to the response: how `item_reference` input
    /// items (the AI SDK's way to replay earlier output) are found again.
    item_ids: BoundedMap<String, String>,
}

/// An output item of a response, as an input item of the next turn; `None` for items that cannot be
/// replayed (built-in tool calls).
pub(crate) fn replay_item(item: &Value) -> Option<InputItem> {
    // The codex crate's conversion: the upstream socket's chain compares what it held with what this
    // replays, so both must be the one function.
    codex_client::request::replay_output(item)
}

impl ResponseStore {
    pub(crate) fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> Self {
        ResponseStore {
            map: BoundedMap::new(max_entries, max_bytes, ttl),
            item_ids: BoundedMap::new(max_entries.saturating_mul(16), max_bytes / 8, ttl),
        }
    }

    /// The output item with this id of a stored response, as an input item.
    pub(crate) fn item(&self, item_id: &str) -> Option<InputItem> {
        let response_id = self.item_ids.get(item_id)?;
        let stored = self.map.get(&response_id)?;
        stored
            .response
            .get("output")?
            .as_array()?
            .iter()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(item_id))
            .and_then(replay_item)
    }

    pub(crate) fn put(&self, id: String, response: Value, items: Arc<Vec<InputItem>>) {
        // A rough size: the response's JSON and the conversation's text. Serialising the conversation
        // to measure it cost more than the rest of a long conversation's turn.
        let bytes = response.to_string().len() + items.iter().map(item_bytes).sum::<usize>();
        let item_ids: Vec<String> = response
            .get("output")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let stored = Arc::new(Stored { response, items });
        if self.map.insert(id.clone(), stored, bytes) {
            for item_id in item_ids {
                let bytes = item_id.len() + id.len();
                self.item_ids.insert(item_id, id.clone(), bytes);
            }
        } else {
            tracing::debug!(
                bytes,
                "response not kept for previous_response_id (too large, or keeping none)"
            );
        }
    }

    /// The stored response, unless unknown or expired.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Stored>> {
        self.map.get(id)
    }

    pub(crate) fn remove(&self, id: &str) -> bool {
        self.map.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_client::request::Role;
    use serde_json::json;

    #[test]
    fn replays_messages_calls_and_reasoning_but_not_builtins() {
        let msg = replay_item(
            &json!({"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi"}]}),
        );
        assert_eq!(msg, Some(InputItem::text(Role::Assistant, "hi")));
        let call =
            replay_item(&json!({"type":"function_call","call_id":"c","name":"f","arguments":"{}"}));
        assert!(matches!(call, Some(InputItem::FunctionCall { .. })));
        let r = replay_item(
            &json!({"type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"E"}),
        );
        assert!(
            matches!(r, Some(InputItem::Reasoning { encrypted_content: Some(ref e), .. }) if e == "E")
        );
        // The backend's own searches are replayed as the codex CLI replays them.
        assert!(matches!(
            replay_item(
                &json!({"type":"web_search_call","status":"completed","action":{"type":"search"}})
            ),
            Some(InputItem::WebSearchCall { .. })
        ));
        assert_eq!(replay_item(&json!({"type":"local_shell_call"})), None);
    }

    #[test]
    fn bounded_and_expiring() {
        let s = ResponseStore::new(2, 1 << 20, Duration::from_secs(60));
        for i in 0..3 {
            s.put(
                format!("r{i}"),
                json!({"id": i}),
                Arc::new(vec![InputItem::text(Role::User, "x")]),
            );
        }
        assert!(s.get("r0").is_none());
        s.put(
            "r9".into(),
            json!({"output": [{"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "E"}]}),
            Arc::default(),
        );
        assert!(matches!(s.item("rs_1"), Some(InputItem::Reasoning { .. })));
        assert!(s.item("rs_2").is_none());
        assert!(s.get("r2").is_some());
        assert!(s.remove("r2"));
        assert!(s.get("r2").is_none());
        let expired = ResponseStore::new(10, 1 << 20, Duration::from_millis(0));
        expired.put("r".into(), json!({}), Arc::default());
        assert!(expired.get("r").is_none());
    }
}
