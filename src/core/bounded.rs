//! A map bounded by entry count and by bytes, oldest out first, whose entries expire: the shape of every
//! cache codex-serve keeps in memory; and what a conversation item counts for in its bytes.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use codex_client::request::InputItem;

pub(crate) struct BoundedMap<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
    max_bytes: usize,
    ttl: Duration,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Insertions in order, each with its sequence number; an item whose number is no longer its key's
    /// (replaced or removed since) is stale and skipped. Pruned as it grows.
    order: VecDeque<(K, u64)>,
    bytes: usize,
    seq: u64,
}

struct Entry<V> {
    value: V,
    bytes: usize,
    at: Instant,
    seq: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedMap<K, V> {
    pub(crate) fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> Self {
        BoundedMap {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                seq: 0,
            }),
            max_entries,
            max_bytes,
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `value` (of about `bytes`) under `key`, evicting the oldest entries past the bounds. An
    /// entry larger than the byte bound alone is not kept; returns whether it was.
    pub(crate) fn insert(&self, key: K, value: V, bytes: usize) -> bool {
        if self.max_entries == 0 || bytes > self.max_bytes {
            return false;
        }
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        let entry = Entry {
            value,
            bytes,
            at: Instant::now(),
            seq,
        };
        if let Some(old) = inner.map.insert(key.clone(), entry) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        inner.order.push_back((key, seq));
        while inner.map.len() > self.max_entries || inner.bytes > self.max_bytes {
            let Some((oldest, seq)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&oldest).is_some_and(|e| e.seq == seq) {
                if let Some(e) = inner.map.remove(&oldest) {
                    inner.bytes -= e.bytes;
                }
            }
        }
        if inner.order.len() > self.max_entries.saturating_mul(4) {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, seq)| map.get(k).is_some_and(|e| e.seq == *seq));
        }
        true
    }

    /// The value, unless absent or expired (an expired one is dropped on the way).
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.lock();
        let fresh = inner.map.get(key).map(|e| e.at.elapsed() < self.ttl)?;
        if !fresh {
            if let Some(e) = inner.map.remove(key) {
                inner.bytes -= e.bytes;
            }
            return None;
        }
        inner.map.get(key).map(|e| e.value.clone())
    }

    pub(crate) fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.lock();
        match inner.map.remove(key) {
            Some(e) => {
                inner.bytes -= e.bytes;
                true
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// About what a conversation item takes in memory, for the caches' byte bounds: its text, and a fixed
/// part for the rest. Items without much text of their own (built-in tool calls, tool lists) are
/// measured as JSON.
pub(crate) fn item_bytes(item: &InputItem) -> usize {
    use codex_client::request::{ContentPart, ToolOutput};
    let part = |p: &ContentPart| match p {
        ContentPart::InputText { text } | ContentPart::OutputText { text } => text.len(),
        ContentPart::InputImage { image_url, .. } => image_url.len(),
        ContentPart::Refusal { refusal } => refusal.len(),
    };
    let output = |o: &ToolOutput| match o {
        ToolOutput::Text(t) => t.len(),
        ToolOutput::Parts(parts) => parts.iter().map(part).sum(),
    };
    let own = match item {
        InputItem::Message { content, .. } => content.iter().map(part).sum(),
        InputItem::FunctionCall {
            name,
            namespace,
            arguments,
            call_id,
        } => {
            name.len() + namespace.as_ref().map_or(0, String::len) + arguments.len() + call_id.len()
        }
        InputItem::FunctionCallOutput { call_id, output: o }
        | InputItem::CustomToolCallOutput { call_id, output: o } => call_id.len() + output(o),
        InputItem::CustomToolCall {
            call_id,
            name,
            input,
            ..
        } => call_id.len() + name.len() + input.len(),
        InputItem::Compaction { encrypted_content } => encrypted_content.len(),
        InputItem::Reasoning {
            summary,
            encrypted_content,
        } => {
            summary.iter().map(|s| s.text.len()).sum::<usize>()
                + encrypted_content.as_ref().map_or(0, String::len)
        }
        other => serde_json::to_vec(other).map_or(0, |v| v.len()),
    };
    own + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes_and_expiring() {
        let m = BoundedMap::new(2, 100, Duration::from_secs(60));
        for i in 0..3 {
            assert!(m.insert(i, i, 10));
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&0), None);
        assert_eq!(m.get(&2), Some(2));
        assert!(!m.insert(9, 9, 101), "larger than the byte bound");
        assert!(m.insert(3, 3, 95));
        assert_eq!(m.len(), 1, "bytes evicted the rest");
        assert!(m.remove(&3));
        assert!(m.is_empty());

        let expired = BoundedMap::new(10, 100, Duration::ZERO);
        expired.insert("k", 1, 1);
        assert_eq!(expired.get("k"), None);
        assert!(expired.is_empty());

        // Replacing a key keeps the order queue from growing without bound, and an old insertion of a
        // key does not evict its newer value.
        let m = BoundedMap::new(2, 1000, Duration::from_secs(60));
        for _ in 0..100 {
            m.insert("same", 1, 1);
        }
        assert!(m.lock().order.len() <= 8);
        let m = BoundedMap::new(2, 1000, Duration::from_secs(60));
        m.insert("a", 1, 1);
        m.insert("b", 2, 1);
        m.insert("a", 3, 1);
        m.insert("c", 4, 1);
        assert_eq!(m.get("a"), Some(3), "the re-inserted key is the newest");
        assert_eq!(m.get("b"), None);
    }
}
