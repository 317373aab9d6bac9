use super::*;
use crate::events::StreamEvent;
use crate::request::{InputItem, Role};
use crate::ws::chain::Turn;
use std::sync::atomic::AtomicBool;

/// A connection that counts its closes (drops) and can be closed by the "peer".
struct Fake {
    id: usize,
    open: Arc<AtomicBool>,
    closes: Arc<AtomicU64>,
}

impl Socket for Fake {
    fn is_open(&mut self) -> bool {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Net {
    next: usize,
    closes: Arc<AtomicU64>,
}

impl Net {
    fn connect(&mut self) -> (Fake, Arc<AtomicBool>) {
        self.next += 1;
        let open = Arc::new(AtomicBool::new(true));
        (
            Fake {
                id: self.next,
                open: open.clone(),
                closes: self.closes.clone(),
            },
            open,
        )
    }

    fn closes(&self) -> u64 {
        self.closes.load(Ordering::SeqCst)
    }
}

fn req(texts: &[&str]) -> ResponsesRequest {
    let input = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            InputItem::text(role, *t)
        })
        .collect();
    let mut r = ResponsesRequest::new("gpt-5.5", "", input);
    r.prompt_cache_key = Some("conv".into());
    r
}

/// The chain a completed turn of `r` answering `answer` leaves.
fn answered(r: &ResponsesRequest, answer: &str, id: &str) -> Option<Chain> {
    let mut t = Turn::new(r.clone(), false);
    for v in [
        serde_json::json!({"type":"response.output_item.done","item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":answer}]}}),
        serde_json::json!({"type":"response.completed","response":{"id":id}}),
    ] {
        t.observe(&StreamEvent::parse(v.to_string()).expect("event"));
    }
    t.finish()
}

/// A lease with its socket in hand (a new one when the pool has none to lend), as a request holds it.
struct Held {
    lease: Lease<Fake>,
    conn: Fake,
}

impl Held {
    fn reused(&self) -> bool {
        self.lease.reused()
    }

    fn send(&self) -> &Send {
        self.lease.send()
    }

    fn finish(self, chain: Option<Chain>) {
        self.lease.finish(Some(self.conn), chain)
    }
}

fn lease(
    pool: &Arc<Pool<Fake>>,
    net: &mut Net,
    key: &str,
    binding: u64,
    r: &ResponsesRequest,
) -> Held {
    let mut lease = match pool.checkout(key, binding, r, false) {
        Checkout::Reuse(l) | Checkout::Open(l) => l,
        Checkout::Full => panic!("pool full"),
    };
    let conn = match lease.take_conn() {
        Some(c) => c,
        None => {
            lease.opened();
            net.connect().0
        }
    };
    Held { lease, conn }
}

fn cfg(max: usize, idle: Duration) -> PoolConfig {
    PoolConfig {
        max_sockets: max,
        idle,
    }
}

#[test]
fn one_socket_per_conversation_reused_across_turns_with_its_chain() {
    let pool = Pool::new(cfg(8, Duration::from_secs(60)));
    let mut net = Net::default();
    let t1 = req(&["q1"]);
    let l = lease(&pool, &mut net, "conv", 1, &t1);
    assert!(!l.reused());
    assert_eq!(l.send(), &Send::Full);
    let first_id = l.conn.id;
    l.finish(answered(&t1, "a1", "resp_1"));

    let t2 = req(&["q1", "a1", "q2"]);
    let l = lease(&pool, &mut net, "conv", 1, &t2);
    assert!(l.reused());
    assert_eq!(l.conn.id, first_id);
    assert_eq!(l.send().previous_response_id(), Some("resp_1"));
    assert_eq!(l.send().held(), Some(2));
    l.finish(answered(&t2, "a2", "resp_2"));

    let t3 = req(&["q1", "a1", "q2", "a2", "q3"]);
    let l = lease(&pool, &mut net, "conv", 1, &t3);
    assert_eq!(l.send().previous_response_id(), Some("resp_2"));
    l.finish(None);
    assert_eq!(
        pool.stats(),
        PoolStats {
            busy: 0,
            idle: 1,
            opened: 1
        }
    );
    // Another conversation has its own socket.
    let other = lease(&pool, &mut net, "other", 1, &t1);
    assert!(!other.reused());
    assert_eq!(pool.stats().opened, 2);
}

