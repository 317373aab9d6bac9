//! "Credentials off the sandbox": an agent in a mount namespace where codex-serve's `CODEX_HOME` is
//! covered by an empty tmpfs, and a network namespace with only loopback, gets answers through the Unix
//! socket (shared in: it lives outside `CODEX_HOME`) and through a loopback port inside that forwards to
//! it, while reading `auth.json` fails. Needs root (`unshare`); skips loudly without it, fails in CI.

use crate::common;

use std::process::Command;

use common::Server;

const SCRIPT: &str = r#"
set -u
ip link set lo up
mount -t tmpfs -o size=1m,mode=0700 codex-home-hidden "$HIDE"
if cat "$HIDE/auth.json" >/dev/null 2>&1; then echo "auth.json readable"; exit 3; fi
echo "auth.json unreadable"
python3 "$FORWARD" "$PORT" "$SOCK" 30 > "$TMPDIR/forward.out" 2>&1 &
FWD=$!
i=0; until grep -q ready "$TMPDIR/forward.out" 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && exit 4; sleep 0.05; done
curl -sS --max-time 20 --unix-socket "$SOCK" http://localhost/v1/chat/completions \
  -H 'content-type: application/json' \
  -d '{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"from the sandbox socket"}]}'
echo
curl -sS --max-time 20 "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H 'content-type: application/json' \
  -d '{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"from the sandbox port"}]}'
echo
kill "$FWD"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_cannot_read_auth_json_still_gets_answers() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the sandbox test needs root (unshare)"
        );
        eprintln!("\n*** SKIPPED the sandbox test: it needs root (unshare) ***\n");
        return;
    }
    let s = Server::start().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let forward =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sandbox/unix_forward.py");
    let out = tokio::task::spawn_blocking({
        let home = s.home.path().to_owned();
        let sock = s.socket.clone();
        let tmp = tmp.path().to_owned();
        move || {
            Command::new("unshare")
                .args(["--mount", "--net", "sh", "-c", SCRIPT])
                .env("HIDE", home)
                .env("SOCK", sock)
                .env("FORWARD", forward)
                .env("PORT", "18931")
                .env("TMPDIR", tmp)
                .output()
                .expect("run unshare")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "agent failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("auth.json unreadable"), "{stdout}");
    assert!(
        stdout.contains("echo: from the sandbox socket"),
        "{stdout}\n{}",
        s.logs()
    );
    assert!(
        stdout.contains("echo: from the sandbox port"),
        "{stdout}\n{}",
        s.logs()
    );
    // Outside the sandbox the login is where it was, untouched.
    assert!(s.auth_path().is_file());
    // And no token reached the agent.
    assert!(!stdout.contains(&s.tokens.access_token));
}
