//! Upstream sockets per conversation.
//!
//! One socket per conversation key (the request's `prompt_cache_key`: the client's, or the one the
//! front ends derive from the conversation's start), kept across its turns so that each turn can
//! continue the last response on it ([`Chain`]). A socket carries one request at a time: a second
//! request on the same conversation while the first runs gets a socket of its own. Sockets are
//! bounded in number (the idle one used longest ago is closed to make room) and closed after a time
//! idle. A socket is bound to the credentials and route it was opened with (its `binding`): after a
//! token refresh or a routing change the next turn opens a new one.
//!
//! Generic over the connection so the bookkeeping is tested without a network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::chain::{Chain, Send};
use crate::request::ResponsesRequest;

/// What the pool needs to know of a connection.
pub(crate) trait Socket: std::marker::Send + 'static {
    /// False once the peer closed it or it failed: never lent again. Never waits.
    fn is_open(&mut self) -> bool;

    /// Closes it for good (politely, where that takes I/O: in the background).
    fn retire(self)
    where
        Self: Sized,
    {
    }
}

/// Closes what the pool let go of, outside its lock.
fn retire_all<C: Socket>(sockets: impl IntoIterator<Item = Idle<C>>) {
    for s in sockets {
        s.conn.retire();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Sockets open at once, busy and idle together.
    pub max_sockets: usize,
    /// A socket unused this long is closed.
    pub idle: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_sockets: 64,
            idle: Duration::from_secs(300),
        }
    }
}

/// The counts `status` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Sockets carrying a request now.
    pub busy: usize,
    /// Sockets open and waiting for their conversation's next turn.
    pub idle: usize,
    /// Sockets opened since the start.
    pub opened: u64,
}

struct Idle<C> {
    conn: C,
    binding: u64,
    chain: Option<Chain>,
    since: Instant,
}

struct Inner<C> {
    idle: HashMap<String, Vec<Idle<C>>>,
    idle_count: usize,
    busy: usize,
    /// Conversations whose socket is being opened ahead of their first turn ([`Pool::reserve`]); the
    /// receiver wakes when that is over, whatever came of it.
    opening: HashMap<String, watch::Receiver<()>>,
}

pub(crate) struct Pool<C> {
    cfg: PoolConfig,
    inner: Mutex<Inner<C>>,
    opened: AtomicU64,
    reaper: AtomicBool,
}

/// What a request gets from the pool.
pub(crate) enum Checkout<C: Socket> {
    /// An idle socket of the conversation (in the lease), with what its backend holds.
    Reuse(Lease<C>),
    /// Room for a new socket: the lease holds none yet; connect and [`Lease::finish`] with it.
    Open(Lease<C>),
    /// Every socket is busy and the pool is full: this request goes another way (HTTP).
    Full,
}

/// `Iterator::partition` with a predicate that may take `&mut` (a liveness check reads the socket).
trait PartitionMut<T> {
    fn partition_mut(self, f: impl FnMut(&mut T) -> bool) -> (Vec<T>, Vec<T>);
}

impl<T, I: Iterator<Item = T>> PartitionMut<T> for I {
    fn partition_mut(self, mut f: impl FnMut(&mut T) -> bool) -> (Vec<T>, Vec<T>) {
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        for mut x in self {
            if f(&mut x) {
                yes.push(x)
            } else {
                no.push(x)
            }
        }
        (yes, no)
    }
}

