//! Conversation ids: the codex CLI names each conversation with a UUIDv7 (`session-id`, `thread-id`,
//! `x-client-request-id`, `prompt_cache_key`). codex-serve is stateless, so the conversation is known by
//! its cache key (the client's `prompt_cache_key`, or one derived from the conversation's start); each
//! key gets one UUIDv7, kept while it is in use, so the backend sees one stable id per conversation.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Conversations remembered at once; the oldest is forgotten first (it then gets a new id).
const MAX_CONVERSATIONS: usize = 8192;

/// One conversation's ids: the session (thread) and its context window, both UUIDv7s. The window would
/// change with a compaction, which a proxy never does on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub session: String,
    pub context_window: String,
}

impl Conversation {
    fn new() -> Conversation {
        Conversation {
            session: uuid::Uuid::now_v7().to_string(),
            context_window: uuid::Uuid::now_v7().to_string(),
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    inner: Mutex<(HashMap<String, Conversation>, VecDeque<String>)>,
}

impl Sessions {
    /// The conversation's ids; fresh ones when there is no key.
    pub fn id_for(&self, key: Option<&str>) -> Conversation {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Conversation::new();
        };
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if let Some(id) = map.get(key) {
            return id.clone();
        }
        while map.len() >= MAX_CONVERSATIONS {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
        let id = Conversation::new();
        map.insert(key.to_owned(), id.clone());
        order.push_back(key.to_owned());
        id
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_uuid_v7_per_conversation() {
        let s = super::Sessions::default();
        let a = s.id_for(Some("conv-a"));
        assert_eq!(s.id_for(Some("conv-a")), a);
        assert_ne!(s.id_for(Some("conv-b")), a);
        assert_ne!(s.id_for(None), s.id_for(None));
        assert_ne!(a.session, a.context_window);
        for id in [&a.session, &a.context_window] {
            assert_eq!(
                uuid::Uuid::parse_str(id).expect("uuid").get_version_num(),
                7
            );
        }
    }
}
