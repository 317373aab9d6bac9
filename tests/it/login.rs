//! Sharing one login with the codex CLI: the CLI's lock protocol while our token request is in flight (F1),
//! `refresh_token_reused` and a spent token never sent again (F2), one refresh for all waiters whatever the
//! new token's lifetime (F3), the CLI's refresh margin, request and 401 recovery.

use crate::common;

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codex_mock::{jwt, TokenOutcome, TokenScenario};
use common::{chat, Options, Server, ACCOUNT};
use nix::fcntl::{Flock, FlockArg};
use serde_json::{json, Value};

const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

async fn expired_server() -> Arc<Server> {
    Arc::new(
        Server::start_with(Options {
            token_exp: -60,
            ..Options::default()
        })
        .await,
    )
}

async fn wait_for_token_requests(s: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.mock.token_stats().requests < n {
        assert!(Instant::now() < deadline, "no token request arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The codex CLI 0.171's way to save a refreshed login: `auth.lock` (it blocks on it), then `auth.json.lock`
/// tried every 10 ms for about 5 s; it gives up — and throws its fresh tokens away — if that fails. Here the
/// first lock is tried for as long, so that the test ends. Returns the two held locks, or how long it tried.
fn cli_locks(
    home: &Path,
    patience: Duration,
) -> Result<(Flock<std::fs::File>, Flock<std::fs::File>), Duration> {
    let started = Instant::now();
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(home.join(name))
            .expect("open lock file")
    };
    let take = |mut file: std::fs::File| loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((back, _)) if started.elapsed() < patience => {
                file = back;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return Err(started.elapsed()),
        }
    };
    let outer = take(open("auth.lock"))?;
    let inner = take(open("auth.json.lock"))?;
    Ok((outer, inner))
}

/// Replaces auth.json with `tokens` as the CLI does (temp file and rename, 0600), keeping the other fields.
fn cli_write(home: &Path, tokens: &Value) {
    let path = home.join("auth.json");
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    for key in ["id_token", "access_token", "refresh_token"] {
        doc["tokens"][key] = tokens[key].clone();
    }
    let tmp = home.join(".auth-cli-test");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, doc.to_string().as_bytes()))
        .expect("write temp");
    std::fs::rename(&tmp, &path).expect("rename");
}

/// Spends `refresh_token` at the mock as another process would; the rotated tokens.
async fn spend_elsewhere(s: &Server, refresh_token: &str) -> Value {
    let (status, tokens) = common::post_tcp(
        &format!("{}/oauth/token", s.mock.auth_url()),
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token}),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