impl<C: Socket> Pool<C> {
    pub(crate) fn new(cfg: PoolConfig) -> Arc<Pool<C>> {
        Arc::new(Pool {
            cfg,
            inner: Mutex::new(Inner {
                idle: HashMap::new(),
                idle_count: 0,
                busy: 0,
                opening: HashMap::new(),
            }),
            opened: AtomicU64::new(0),
            reaper: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let inner = self.lock();
        PoolStats {
            busy: inner.busy,
            idle: inner.idle_count,
            opened: self.opened.load(Ordering::Relaxed),
        }
    }

    /// A socket for `req` on conversation `key`, opened under `binding`. Among the conversation's idle
    /// sockets the one whose backend can continue `req` wins (the longest such chain), else the one used
    /// last. Sockets of the conversation under another binding (a refreshed token, another route) and
    /// closed ones are dropped on the way.
    pub(crate) fn checkout(
        self: &Arc<Self>,
        key: &str,
        binding: u64,
        req: &ResponsesRequest,
        lite: bool,
    ) -> Checkout<C> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut closed = Vec::new();
        let mut found = None;
        if let Some(list) = inner.idle.get_mut(key) {
            let (keep, stale): (Vec<_>, Vec<_>) =
                std::mem::take(list).into_iter().partition_mut(|s| {
                    s.binding == binding
                        && s.conn.is_open()
                        && now.duration_since(s.since) < self.cfg.idle
                });
            *list = keep;
            closed = stale;
            // Best: the longest chain `req` continues; then the socket used last (the list is in
            // order of return, newest last).
            let mut best: Option<(usize, Option<usize>)> = None;
            for (i, s) in list.iter().enumerate() {
                let held = Chain::plan(s.chain.as_ref(), req, lite).held();
                if best.is_none_or(|(_, h)| held >= h) {
                    best = Some((i, held));
                }
            }
            if let Some((i, _)) = best {
                found = Some(list.remove(i));
            }
            if list.is_empty() {
                inner.idle.remove(key);
            }
        }
        inner.idle_count -= closed.len() + usize::from(found.is_some());
        let out = match found {
            Some(s) => {
                inner.busy += 1;
                let send = Chain::plan(s.chain.as_ref(), req, lite);
                Checkout::Reuse(Lease {
                    pool: self.clone(),
                    key: key.to_owned(),
                    binding,
                    conn: Some(s.conn),
                    send,
                    reused: true,
                    done: false,
                })
            }
            None => {
                if inner.busy + inner.idle_count >= self.cfg.max_sockets {
                    match Self::evict_lru(&mut inner) {
                        Some(s) => closed.push(s),
                        None => return Checkout::Full,
                    }
                }
                inner.busy += 1;
                Checkout::Open(self.room(key, binding))
            }
        };
        drop(inner);
        // Closing a connection may do I/O: never under the lock.
        retire_all(closed);
        out
    }

    /// Marks conversation `key`'s socket as being opened ahead of its first turn, unless the
    /// conversation has one idle or on its way. Until the [`Opening`] is dropped, a turn of `key` waits
    /// in [`Pool::opened_ahead`] instead of opening another socket.
    pub(crate) fn announce(self: &Arc<Self>, key: &str) -> Option<Opening<C>> {
        let mut inner = self.lock();
        let has_idle = inner.idle.get(key).is_some_and(|l| !l.is_empty());
        if has_idle || inner.opening.contains_key(key) {
            return None;
        }
        let (done, waiting) = watch::channel(());
        inner.opening.insert(key.to_owned(), waiting);
        Some(Opening {
            pool: self.clone(),
            key: key.to_owned(),
            _done: done,
        })
    }

    /// Room for the socket `opening` announced, under `binding`: only when the conversation still has
    /// no idle socket and the pool has room without closing anyone's idle socket for a guess.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        opening: &Opening<C>,
        binding: u64,
    ) -> Option<Lease<C>> {
        let key = opening.key.as_str();
        let mut inner = self.lock();
        let has_idle = inner.idle.get(key).is_some_and(|l| !l.is_empty());
        if has_idle || inner.busy + inner.idle_count >= self.cfg.max_sockets {
            return None;
        }
        inner.busy += 1;
        Some(self.room(key, binding))
    }

    /// The lease of room for a new socket, counted busy by the caller.
    fn room(self: &Arc<Self>, key: &str, binding: u64) -> Lease<C> {
        Lease {
            pool: self.clone(),
            key: key.to_owned(),
            binding,
            conn: None,
            send: Send::Full,
            reused: false,
            done: false,
        }
    }

    /// Waits, at most `limit`, while a socket for `key` is being opened ahead of its first turn.
    pub(crate) async fn opened_ahead(&self, key: &str, limit: Duration) {
        let waiting = self.lock().opening.get(key).cloned();
        if let Some(mut waiting) = waiting {
            // Nothing is ever sent: `changed` returns when the sender is dropped.
            let _ = tokio::time::timeout(limit, waiting.changed()).await;
        }
    }