#[test]
fn a_concurrent_second_request_gets_its_own_socket_and_the_next_turn_the_matching_one() {
    let pool = Pool::new(cfg(8, Duration::from_secs(60)));
    let mut net = Net::default();
    let a = req(&["story"]);
    let b = req(&["poem"]);
    let la = lease(&pool, &mut net, "conv", 1, &a);
    let lb = lease(&pool, &mut net, "conv", 1, &b);
    assert!(!la.reused() && !lb.reused());
    assert_eq!(pool.stats().busy, 2);
    // `b` ends last, so its socket is the newest idle one; `a`'s continuation still finds `a`'s.
    la.finish(answered(&a, "once upon", "resp_a"));
    lb.finish(answered(&b, "roses", "resp_b"));
    assert_eq!(pool.stats().idle, 2);
    let next_a = lease(
        &pool,
        &mut net,
        "conv",
        1,
        &req(&["story", "once upon", "go on"]),
    );
    assert_eq!(next_a.send().previous_response_id(), Some("resp_a"));
    let next_b = lease(&pool, &mut net, "conv", 1, &req(&["poem", "roses", "more"]));
    assert_eq!(next_b.send().previous_response_id(), Some("resp_b"));
    assert_eq!(pool.stats().opened, 2);
}

#[test]
fn bounded_in_number_the_idle_socket_used_longest_ago_goes_first() {
    let pool = Pool::new(cfg(2, Duration::from_secs(60)));
    let mut net = Net::default();
    let r = req(&["q"]);
    let busy1 = lease(&pool, &mut net, "a", 1, &r);
    let busy2 = lease(&pool, &mut net, "b", 1, &r);
    // Both busy and the pool full: the third request cannot have a socket.
    assert!(matches!(pool.checkout("c", 1, &r, false), Checkout::Full));
    busy1.finish(None);
    // `a` is idle: `c` takes its room, and `a`'s socket is closed.
    let c = lease(&pool, &mut net, "c", 1, &r);
    assert_eq!(net.closes(), 1);
    assert_eq!(pool.stats().busy + pool.stats().idle, 2);
    busy2.finish(None);
    c.finish(None);
    // Now `b` (returned first) is the oldest idle: a new conversation evicts it, not `c`.
    let d = lease(&pool, &mut net, "d", 1, &r);
    assert_eq!(net.closes(), 2);
    d.finish(None);
    assert!(lease(&pool, &mut net, "c", 1, &r).reused());
}

#[test]
fn idle_sockets_are_closed_after_the_idle_time() {
    let idle = Duration::from_millis(200);
    let pool = Pool::new(cfg(8, idle));
    let mut net = Net::default();
    let r = req(&["q"]);
    lease(&pool, &mut net, "a", 1, &r).finish(None);
    lease(&pool, &mut net, "b", 1, &r).finish(None);
    assert_eq!(pool.reap(Instant::now()), 0);
    assert_eq!(pool.reap(Instant::now() + idle), 2);
    assert_eq!(net.closes(), 2);
    assert_eq!(pool.stats().idle, 0);
    // Past its idle time a socket is not lent either, even before the reaper runs.
    lease(&pool, &mut net, "a", 1, &r).finish(None);
    std::thread::sleep(idle);
    assert!(!lease(&pool, &mut net, "a", 1, &r).reused());
}

#[tokio::test]
async fn the_reaper_closes_idle_sockets_by_itself() {
    let idle = Duration::from_millis(100);
    let pool = Pool::new(cfg(8, idle));
    pool.spawn_reaper();
    let mut net = Net::default();
    lease(&pool, &mut net, "a", 1, &req(&["q"])).finish(None);
    assert_eq!(pool.stats().idle, 1);
    tokio::time::sleep(idle * 3).await;
    assert_eq!(pool.stats().idle, 0);
    assert_eq!(net.closes(), 1);
}

