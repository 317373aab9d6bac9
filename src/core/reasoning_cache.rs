//! Reasoning continuity for chat clients.
//!
//! The backend keeps no state (`store: false`), and chat clients never send reasoning back. The codex CLI
//! keeps the model's reasoning across a tool loop by replaying the encrypted reasoning items in front of
//! the turn that produced them; we do the same for chat clients. Each remembered turn is keyed by what the
//! client will send back verbatim: its tool call ids, and otherwise its assistant text. Bounded by entries
//! and bytes, oldest first out, with a time to live.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use codex_client::events::MessageContent;
use codex_client::request::{InputItem, SummaryText};
use codex_client::{OutputItem, ResponseEvent};

use crate::core::bounded::{item_bytes, BoundedMap};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Call(String),
    Text(u64),
}

pub(crate) struct ReasoningCache {
    map: BoundedMap<Key, Arc<Vec<InputItem>>>,
}

/// What one assistant turn produced, collected while its events go by.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    pub(crate) reasoning: Vec<InputItem>,
    pub(crate) call_ids: Vec<String>,
    pub(crate) text: String,
}

impl Turn {
    /// Notes what a finished output item means for the next request's history.
    pub(crate) fn observe(&mut self, ev: &ResponseEvent) {
        let ResponseEvent::OutputItemDone { item, .. } = ev else {
            return;
        };
        match item {
            // Without the encrypted content there is nothing the backend can resume from.
            OutputItem::Reasoning {
                summary,
                encrypted_content: Some(enc),
                ..
            } => self.reasoning.push(InputItem::Reasoning {
                summary: summary
                    .iter()
                    .map(|s| SummaryText {
                        text: s.text.clone(),
                    })
                    .collect(),
                encrypted_content: Some(enc.clone()),
            }),
            OutputItem::FunctionCall { call_id, .. } => self.call_ids.push(call_id.clone()),
            OutputItem::Message { content, .. } => {
                for c in content {
                    if let MessageContent::OutputText { text } = c {
                        self.text.push_str(text);
                    }
                }
            }
            _ => {}
        }
    }
}

fn text_key(text: &str) -> Key {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    Key::Text(h.finish())
}

impl ReasoningCache {
    pub(crate) fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> Self {
        ReasoningCache {
            map: BoundedMap::new(max_entries, max_bytes, ttl),
        }
    }

    /// Remembers a finished turn's reasoning under its call ids and its text.
    pub(crate) fn remember(&self, turn: Turn) {
        if turn.reasoning.is_empty() {
            return;
        }
        let items = Arc::new(turn.reasoning);
        let bytes = items.iter().map(item_bytes).sum();
        let mut keys: Vec<Key> = turn.call_ids.into_iter().map(Key::Call).collect();
        if !turn.text.is_empty() {
            keys.push(text_key(&turn.text));
        }
        for key in keys {
            self.map.insert(key, items.clone(), bytes);
        }
    }

    fn get(&self, key: &Key) -> Option<Arc<Vec<InputItem>>> {
        self.map.get(key)
    }

    /// Puts remembered reasoning back in front of the assistant turns of a replayed history.
    pub(crate) fn restore(&self, input: Vec<InputItem>) -> Vec<InputItem> {
        let mut out = Vec::with_capacity(input.len());
        // Where the current assistant turn (its text and its calls) began, and whether it got its reasoning.
        let mut turn: Option<(usize, bool)> = None;
        for item in input {
            let key = match &item {
                InputItem::FunctionCall { call_id, .. } => Some(Key::Call(call_id.clone())),
                InputItem::Message {
                    role: codex_client::request::Role::Assistant,
                    content,
                } => {
                    let text: String = content
                        .iter()
                        .filter_map(|c| match c {
                            codex_client::request::ContentPart::OutputText { text } => {
                                Some(text.as_str())
                            }
                            _ => None,
                        })
                        .collect();
                    Some(text_key(&text))
                }
                // A reasoning item the client replayed itself: this turn needs nothing from us.
                InputItem::Reasoning { .. } => {
                    turn = Some((out.len(), true));
                    out.push(item);
                    continue;
                }
                _ => None,
            };
            match key {
                None => turn = None,
                Some(k) => {
                    let (start, done) = *turn.get_or_insert((out.len(), false));
                    if !done {
                        if let Some(items) = self.get(&k) {
                            out.splice(start..start, items.iter().cloned());
                            turn = Some((start, true));
                        }
                    }
                }
            }
            out.push(item);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_client::request::Role;

    fn reasoning(enc: &str) -> InputItem {
        InputItem::Reasoning {
            summary: vec![],
            encrypted_content: Some(enc.into()),
        }
    }

    #[test]
    fn restores_in_front_of_the_turn_by_call_id_or_text() {
        let c = ReasoningCache::new(100, 1 << 20, Duration::from_secs(60));
        c.remember(Turn {
            reasoning: vec![reasoning("E1")],
            call_ids: vec!["call_1".into(), "call_2".into()],
            text: String::new(),
        });
        c.remember(Turn {
            reasoning: vec![reasoning("E2")],
            call_ids: vec![],
            text: "final words".into(),
        });
        let history = vec![
            InputItem::text(Role::User, "q"),
            InputItem::FunctionCall {
                call_id: "call_1".into(),
                name: "f".into(),
                arguments: "{}".into(),
                namespace: None,
            },
            InputItem::FunctionCall {
                call_id: "call_2".into(),
                name: "g".into(),
                arguments: "{}".into(),
                namespace: None,
            },
            InputItem::FunctionCallOutput {
                call_id: "call_1".into(),
                output: "1".to_owned().into(),
            },
            InputItem::text(Role::Assistant, "final words"),
        ];
        let out = c.restore(history);
        assert_eq!(out.len(), 7);
        assert_eq!(out[1], reasoning("E1"));
        assert!(matches!(out[2], InputItem::FunctionCall { .. }));
        assert!(matches!(out[3], InputItem::FunctionCall { .. }));
        assert_eq!(out[5], reasoning("E2"));
    }

    #[test]
    fn bounded_by_entries_and_bytes() {
        let c = ReasoningCache::new(2, 1 << 20, Duration::from_secs(60));
        for i in 0..5 {
            c.remember(Turn {
                reasoning: vec![reasoning("E")],
                call_ids: vec![format!("c{i}")],
                text: String::new(),
            });
        }
        assert_eq!(c.map.len(), 2);
        assert!(c.get(&Key::Call("c4".into())).is_some());
        assert!(c.get(&Key::Call("c0".into())).is_none());

        let small = ReasoningCache::new(100, 200, Duration::from_secs(60));
        small.remember(Turn {
            reasoning: vec![reasoning(&"x".repeat(500))],
            call_ids: vec!["big".into()],
            text: String::new(),
        });
        assert!(small.get(&Key::Call("big".into())).is_none());
    }
}