// ---- F1: never hold the CLI's locks across a network call --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clis_locks_are_free_while_our_token_request_is_in_flight() {
    let s = expired_server().await;
    // Longer than the CLI waits for auth.json.lock.
    s.mock.set_token_scenario(TokenScenario {
        delay: Duration::from_secs(6),
        ..TokenScenario::default()
    });
    let req = {
        let s = s.clone();
        tokio::spawn(async move { s.post("/v1/chat/completions", chat("slow refresh")).await })
    };
    wait_for_token_requests(&s, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let home = s.home.path().to_owned();
    let got =
        tokio::task::spawn_blocking(move || cli_locks(&home, Duration::from_secs(5)).map(|_| ()))
            .await
            .expect("thread");
    assert!(
        got.is_ok(),
        "the CLI could not take auth.lock and auth.json.lock within {:?}: it would drop its tokens",
        got.err()
    );
    let r = req.await.expect("task");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_written_while_our_request_was_in_flight_wins() {
    let s = expired_server().await;
    s.mock.set_token_scenario(TokenScenario {
        delay: Duration::from_secs(2),
        ..TokenScenario::default()
    });
    let req = {
        let s = s.clone();
        tokio::spawn(async move { s.post("/v1/chat/completions", chat("racing")).await })
    };
    wait_for_token_requests(&s, 1).await;
    // Meanwhile the user logs in again (or the CLI saves another refresh): a different, valid login.
    let theirs = serde_json::to_value(s.mock.issue_tokens(ACCOUNT, 3600)).expect("json");
    let home = s.home.path().to_owned();
    let written = {
        let theirs = theirs.clone();
        tokio::task::spawn_blocking(move || {
            // Under the CLI's locks when it can get them at once; older CLIs wrote without any.
            let _locks = cli_locks(&home, Duration::from_millis(100));
            cli_write(&home, &theirs);
        })
    };
    written.await.expect("writer");
    let r = req.await.expect("task");
    assert_eq!(r.status, 200, "{}", r.text());
    let file = s.auth_json();
    assert_eq!(
        file["tokens"]["refresh_token"], theirs["refresh_token"],
        "codex-serve wrote its tokens over a login saved while its request was in flight"
    );
    assert_eq!(file["agent_identity"], json!({"kept": true}));
}

// ---- F2: refresh_token_reused ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_spent_by_another_process_is_sent_once_and_its_login_awaited() {
    let s = expired_server().await;
    let mine = s.auth_json();
    // Another process spends token 1 and saves its answer 2 s later.
    let theirs = spend_elsewhere(&s, mine["tokens"]["refresh_token"].as_str().expect("rt")).await;
    let writer = {
        let home = s.home.path().to_owned();
        let theirs = theirs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            cli_write(&home, &theirs);
        })
    };
    let mut tasks = Vec::new();
    for i in 0..3 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post("/v1/chat/completions", chat(&format!("waiter {i}")))
                .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "a false 'login expired': {}", r.text());
    }
    writer.await.expect("writer");
    let ours: Vec<_> = s.mock.token_log().into_iter().skip(1).collect();
    assert_eq!(
        ours.len(),
        1,
        "codex-serve sent the spent token {} times",
        ours.len()
    );
    assert_eq!(ours[0].outcome, TokenOutcome::Reused);
    assert_eq!(
        s.auth_json()["tokens"]["refresh_token"],
        theirs["refresh_token"]
    );
    let expected = format!("Bearer {}", theirs["access_token"].as_str().expect("at"));
    assert_eq!(
        s.last_upstream().header("authorization"),
        Some(expected.as_str())
    );
}

#[tokio::test]
async fn a_reused_token_with_no_newer_login_says_to_log_in_after_a_bounded_wait() {
    let s = expired_server().await;
    let mine = s.auth_json();
    spend_elsewhere(&s, mine["tokens"]["refresh_token"].as_str().expect("rt")).await;
    let started = Instant::now();
    let r = s.post("/v1/chat/completions", chat("gone")).await;
    let waited = started.elapsed();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.error()["code"], "codex_login_expired");
    assert!(
        r.error()["message"]
            .as_str()
            .is_some_and(|m| m.contains("run `codex login`")),
        "{}",
        r.text()
    );
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(9)).contains(&waited),
        "concluded after {waited:?}"
    );
    // The next request does not spend the token again either.
    let again = s.post("/v1/chat/completions", chat("still gone")).await;
    assert_eq!(again.status, 401);
    assert_eq!(
        s.mock.token_stats().requests,
        2,
        "the spent token was sent again"
    );
    assert_eq!(
        std::fs::read(s.auth_path()).expect("read"),
        serde_json::to_vec_pretty(&mine).expect("json"),
        "auth.json changed"
    );
}

// ---- F3: single flight by generation ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_waiters_share_one_refresh_even_when_the_new_token_is_short_lived() {
    let s = expired_server().await;
    // Two minutes: inside the CLI's 5-minute margin the moment it is issued.
    s.mock.set_token_scenario(TokenScenario {
        access_lifetime_secs: 120,
        ..TokenScenario::default()
    });
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post("/v1/chat/completions", chat(&format!("req {i}")))
                .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let stats = s.mock.token_stats();
    assert_eq!(stats.reused, 0);
    assert_eq!(stats.requests, 1, "waiters refreshed again");
    // A token that short-lived is renewed at half its life, not at every use.
    for i in 0..3 {
        let r = s
            .post("/v1/chat/completions", chat(&format!("later {i}")))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(s.mock.token_stats().requests, 1, "later requests refreshed");
}