    /// Takes out the idle socket used longest ago, of any conversation.
    fn evict_lru(inner: &mut Inner<C>) -> Option<Idle<C>> {
        let (key, i) = inner
            .idle
            .iter()
            .flat_map(|(k, list)| list.iter().enumerate().map(move |(i, s)| (k, i, s.since)))
            .min_by_key(|(_, _, since)| *since)
            .map(|(k, i, _)| (k.clone(), i))?;
        let list = inner.idle.get_mut(&key)?;
        let s = list.remove(i);
        if list.is_empty() {
            inner.idle.remove(&key);
        }
        inner.idle_count -= 1;
        Some(s)
    }

    /// Closes the sockets idle for the configured time or closed by the peer; returns how many.
    pub(crate) fn reap(&self, now: Instant) -> usize {
        let mut inner = self.lock();
        let mut closed = Vec::new();
        inner.idle.retain(|_, list| {
            let (keep, stale): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition_mut(|s| s.conn.is_open() && now.duration_since(s.since) < self.cfg.idle);
            *list = keep;
            closed.extend(stale);
            !list.is_empty()
        });
        inner.idle_count -= closed.len();
        drop(inner);
        let n = closed.len();
        retire_all(closed);
        n
    }

    /// Starts the reaper once (the first request runs inside the runtime the pool's owner was made
    /// outside of).
    pub(crate) fn start_reaper(self: &Arc<Self>) {
        if !self.reaper.swap(true, Ordering::Relaxed) {
            self.spawn_reaper();
        }
    }

    /// Starts the task that closes idle sockets; it ends when the pool is dropped.
    pub(crate) fn spawn_reaper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let tick = (self.cfg.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(pool) = weak.upgrade() else { return };
                pool.reap(Instant::now());
            }
        });
    }

    fn give_back(&self, key: String, binding: u64, conn: Option<C>, chain: Option<Chain>) {
        let mut inner = self.lock();
        inner.busy -= 1;
        let Some(mut conn) = conn else {
            return;
        };
        if !conn.is_open() {
            drop(inner);
            return conn.retire();
        }
        inner.idle_count += 1;
        inner.idle.entry(key).or_default().push(Idle {
            conn,
            binding,
            chain,
            since: Instant::now(),
        });
    }
}

/// A socket lent for one request (or the room for one). [`Lease::finish`] returns the socket with what
/// its backend now holds; dropped unfinished (the client left mid-answer, the stream broke), the room
/// is given back and the socket closed: a response may still be running on it.
pub(crate) struct Lease<C: Socket> {
    pool: Arc<Pool<C>>,
    key: String,
    binding: u64,
    conn: Option<C>,
    send: Send,
    reused: bool,
    done: bool,
}

impl<C: Socket> Lease<C> {
    /// How this request goes out on the lent socket: whole, or continuing its last response.
    pub(crate) fn send(&self) -> &Send {
        &self.send
    }

    /// Whether the socket served an earlier request.
    #[cfg(test)]
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// The lent socket, to carry the request; `None` when a new one must be opened.
    pub(crate) fn take_conn(&mut self) -> Option<C> {
        self.conn.take()
    }

    /// The request is over: `conn` (the socket that carried it, if it is still good) goes back idle
    /// with `chain`, what its backend holds now (`None` when the response did not complete).
    pub(crate) fn finish(mut self, conn: Option<C>, chain: Option<Chain>) {
        self.done = true;
        self.pool
            .give_back(std::mem::take(&mut self.key), self.binding, conn, chain);
    }

    /// Notes that a new socket was opened for this request (for [`PoolStats::opened`]); it, not the one
    /// lent, is what `finish` gets back.
    pub(crate) fn opened(&mut self) {
        self.reused = false;
        self.pool.opened.fetch_add(1, Ordering::Relaxed);
    }
}

/// A socket of a conversation being opened ahead of its first turn ([`Pool::announce`]). Dropped (after
/// the lease is finished with the socket, or when opening it failed), the turns waiting go on.
pub(crate) struct Opening<C: Socket> {
    pool: Arc<Pool<C>>,
    key: String,
    _done: watch::Sender<()>,
}

impl<C: Socket> Opening<C> {
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

impl<C: Socket> Drop for Opening<C> {
    fn drop(&mut self) {
        self.pool.lock().opening.remove(&self.key);
    }
}

impl<C: Socket> Drop for Lease<C> {
    fn drop(&mut self) {
        if !self.done {
            // Closed outside the lock.
            drop(self.conn.take());
            self.pool.lock().busy -= 1;
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
