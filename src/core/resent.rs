//! A resent history is read once. A chat-style client sends the whole conversation on every turn: turn
//! 30 of an agent loop carries 120 kB of messages that turn 29 already carried, byte for byte. Reading
//! them again (the type check, then the parse, then the translation) was the part of codex-serve's time
//! that grew with the conversation.
//!
//! [`Resent`] keeps the bodies of recent large requests, each with where its `messages` array's elements
//! end and what reading them gave (`S`, the API's translated messages). A new body that starts with
//! exactly the same bytes up to the end of an earlier body's last message, followed by `,` or `]`, holds
//! the same messages first: only the body without them ([`Hit::rest`]) is read, and the earlier state
//! resumed. Equal bytes are the test, so an edited earlier message, another model named before
//! `messages`, or a reordered field is a miss and the body is read whole. What follows the settled
//! messages (new messages, tools, every field after `messages`) is always read. This is only a parse
//! cache: the upstream chain (`codex_client::ws::chain`) still compares the typed items it would send.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use codex_client::request::InputItem;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Bodies smaller than this are read whole and not kept: too little to gain, and one-shot requests
/// should not pay for the bookkeeping.
pub(crate) const MIN_BODY_BYTES: usize = 8 * 1024;
/// At most this many bodies are kept (about one per active conversation)...
const MAX_ENTRIES: usize = 128;
/// ...and at most this many bytes of them, counted twice for what reading them gave.
const MAX_BYTES: usize = 64 * 1024 * 1024;

pub(crate) struct Resent<S> {
    entries: Mutex<VecDeque<Entry<S>>>,
}

struct Entry<S> {
    body: Bytes,
    /// Where the first element of `messages` begins.
    first: usize,
    /// Where its last element ends: `body[..settled]` is what a continuation must start with.
    settled: usize,
    state: Arc<S>,
}

impl<S> Entry<S> {
    fn cost(&self) -> usize {
        self.body.len() * 2
    }
}

impl<S> Clone for Entry<S> {
    fn clone(&self) -> Self {
        Entry {
            body: self.body.clone(),
            first: self.first,
            settled: self.settled,
            state: self.state.clone(),
        }
    }
}

/// A body that continues a kept one.
pub(crate) struct Hit<S> {
    /// The body without the settled messages: valid JSON with the same fields and the new messages only.
    pub(crate) rest: Vec<u8>,
    /// What reading the settled messages gave.
    pub(crate) state: Arc<S>,
    /// Where the settled messages were cut out of the body, and how many bytes they took.
    cut_at: usize,
    cut_len: usize,
    /// The kept body this one continues, which keeping this one replaces.
    continued: Bytes,
    /// Whether messages follow the settled ones (`,`), or none (`]`).
    more: bool,
}

/// Where `messages`' elements lie in a body that was read whole or as a [`Hit::rest`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spans {
    first: usize,
    settled: usize,
}

#[derive(Deserialize)]
struct Messages<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
}

