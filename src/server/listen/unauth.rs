//! A TCP listener's connections that have not shown the key yet. At most `max` at once; one more pushes
//! out the oldest. A flood of strangers thus cycles among itself within the pool, while a client with the
//! key, which sends its headers within milliseconds of connecting, gets in and leaves the pool at once.
//! (Waiting for a free place instead would queue that client behind the whole flood.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub(crate) struct UnauthPool {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Oldest first: each connection's id and the token that closes it.
    waiting: VecDeque<(u64, CancellationToken)>,
}

/// One connection's place in the pool, given back when dropped (it showed the key, or it closed).
pub(crate) struct Ticket {
    pool: Arc<UnauthPool>,
    id: u64,
}

impl UnauthPool {
    pub(crate) fn new(max: usize) -> Arc<UnauthPool> {
        Arc::new(UnauthPool {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// A place for a new connection, and the token that is cancelled if a newer one pushes it out.
    pub(crate) fn admit(self: &Arc<Self>) -> (Ticket, CancellationToken) {
        let token = CancellationToken::new();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while inner.waiting.len() >= self.max {
            if let Some((_, oldest)) = inner.waiting.pop_front() {
                oldest.cancel();
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.waiting.push_back((id, token.clone()));
        let ticket = Ticket {
            pool: self.clone(),
            id,
        };
        (ticket, token)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting
            .len()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.pool.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.waiting.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_pushed_out_and_places_come_back() {
        let pool = UnauthPool::new(2);
        let (a, a_out) = pool.admit();
        let (b, b_out) = pool.admit();
        let (_c, c_out) = pool.admit();
        assert!(a_out.is_cancelled(), "the oldest goes");
        assert!(!b_out.is_cancelled() && !c_out.is_cancelled());
        assert_eq!(pool.len(), 2);
        drop(b);
        assert_eq!(pool.len(), 1);
        let (_d, d_out) = pool.admit();
        assert!(!d_out.is_cancelled() && !c_out.is_cancelled());
        drop(a);
        assert_eq!(pool.len(), 2);
    }
}