#[tokio::test]
async fn a_long_lived_token_is_refreshed_within_five_minutes_of_expiry_and_not_before() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // Access tokens issued a day ago that the mock does not know: one that is not refreshed early is sent,
    // refused with 401, and renewed as `unauthorized_recovery` instead.
    for (left, reason) in [(290, "proactive_expiry"), (330, "unauthorized_recovery")] {
        let s = Server::start().await;
        let mut doc = s.auth_json();
        doc["tokens"]["access_token"] =
            json!(jwt(&json!({"iat": now - 86_400, "exp": now + left})));
        std::fs::write(s.auth_path(), doc.to_string()).expect("write");
        let r = s.post("/v1/chat/completions", chat("due?")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let log = s.mock.token_log();
        assert_eq!(log.len(), 1, "{left} s from expiry");
        assert_eq!(
            log[0].body["refresh_reason"], reason,
            "{left} s from expiry"
        );
    }
}

// ---- the request itself ----------------------------------------------------------------------------

#[tokio::test]
async fn the_refresh_request_is_the_clis() {
    let s = expired_server().await;
    let before = s.auth_json();
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let log = s.mock.token_log();
    assert_eq!(log.len(), 1);
    let sent = &log[0];
    let keys: Vec<&str> = sent
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["client_id", "grant_type", "refresh_reason", "refresh_token"]
    );
    assert_eq!(sent.body["client_id"], CLIENT_ID);
    assert_eq!(sent.body["grant_type"], "refresh_token");
    assert_eq!(sent.body["refresh_reason"], "proactive_expiry");
    assert_eq!(
        sent.body["refresh_token"],
        before["tokens"]["refresh_token"]
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("*/*"));
    let upstream = s.last_upstream();
    assert!(sent.header("originator").is_some());
    assert_eq!(sent.header("originator"), upstream.header("originator"));
    // As the CLI's early refresh: the Responses user agent without its `(originator; version)` suffix.
    let ua = sent.header("user-agent").expect("user-agent");
    let upstream_ua = upstream.header("user-agent").expect("user-agent");
    assert!(
        upstream_ua.starts_with(ua) && upstream_ua.len() > ua.len(),
        "{ua:?} vs {upstream_ua:?}"
    );
    assert!(sent.header("authorization").is_none());
}

#[tokio::test]
async fn a_401_is_retried_with_the_same_token_then_refreshed_as_unauthorized_recovery() {
    let s = Server::start().await;
    // A token the backend no longer honours, though its exp looks fine.
    let revoked = jwt(&json!({"exp": 4_102_444_800i64}));
    let mut doc = s.auth_json();
    doc["tokens"]["access_token"] = json!(revoked);
    std::fs::write(s.auth_path(), doc.to_string()).expect("write");
    let r = s.post("/v1/chat/completions", chat("after revoke")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent: Vec<Option<String>> = s
        .mock
        .requests()
        .iter()
        .filter(|r| r.path == "/responses")
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    let old = Some(format!("Bearer {revoked}"));
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0], old);
    assert_eq!(sent[1], old);
    assert_ne!(sent[2], old);
    let log = s.mock.token_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].body["refresh_reason"], "unauthorized_recovery");
    // After a 401 the CLI's refresh carries the full user agent, the Responses one.
    assert_eq!(
        log[0].header("user-agent"),
        s.last_upstream().header("user-agent")
    );
}

#[tokio::test]
async fn a_login_refreshed_long_ago_with_a_valid_token_is_not_refreshed() {
    let s = Server::start().await;
    let mut doc = s.auth_json();
    doc["last_refresh"] = json!("2020-01-01T00:00:00Z");
    std::fs::write(s.auth_path(), doc.to_string()).expect("write");
    let r = s.post("/v1/chat/completions", chat("old login")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.mock.token_stats().requests, 0);
}
