//! codex-serve killed with SIGKILL at random moments of a refresh, 30 times: auth.json always parses and is
//! 0600, and it holds a token the mock still honours whenever the kill came before the token request
//! reached the token endpoint.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use codex_mock::{TokenOutcome, TokenScenario};
use common::{Options, Server};
use tokio::io::AsyncWriteExt as _;

/// xorshift64*: enough randomness for kill times, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_refreshes_never_leaves_a_broken_or_spent_login() {
    let seed = std::env::var("LOGIN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("LOGIN_KILL_SEED={seed}");
    let mut rng = Rng(seed);
    let (mut before_request, mut in_flight, mut saved, mut leftovers) = (0, 0, 0, 0);
    for round in 0..30 {
        let s = Server::start_with(Options {
            token_exp: -60,
            ..Options::default()
        })
        .await;
        // The refresh spans the whole kill window: about 200 ms in flight, then the locked write.
        s.mock.set_token_scenario(TokenScenario {
            delay: Duration::from_millis(150 + rng.next() % 100),
            ..TokenScenario::default()
        });
        let kill_after = Duration::from_millis(rng.next() % 350);
        // In a third of the rounds another codex-serve process is refreshing (the test holds its lock):
        // this one has read the file and decided to refresh, and is killed before its token request.
        let peer = (rng.next() % 3 == 0).then(|| {
            let dir = s.home.path().join("codex-serve");
            std::fs::create_dir_all(&dir).expect("dir");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join("refresh.lock"))
                .expect("lock file");
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).expect("flock")
        });
        let body = common::chat(&format!("round {round}")).to_string();
        let mut conn = tokio::net::UnixStream::connect(&s.socket)
            .await
            .expect("connect");
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).await.expect("write");
        conn.write_all(body.as_bytes()).await.expect("write");
        let sent = Instant::now();
        tokio::time::sleep(kill_after).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(s.pid() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("SIGKILL");
        // Let the kernel reap it and release its locks.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let killed_at = sent.elapsed();
        drop(conn);
        drop(peer);

        let raw = std::fs::read(s.auth_path()).expect("auth.json is still there");
        let doc: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_else(|e| {
            panic!("round {round}: auth.json does not parse after a kill at {killed_at:?}: {e}")
        });
        let mode = std::fs::metadata(s.auth_path())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "round {round}: auth.json is {mode:o}");
        assert_eq!(doc["agent_identity"], serde_json::json!({"kept": true}));
        let in_file = doc["tokens"]["refresh_token"]
            .as_str()
            .expect("a refresh token");
        let reached = s
            .mock
            .token_log()
            .iter()
            .any(|e| e.outcome == TokenOutcome::Refreshed);
        if reached {
            if in_file == s.tokens.refresh_token {
                // Killed after the token endpoint spent the old token, before the new one was saved:
                // nothing can keep that login.
                in_flight += 1;
            } else {
                assert!(
                    s.mock.refresh_token_is_live(in_file),
                    "round {round}: the saved token is not the one the mock handed out"
                );
                saved += 1;
            }
        } else {
            before_request += 1;
            assert!(
                s.mock.refresh_token_is_live(in_file),
                "round {round}: killed before any token request, yet the file's token is spent"
            );
        }
        leftovers += std::fs::read_dir(s.home.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".auth.json."))
            .count();
    }
    eprintln!(
        "30 kills: {before_request} before the token request (login kept), {in_flight} while it was in \
         flight (old token spent, answer lost), {saved} after the new login was saved; {leftovers} temp files left"
    );
    assert!(
        before_request > 0 && in_flight + saved > 0,
        "the kills did not spread over the refresh (seed {seed})"
    );
}