#[test]
fn a_refreshed_token_or_another_route_opens_a_new_socket() {
    let pool = Pool::new(cfg(8, Duration::from_secs(60)));
    let mut net = Net::default();
    let r = req(&["q"]);
    lease(&pool, &mut net, "conv", 1, &r).finish(answered(&r, "a", "resp_1"));
    let l = lease(&pool, &mut net, "conv", 2, &req(&["q", "a", "q2"]));
    assert!(!l.reused());
    assert_eq!(l.send(), &Send::Full);
    assert_eq!(net.closes(), 1, "the socket of the old binding is closed");
}

#[test]
fn closed_or_abandoned_sockets_are_never_lent_again() {
    let pool = Pool::new(cfg(8, Duration::from_secs(60)));
    let mut net = Net::default();
    let r = req(&["q"]);
    // Closed by the peer while idle.
    let (conn, open) = net.connect();
    match pool.checkout("conv", 1, &r, false) {
        Checkout::Open(mut l) => {
            l.opened();
            l.finish(Some(conn), None)
        }
        _ => panic!("expected room"),
    }
    open.store(false, Ordering::SeqCst);
    assert!(!lease(&pool, &mut net, "conv", 1, &r).reused());
    // Dropped mid-answer: closed, and its room is free again.
    assert_eq!(
        pool.stats(),
        PoolStats {
            busy: 0,
            idle: 0,
            opened: 2
        }
    );
    let before = net.closes();
    drop(lease(&pool, &mut net, "conv", 1, &r));
    assert_eq!(net.closes(), before + 1);
    assert_eq!(pool.stats().busy, 0);
    // A connect that failed gives its room back.
    let tight = Pool::<Fake>::new(cfg(1, Duration::from_secs(60)));
    match tight.checkout("x", 1, &r, false) {
        Checkout::Open(l) => drop(l),
        _ => panic!("expected room"),
    }
    assert!(matches!(
        tight.checkout("x", 1, &r, false),
        Checkout::Open(_)
    ));
}

#[tokio::test]
async fn a_socket_opened_ahead_serves_the_first_turn_and_is_opened_only_where_there_is_room() {
    let pool = Pool::new(cfg(2, Duration::from_secs(60)));
    let mut net = Net::default();
    let opening = pool.announce("conv").expect("not yet opened");
    // Not twice for one conversation while it is being opened.
    assert!(pool.announce("conv").is_none());
    let mut ahead = pool.reserve(&opening, 1).expect("room");
    // A turn arriving meanwhile waits for it rather than opening another.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.opened_ahead("conv", Duration::from_secs(10)).await;
            pool.stats()
        })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    ahead.opened();
    ahead.finish(Some(net.connect().0), None);
    drop(opening);
    let seen = waiter.await.expect("waiter");
    assert_eq!(seen.idle, 1, "the waiting turn finds the socket idle");
    // The first turn takes it and sends everything (nothing is held yet).
    let t1 = req(&["q1"]);
    let l = lease_reused(&pool, &t1);
    assert_eq!(l.send(), &Send::Full);
    drop(l);
    // No room is made for a guess: with the pool full, nothing is opened ahead.
    lease(&pool, &mut net, "a", 1, &t1).finish(None);
    lease(&pool, &mut net, "b", 1, &t1).finish(None);
    let c = pool.announce("c").expect("c has no socket");
    assert!(pool.reserve(&c, 1).is_none());
    assert_eq!(
        net.closes(),
        1,
        "only the first turn's dropped lease closed its socket"
    );
    // A conversation that has a socket idle needs none ahead.
    assert!(pool.announce("a").is_none());
}

fn lease_reused(pool: &Arc<Pool<Fake>>, r: &ResponsesRequest) -> Lease<Fake> {
    match pool.checkout("conv", 1, r, false) {
        Checkout::Reuse(l) => l,
        _ => panic!("the socket opened ahead is not lent"),
    }
}