impl<S> Default for Resent<S> {
    fn default() -> Self {
        Resent {
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl<S> Resent<S> {
    /// The kept body that `body` continues, if any.
    pub(crate) fn find(&self, body: &[u8]) -> Option<Hit<S>> {
        if body.len() < MIN_BODY_BYTES {
            return None;
        }
        // Under the lock only the bytes just before each kept body's end are compared (they differ first
        // between conversations); the whole prefix is compared outside it, so that concurrent requests
        // do not wait on each other's comparisons.
        let mut candidates: Vec<Entry<S>> = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries
                .iter()
                .filter(|e| body.len() > e.settled && ends_alike(body, e))
                .map(Entry::clone)
                .collect()
        };
        // The longest settled prefix wins (several conversations may share a long system prompt).
        candidates.sort_by_key(|e| std::cmp::Reverse(e.settled));
        let e = candidates
            .into_iter()
            .find(|e| body[..e.settled] == e.body[..e.settled])?;
        let after = next_token(body, e.settled)?;
        let (cut_at, resume, more) = match body[after] {
            // `[settled, new…]`: cut the settled elements and the comma. A `]` after the comma is a
            // trailing comma, invalid JSON that the cut would make valid: read such a body whole.
            b',' if next_token(body, after + 1).is_some_and(|i| body[i] != b']') => {
                (e.first, after + 1, true)
            }
            // `[settled]`: no new message; cut the elements, keep the `]`.
            b']' => (e.first, e.settled, false),
            _ => return None,
        };
        let mut rest = Vec::with_capacity(body.len() - (resume - cut_at));
        rest.extend_from_slice(&body[..cut_at]);
        rest.extend_from_slice(&body[resume..]);
        Some(Hit {
            rest,
            state: e.state,
            cut_at,
            cut_len: resume - cut_at,
            continued: e.body,
            more,
        })
    }

    /// Keeps `body`, read as `spans` say, with `state`: the messages read. `replaces`: the [`Hit`] it was
    /// read through, whose kept body is no longer needed (its state lives on in `state`).
    pub(crate) fn keep(&self, body: Bytes, spans: Spans, state: Arc<S>, replaces: Option<&Hit<S>>) {
        let entry = Entry {
            body,
            first: spans.first,
            settled: spans.settled,
            state,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = replaces {
            // The same allocation, not equal bytes: comparing them again would cost what was saved.
            let same = |e: &Entry<S>| {
                e.body.as_ptr() == hit.continued.as_ptr() && e.body.len() == hit.continued.len()
            };
            entries.retain(|e| !same(e));
        }
        entries.push_front(entry);
        let mut total: usize = entries.iter().map(Entry::cost).sum();
        while entries.len() > MAX_ENTRIES || (total > MAX_BYTES && entries.len() > 1) {
            if let Some(old) = entries.pop_back() {
                total -= old.cost();
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

impl<S> Hit<S> {
    /// The spans of the whole body, from [`spans`] of [`Hit::rest`]. `None` when new messages followed
    /// but their spans could not be read (`spans` checks what the request parser may skip, such as the
    /// UTF-8 of an unknown field): such a body is not kept, since where its messages end is unknown.
    pub(crate) fn whole(&self, rest: Option<Spans>) -> Option<Spans> {
        let settled = match (rest, self.more) {
            (Some(s), true) => s.settled + self.cut_len,
            (None, false) => self.cut_at + self.cut_len,
            _ => return None,
        };
        Some(Spans {
            first: self.cut_at,
            settled,
        })
    }
}

/// What the messages of a body settled, to resume from when a later body resends them. A chat
/// message's translation depends only on the message and on whether a conversation message came before
/// it (leading system text is the instructions), so the later body's items are these and then its own.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    earlier: Option<Arc<Settled>>,
    /// This body's own items, after `earlier`'s.
    items: Vec<InputItem>,
    /// How many `earlier` links lead to the first body: bounded by [`MAX_DEPTH`].
    depth: usize,
    /// Leading system text, all of it so far; shared along a conversation's chain, where it rarely
    /// changes after the first body.
    pub(crate) instructions: Arc<Vec<String>>,
    pub(crate) seen_conversation: bool,
}

/// Every this many bodies a conversation's settled items are copied into one: [`Settled::items`] walks
/// fewer links, and dropping a chain never recurses deeper than this.
const MAX_DEPTH: usize = 32;

impl Settled {
    /// What a body settled: `earlier`'s items, then its own, the last `own` of `all` (the request's
    /// whole input).
    pub(crate) fn after(
        earlier: Option<Arc<Settled>>,
        all: &[InputItem],
        own: usize,
        instructions: Arc<Vec<String>>,
        seen_conversation: bool,
    ) -> Settled {
        let depth = earlier.as_ref().map_or(0, |e| e.depth + 1);
        let (earlier, items, depth) = if depth >= MAX_DEPTH {
            (None, all.to_vec(), 0)
        } else {
            (earlier, all[all.len() - own..].to_vec(), depth)
        };
        Settled {
            earlier,
            items,
            depth,
            instructions,
            seen_conversation,
        }
    }

    /// Every item, from the first body on.
    pub(crate) fn items(&self) -> Vec<InputItem> {
        let mut bodies = Vec::new();
        let mut at = Some(self);
        while let Some(s) = at {
            bodies.push(s);
            at = s.earlier.as_deref();
        }
        let mut out = Vec::with_capacity(bodies.iter().map(|s| s.items.len()).sum());
        for s in bodies.iter().rev() {
            out.extend(s.items.iter().cloned());
        }
        out
    }
}

/// Whether the 32 bytes before `e`'s settled end are the same in `body`: a cheap first test.
fn ends_alike<S>(body: &[u8], e: &Entry<S>) -> bool {
    let tail = e.settled.saturating_sub(32);
    body[tail..e.settled] == e.body[tail..e.settled]
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
fn next_token(body: &[u8], at: usize) -> Option<usize> {
    (at..body.len()).find(|&i| !matches!(body[i], b' ' | b'\t' | b'\n' | b'\r'))
}

/// Where `messages`' elements lie in `body`; `None` when it has none, or is not a JSON object with a
/// `messages` array (the request parser then says what is wrong).
pub(crate) fn spans(body: &[u8]) -> Option<Spans> {
    let m: Messages<'_> = serde_json::from_slice(body).ok()?;
    let base = body.as_ptr() as usize;
    let offset = |raw: &RawValue| raw.get().as_ptr() as usize - base;
    let first = m.messages.first()?;
    let last = m.messages.last()?;
    Some(Spans {
        first: offset(first),
        settled: offset(last) + last.get().len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body with `n` messages of `size` bytes each, then `tail`.
    fn body(n: usize, size: usize, sep: &str, tail: &str) -> Vec<u8> {
        let msgs: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "{{\"role\":\"user\",\"content\":\"{i}{}\"}}",
                    "x".repeat(size)
                )
            })
            .collect();
        format!(
            "{{\"model\":\"m\",\"messages\":[{}]{tail}}}",
            msgs.join(sep)
        )
        .into_bytes()
    }

    fn kept(r: &Resent<usize>, b: &[u8], state: usize) {
        let spans = spans(b).expect("spans");
        r.keep(Bytes::copy_from_slice(b), spans, Arc::new(state), None);
    }

    #[test]
    fn the_rest_is_the_body_without_the_settled_messages() {
        let r = Resent::default();
        let first = body(2, 5000, ",", "");
        kept(&r, &first, 1);
        // One more message, with spaces around the comma: the rest holds it alone.
        let text = String::from_utf8(first).expect("utf8");
        let next = text.replace(
            "\"}]}",
            "\"} ,\n {\"role\":\"user\",\"content\":\"2\"}],\"stream\":true}",
        );
        let next = next.as_bytes();
        let hit = r.find(next).expect("continues");
        assert_eq!(*hit.state, 1);
        let rest: serde_json::Value = serde_json::from_slice(&hit.rest).expect("valid JSON");
        assert_eq!(rest["messages"].as_array().map(Vec::len), Some(1));
        assert!(rest["messages"][0]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with('2')));
        assert_eq!(rest["stream"], true);
        // Mapped back, the spans are the whole body's.
        let whole = hit.whole(spans(&hit.rest)).expect("spans");
        let direct = spans(next).expect("spans");
        assert_eq!((whole.first, whole.settled), (direct.first, direct.settled));
    }

    #[test]
    fn no_new_message_leaves_an_empty_array() {
        let r = Resent::default();
        let b = body(2, 5000, ",", "");
        kept(&r, &b, 1);
        let same = body(2, 5000, ",", ",\"stream\":false");
        let hit = r.find(&same).expect("continues");
        let rest: serde_json::Value = serde_json::from_slice(&hit.rest).expect("valid JSON");
        assert_eq!(rest["messages"], serde_json::json!([]));
        let whole = hit.whole(spans(&hit.rest)).expect("spans");
        assert_eq!(whole.settled, spans(&same).expect("spans").settled);
    }

    #[test]
    fn only_an_exact_prefix_continues() {
        let r = Resent::default();
        kept(&r, &body(2, 5000, ",", ""), 1);
        // A changed byte in a settled message, and a body that ends where the settled part does.
        let mut edited = body(3, 5000, ",", "");
        edited[40] = b'y';
        assert!(r.find(&edited).is_none());
        let same = body(2, 5000, ",", "");
        let end = spans(&same).expect("spans").settled;
        assert!(r.find(&same[..end]).is_none());
        assert!(
            r.find(&same[..end + 1]).is_some(),
            "the same messages again: a hit"
        );
        // Small bodies are never looked up.
        assert!(r.find(&body(1, 10, ",", "")).is_none());
    }

    #[test]
    fn the_longest_settled_prefix_wins_and_the_store_is_bounded() {
        let r = Resent::default();
        kept(&r, &body(2, 5000, ",", ""), 2);
        // Read whole, not through a hit, the second is kept beside the first.
        kept(&r, &body(3, 5000, ",", ",\"user\":\"a\""), 3);
        assert_eq!(r.len(), 2);
        let next = body(4, 5000, ",", "");
        let hit = r.find(&next).expect("continues");
        assert_eq!(*hit.state, 3, "the longer settled prefix");
        // Kept through the hit, the body replaces the one it continued, and only that one.
        let spans_next = spans(&next).expect("spans");
        r.keep(Bytes::from(next), spans_next, Arc::new(4), Some(&hit));
        assert_eq!(r.len(), 2);
        assert_eq!(r.find(&body(5, 5000, ",", "")).map(|h| *h.state), Some(4));
        for i in 0..(MAX_ENTRIES + 10) {
            let other = format!(
                "{{\"model\":\"m{i}\",\"messages\":[{{\"c\":\"{}\"}}]}}",
                "z".repeat(9000)
            );
            kept(&r, other.as_bytes(), i);
        }
        assert_eq!(r.len(), MAX_ENTRIES);
    }
}
