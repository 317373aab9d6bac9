//! Socket activation as systemd does it: listening sockets inherited as fd 3, 4, … with `LISTEN_FDS`,
//! `LISTEN_PID` and `LISTEN_FDNAMES`, `READY=1`/`STOPPING=1` on `NOTIFY_SOCKET`, idle exit, and the
//! socket file left in place. Also through the real `systemd-socket-activate` when it is installed.

use crate::common;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codex_mock::MockCodex;
use common::{
    chat, chat_stream, serve_command, slow_stream, streamed_text, tcp_raw, unix_raw, write_auth,
    Spawned, ACCOUNT,
};
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixDatagram;

const KEY: &str = "csk-activation-key-42";

struct Env {
    mock: MockCodex,
    home: tempfile::TempDir,
    run: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let mock = MockCodex::start().await;
        let home = tempfile::tempdir().expect("home");
        let tokens = mock.issue_tokens(ACCOUNT, 3600);
        write_auth(home.path(), &tokens, serde_json::json!({}));
        Env {
            mock,
            home,
            run: tempfile::tempdir().expect("run"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.run.path().join(name)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.path("stderr.log")).unwrap_or_default()
    }

    /// codex-serve run the way systemd runs it: `fds` become 3, 4, … and LISTEN_PID is the pid that
    /// ends up running codex-serve (a shell sets it to its own pid, then execs in place).
    fn activated(
        &self,
        fds: &[&OwnedFd],
        names: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Spawned {
        self.activated_as("$$", fds, names, args, env)
    }

    /// As [`Env::activated`], with LISTEN_PID set to the shell expression `pid`.
    fn activated_as(
        &self,
        pid: &str,
        fds: &[&OwnedFd],
        names: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Spawned {
        let inner = serve_command(&self.mock, self.home.path());
        let script = format!(r#"export LISTEN_PID={pid}; exec "$0" "$@""#);
        let mut cmd = rewrap("sh", &["-c", &script], &inner);
        cmd.args(args)
            .env("LISTEN_FDS", fds.len().to_string())
            .env("LISTEN_FDNAMES", names)
            .env("XDG_RUNTIME_DIR", self.path("xdg-run"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("stderr.log")).expect("stderr"));
        pass_fds(&mut cmd, fds.iter().map(|f| f.as_raw_fd()).collect());
        Spawned(cmd.spawn().expect("spawn"))
    }
}

/// `program pre_args… INNER_PROGRAM INNER_ARGS…`, with the inner command's environment changes.
fn rewrap(program: &str, pre_args: &[&str], inner: &Command) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(pre_args)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// Makes `fds` the child's fds 3, 4, … (without close-on-exec), as a service manager does.
fn pass_fds(cmd: &mut Command, fds: Vec<RawFd>) {
    // SAFETY: between fork and exec only fcntl and dup2 run, both async-signal-safe; no allocation.
    unsafe {
        cmd.pre_exec(move || {
            use nix::libc;
            // First out of the way (a source may already sit on 3 or 4), then into place.
            let mut high = [0 as RawFd; 8];
            for (i, fd) in fds.iter().enumerate() {
                let h = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high[i] = h;
            }
            for (i, h) in high.iter().take(fds.len()).enumerate() {
                if libc::dup2(*h, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

fn unix_listener(path: &Path) -> OwnedFd {
    std::os::unix::net::UnixListener::bind(path)
        .expect("bind")
        .into()
}

/// A datagram socket standing in for systemd's notify socket.
fn notify_socket(path: &Path) -> UnixDatagram {
    UnixDatagram::bind(path).expect("bind notify socket")
}

async fn expect_notification(sock: &UnixDatagram, want: &str) {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no {want} on NOTIFY_SOCKET within 10 s"))
        .expect("recv");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.lines().any(|l| l == want), "got {msg:?}, wanted {want}");
}

#[tokio::test]
async fn an_inherited_unix_socket_is_served_announced_and_left_in_place() {
    let env = Env::new().await;
    let sock = env.path("activated.sock");
    let listener = unix_listener(&sock);
    let notify_path = env.path("notify.sock");
    let notify = notify_socket(&notify_path);
    let mut child = env.activated(
        &[&listener],
        "codex-serve.socket",
        &[],
        &[("NOTIFY_SOCKET", notify_path.to_str().expect("utf-8"))],
    );
    expect_notification(&notify, "READY=1").await;

    let r = unix_raw(
        &sock,
        "POST",
        "/v1/chat/completions",
        &[],
        chat("activated").to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), env.logs());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: activated"
    );
    assert!(env.logs().contains("codex-serve.socket"), "{}", env.logs());
    // It bound no socket of its own.
    assert!(!env.path("xdg-run").join("codex-serve").exists());

    child.signal(Signal::SIGTERM);
    expect_notification(&notify, "STOPPING=1").await;
    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exit");
    assert!(status.success(), "{status:?}\n{}", env.logs());
    assert!(
        sock.exists(),
        "codex-serve unlinked a socket it did not create"
    );
    // Still the manager's live socket: a client queues on it for the next start.
    assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok());
}

#[tokio::test]
async fn sockets_meant_for_another_pid_are_left_alone() {
    let env = Env::new().await;
    let sock = env.path("activated.sock");
    let listener = unix_listener(&sock);
    let notify_path = env.path("notify.sock");
    let notify = notify_socket(&notify_path);
    // LISTEN_PID names the shell's parent, as when a supervisor's environment leaks to a child.
    let _child = env.activated_as(
        "$PPID",
        &[&listener],
        "codex-serve.socket",
        &[],
        &[("NOTIFY_SOCKET", notify_path.to_str().expect("utf-8"))],
    );
    expect_notification(&notify, "READY=1").await;
    // It bound its own default socket instead, and never took fd 3.
    let own = env
        .path("xdg-run")
        .join("codex-serve")
        .join("codex-serve.sock");
    assert!(own.exists(), "{}", env.logs());
    assert_eq!(
        unix_raw(&own, "GET", "/healthz", &[], vec![]).await.status,
        200
    );
    assert!(
        !env.logs().contains("from the service manager"),
        "{}",
        env.logs()
    );
}

#[tokio::test]
async fn inherited_tcp_gets_the_key_and_host_rules_and_unix_does_not() {
    let env = Env::new().await;
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp");
    let addr = tcp.local_addr().expect("addr");
    let tcp: OwnedFd = tcp.into();
    let sock = env.path("activated.sock");
    let unix = unix_listener(&sock);
    let _child = env.activated(
        &[&tcp, &unix],
        "web:local",
        &[],
        &[("CODEX_SERVE_API_KEY", KEY)],
    );
    common::wait_tcp(addr).await;

    let r = tcp_raw(addr, "GET", "/v1/models", &[], vec![]).await;
    assert_eq!(r.status, 401, "{}\n{}", r.text(), env.logs());
    let auth = format!("Bearer {KEY}");
    let r = tcp_raw(
        addr,
        "GET",
        "/v1/models",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = tcp_raw(
        addr,
        "GET",
        "/v1/models",
        &[("authorization", &auth), ("host", "attacker.example")],
        vec![],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = unix_raw(&sock, "GET", "/v1/models", &[], vec![]).await;
    assert_eq!(r.status, 200);
    let logs = env.logs();
    assert!(logs.contains("web") && logs.contains("local"), "{logs}");
}

#[tokio::test]
async fn a_non_loopback_inherited_tcp_socket_is_refused() {
    let env = Env::new().await;
    let tcp: OwnedFd = std::net::TcpListener::bind("0.0.0.0:0")
        .expect("tcp")
        .into();
    let mut child = env.activated(&[&tcp], "web", &[], &[("CODEX_SERVE_API_KEY", KEY)]);
    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exit");
    assert!(!status.success());
    assert!(
        env.logs().contains("not a loopback address"),
        "{}",
        env.logs()
    );
}

#[tokio::test]
async fn idle_timeout_waits_for_the_stream_then_exits() {
    let env = Env::new().await;
    let sock = env.path("activated.sock");
    let listener = unix_listener(&sock);
    // About 2.4 s of stream against a 1 s idle timeout.
    env.mock.push(slow_stream(&["slow ", "but ", "whole"], 200));
    let mut child = env.activated(
        &[&listener],
        "codex-serve.socket",
        &["--idle-timeout", "1"],
        &[],
    );
    let r = unix_raw(
        &sock,
        "POST",
        "/v1/chat/completions",
        &[],
        chat_stream("x").to_string().into_bytes(),
    )
    .await;
    let streamed_until = Instant::now();
    assert_eq!(r.status, 200);
    let data = r.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert_eq!(streamed_text(&data), "slow but whole");

    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("idle exit");
    let idle_for = streamed_until.elapsed();
    assert!(status.success(), "{status:?}\n{}", env.logs());
    assert!(
        idle_for >= Duration::from_millis(900) && idle_for < Duration::from_secs(4),
        "exited {idle_for:?} after the last request"
    );
    assert!(env.logs().contains("idle"), "{}", env.logs());
    assert!(sock.exists(), "activated socket unlinked");
}

#[tokio::test]
async fn idle_timeout_with_no_connection_at_all() {
    let env = Env::new().await;
    let listener = unix_listener(&env.path("activated.sock"));
    let started = Instant::now();
    let mut child = env.activated(
        &[&listener],
        "codex-serve.socket",
        &["--idle-timeout", "1"],
        &[],
    );
    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("idle exit");
    assert!(status.success());
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn an_accepted_connection_on_fd_3_is_served_then_codex_serve_exits() {
    // What systemd's Accept=yes hands over: one connected socket, not a listener.
    let env = Env::new().await;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let theirs: OwnedFd = theirs.into();
    let mut child = env.activated(&[&theirs], "connection", &[], &[]);
    drop(theirs);
    ours.set_nonblocking(true).expect("nonblocking");
    let mut ours = tokio::net::UnixStream::from_std(ours).expect("tokio");
    ours.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), ours.read_to_end(&mut answer))
        .await
        .expect("answer")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exit after the connection");
    assert!(status.success(), "{status:?}\n{}", env.logs());
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

#[tokio::test]
async fn through_systemd_socket_activate() {
    let Some(activate) = which("systemd-socket-activate") else {
        eprintln!("skipped: systemd-socket-activate is not installed (.ci/run installs the systemd package)");
        return;
    };
    let env = Env::new().await;
    let sock = env.path("sa.sock");
    let notify_path = env.path("notify.sock");
    let notify = notify_socket(&notify_path);
    let inner = serve_command(&env.mock, env.home.path());
    let listen = format!("--listen={}", sock.display());
    let setenv = format!("--setenv=NOTIFY_SOCKET={}", notify_path.display());
    let mut cmd = rewrap(
        activate.to_str().expect("utf-8 path"),
        &[&listen, "--fdname=codex-serve.socket", &setenv, "--"],
        &inner,
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.path("stderr.log")).expect("stderr"));
    let mut child = Spawned(cmd.spawn().expect("spawn systemd-socket-activate"));

    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "no socket: {}", env.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first connection starts codex-serve (systemd-socket-activate execs it in place).
    let r = unix_raw(
        &sock,
        "POST",
        "/v1/chat/completions",
        &[],
        chat_stream("via systemd-socket-activate")
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), env.logs());
    assert_eq!(
        streamed_text(&r.sse_data()),
        "echo: via systemd-socket-activate"
    );
    expect_notification(&notify, "READY=1").await;
    assert!(env.logs().contains("codex-serve.socket"), "{}", env.logs());

    child.signal(Signal::SIGTERM);
    let status = child
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exit");
    assert!(status.success(), "{status:?}\n{}", env.logs());
    assert!(sock.exists(), "codex-serve unlinked systemd's socket");
}
