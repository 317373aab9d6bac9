//! What a slow, broken or hostile client gets at the body layer, on every transport: a body that never
//! finishes (408 and a close), a body cut or framed wrongly (400 in the route's shape), a too-large body
//! announced with `Expect: 100-continue` (413 before any `100 Continue`). Raw bytes over real sockets,
//! against the real binary.

use crate::common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{chat, free_port, wait_tcp, Options, Server};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const KEY: &str = "csk-limits-key-0123456789";

/// What came back on one raw connection.
#[derive(Debug)]
struct Exchange {
    elapsed: Duration,
    raw: String,
    /// The server closed the connection (read returned 0) before `wait` ran out.
    closed: bool,
}

impl Exchange {
    fn status(&self) -> u16 {
        self.raw
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        let body = self
            .raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("");
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.raw))
    }

    /// Asserts the OpenAI error shape and returns the error object.
    fn openai_error(&self) -> Value {
        let v = self.json();
        let e = v["error"].clone();
        for k in ["message", "type", "param", "code"] {
            assert!(e.get(k).is_some(), "error lacks {k}: {}", self.raw);
        }
        e
    }
}

/// Writes `bytes` (and nothing more), then reads until the server closes or `wait` passes.
async fn exchange<S>(mut s: S, bytes: &[u8], wait: Duration) -> Exchange
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    s.write_all(bytes).await.expect("write");
    s.flush().await.expect("flush");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut deadline = started + wait;
    let mut answered = false;
    let closed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
        // Once a whole final answer is in, give the server a moment to close, not the whole wait.
        if !answered && complete(&out) {
            answered = true;
            deadline = deadline.min(Instant::now() + Duration::from_millis(1000));
        }
    };
    Exchange {
        elapsed: started.elapsed(),
        raw: String::from_utf8_lossy(&out).into_owned(),
        closed,
    }
}

/// A final (non-1xx) response whose Content-Length worth of body has arrived.
fn complete(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text
        .rsplit_once("\r\n\r\n")
        .filter(|(h, _)| !h.starts_with("HTTP/1.1 1"))
    else {
        return false;
    };
    let head = head.rsplit("\r\n\r\n").next().unwrap_or(head);
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .is_some_and(|n| body.len() >= n)
}

fn head(path: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         authorization: Bearer {KEY}\r\n{extra}\r\n"
    )
}

async fn start(args: &[&str]) -> (Server, SocketAddr) {
    start_env(args, &[]).await
}

async fn start_env(args: &[&str], env: &[(&str, &str)]) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let mut all = vec!["--tcp".to_owned(), addr.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let s = Server::start_with(Options {
        args: all,
        env: [("CODEX_SERVE_API_KEY", KEY)]
            .iter()
            .chain(env)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    })
    .await;
    wait_tcp(addr).await;
    (s, addr)
}

async fn unix(s: &Server) -> tokio::net::UnixStream {
    tokio::net::UnixStream::connect(&s.socket)
        .await
        .expect("connect")
}

async fn tcp(addr: SocketAddr) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(addr).await.expect("connect")
}

fn assert_408(x: &Exchange, timeout: Duration) {
    assert_eq!(x.status(), 408, "{x:?}");
    let e = x.openai_error();
    assert_eq!(e["code"], "request_timeout", "{x:?}");
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(x.header("connection").as_deref(), Some("close"), "{x:?}");
    assert!(x.closed, "the connection stayed open after the 408: {x:?}");
    assert!(
        x.elapsed >= timeout && x.elapsed < timeout + Duration::from_secs(3),
        "answered after {:?} (timeout {timeout:?})",
        x.elapsed
    );
}

/// F4: `Content-Length: 100`, 4 bytes, silence; and a chunked body cut after its first chunk.
#[tokio::test]
async fn a_body_that_never_finishes_is_a_408_and_a_close() {
    // Through the environment variable, so this test also runs (and fails) against a build without the flag.
    let (s, addr) = start_env(&[], &[("CODEX_SERVE_BODY_READ_TIMEOUT", "2")]).await;
    let timeout = Duration::from_secs(2);
    let cut = format!(
        "{}{{\"mo",
        head("/v1/chat/completions", "content-length: 100\r\n")
    );
    let chunked = format!(
        "{}5\r\n{{\"mod\r\n",
        head("/v1/chat/completions", "transfer-encoding: chunked\r\n")
    );
    let wait = Duration::from_secs(8);
    for req in [&cut, &chunked] {
        let x = exchange(unix(&s).await, req.as_bytes(), wait).await;
        assert_408(&x, timeout);
        eprintln!("unix: 408 after {:?}", x.elapsed);
        let x = exchange(tcp(addr).await, req.as_bytes(), wait).await;
        assert_408(&x, timeout);
        eprintln!("tcp: 408 after {:?}", x.elapsed);
    }
    // The Anthropic and Ollama routes answer in their own shapes.
    let x = exchange(
        unix(&s).await,
        format!("{}{{", head("/v1/messages", "content-length: 50\r\n")).as_bytes(),
        wait,
    )
    .await;
    assert_eq!(x.status(), 408, "{x:?}");
    assert_eq!(x.json()["type"], "error", "{x:?}");
    let x = exchange(
        unix(&s).await,
        format!("{}{{", head("/api/chat", "content-length: 50\r\n")).as_bytes(),
        wait,
    )
    .await;
    assert_eq!(x.status(), 408, "{x:?}");
    assert!(x.json()["error"].is_string(), "{x:?}");
    assert_eq!(s.upstream_count(), 0);
}

/// F4 on stdio: the one connection gets its 408, and the process ends with it.
#[tokio::test]
async fn a_body_that_never_finishes_on_stdio_is_a_408_and_an_exit() {
    let mock = codex_mock::MockCodex::start().await;
    let home = tempfile::tempdir().expect("home");
    let tokens = mock.issue_tokens(common::ACCOUNT, 3600);
    common::write_auth(home.path(), &tokens, serde_json::json!({}));
    let mut cmd = common::serve_command(&mock, home.path());
    cmd.arg("--stdio")
        .env("CODEX_SERVE_BODY_READ_TIMEOUT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn --stdio");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // stdin stays open: the client is slow, not gone.
    let io = tokio::io::join(stdout, stdin);
    let req = format!(
        "{}{{\"mo",
        head("/v1/chat/completions", "content-length: 100\r\n")
    );
    let x = exchange(io, req.as_bytes(), Duration::from_secs(6)).await;
    assert_408(&x, Duration::from_secs(1));
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("codex-serve --stdio did not exit after closing its connection")
        .expect("wait");
    assert!(status.success(), "{status}");
}

/// F6: whatever goes wrong in the body layer is a 4xx in the route's error shape, never plain text.
#[tokio::test]
async fn broken_bodies_are_errors_in_the_routes_shape() {
    let (s, addr) = start(&[]).await;
    let wait = Duration::from_secs(8);
    let json = chat("x").to_string();
    let cases: Vec<(&str, String)> = vec![
        // A chunk size no body could have.
        (
            "absurd chunk size",
            "transfer-encoding: chunked\r\n\r\nffffffffffffffffffffff\r\nx\r\n0\r\n\r\n".into(),
        ),
        (
            "malformed chunk size",
            "transfer-encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n".into(),
        ),
        (
            "chunk without its CRLF",
            format!(
                "transfer-encoding: chunked\r\n\r\n{:x}\r\n{json}XX0\r\n\r\n",
                json.len()
            ),
        ),
        (
            "invalid JSON",
            "content-length: 9\r\n\r\n{\"model\":".into(),
        ),
        (
            "wrong content type, not JSON",
            "content-type: application/x-www-form-urlencoded\r\ncontent-length: 7\r\n\r\nmodel=x"
                .into(),
        ),
    ];
    for (what, rest) in &cases {
        for (path, shape) in [
            ("/v1/chat/completions", "openai"),
            ("/v1/responses", "openai"),
            ("/v1/messages", "anthropic"),
            ("/api/chat", "ollama"),
        ] {
            let ctype = if what.starts_with("wrong content type") {
                ""
            } else {
                "content-type: application/json\r\n"
            };
            let req = format!(
                "POST {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {KEY}\r\n{ctype}{rest}"
            );
            for transport in ["unix", "tcp"] {
                let x = if transport == "unix" {
                    exchange(unix(&s).await, req.as_bytes(), wait).await
                } else {
                    exchange(tcp(addr).await, req.as_bytes(), wait).await
                };
                let ctx = format!("{what} on {path} over {transport}: {x:?}");
                assert_eq!(x.status(), 400, "{ctx}");
                assert!(
                    x.header("content-type")
                        .is_some_and(|c| c.starts_with("application/json")),
                    "{ctx}"
                );
                match shape {
                    "openai" => {
                        let e = x.openai_error();
                        assert_eq!(e["type"], "invalid_request_error", "{ctx}");
                    }
                    "anthropic" => {
                        let v = x.json();
                        assert_eq!(v["type"], "error", "{ctx}");
                        assert_eq!(v["error"]["type"], "invalid_request_error", "{ctx}");
                    }
                    _ => assert!(x.json()["error"].is_string(), "{ctx}"),
                }
            }
        }
    }
    // A body cut by the client closing its side: 400, not a hang.
    let mut conn = unix(&s).await;
    conn.write_all(head("/v1/chat/completions", "content-length: 100\r\n").as_bytes())
        .await
        .expect("write");
    conn.write_all(b"{\"mo").await.expect("write");
    conn.shutdown().await.expect("half-close");
    let x = exchange(conn, b"", wait).await;
    assert!(x.closed && x.elapsed < Duration::from_secs(3), "{x:?}");
    if !x.raw.is_empty() {
        assert_eq!(x.status(), 400, "{x:?}");
        x.openai_error();
    }
    assert_eq!(s.upstream_count(), 0);
}

/// F7: a too-large body announced with `Expect: 100-continue` is refused before the client uploads it.
#[tokio::test]
async fn expect_continue_with_a_too_large_body_is_an_early_413() {
    let (s, addr) = start(&["--max-body-bytes", "1000000"]).await;
    let req = head(
        "/v1/chat/completions",
        "content-length: 100000000\r\nexpect: 100-continue\r\n",
    );
    for transport in ["unix", "tcp"] {
        let x = if transport == "unix" {
            exchange(unix(&s).await, req.as_bytes(), Duration::from_secs(5)).await
        } else {
            exchange(tcp(addr).await, req.as_bytes(), Duration::from_secs(5)).await
        };
        assert!(
            x.raw.starts_with("HTTP/1.1 413"),
            "{transport}: expected an immediate 413, got {x:?}"
        );
        assert!(!x.raw.contains("100 Continue"), "{x:?}");
        let e = x.openai_error();
        assert_eq!(e["code"], "request_too_large");
        assert!(x.closed && x.elapsed < Duration::from_secs(2), "{x:?}");
    }
    // A body within the limit still gets its 100 Continue and is served.
    let body = chat("continue").to_string();
    let mut conn = unix(&s).await;
    let h = head(
        "/v1/chat/completions",
        &format!("content-length: {}\r\nexpect: 100-continue\r\n", body.len()),
    );
    conn.write_all(h.as_bytes()).await.expect("write");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("100 Continue in time")
        .expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let x = exchange(conn, body.as_bytes(), Duration::from_millis(1500)).await;
    assert!(x.raw.contains("echo: continue"), "{x:?}");
}

/// Raises this process's open-file limit to its hard limit (the server inherits it), for the many
/// connections of the slow-loris test.
fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    hard
}

/// One slow-loris client without the key: a request line, then a header line every `every`, for ever;
/// reconnects when cut off, until `stop`.
async fn loris(addr: SocketAddr, every: Duration, stop: tokio_util::sync::CancellationToken) {
    while !stop.is_cancelled() {
        let Ok(Ok(mut conn)) =
            tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
                .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if conn
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n")
            .await
            .is_err()
        {
            continue;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if conn.write_all(b"x-slow: 1\r\n").await.is_err() {
                break;
            }
        }
    }
}

/// F5: 1,100 TCP connections without the key, each dribbling a header line every 3 s, do not make the
/// owner wait on the Unix socket. Bounded: the attack stops after its samples. The figures go to stderr
/// (`cargo test --test limits slow_loris -- --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_over_tcp_does_not_delay_the_socket() {
    let hard = raise_nofile();
    assert!(
        hard >= 4096,
        "RLIMIT_NOFILE hard limit {hard} is too low for this test"
    );
    let (s, addr) = start(&[]).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let attackers: Vec<_> = (0..1100)
        .map(|_| tokio::spawn(loris(addr, Duration::from_secs(3), stop.clone())))
        .collect();
    // Let the connections pile up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut waits = Vec::new();
    let mut tcp_waits = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(40), async {
            let conn = unix(&s).await;
            exchange(
                conn,
                b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
                Duration::from_secs(40),
            )
            .await
        })
        .await;
        let wait = started.elapsed();
        match r {
            Ok(x) => assert_eq!(x.status(), 200, "{x:?}"),
            Err(_) => panic!("GET /healthz on the socket got no answer in 40 s"),
        }
        waits.push(wait);
        // A client with the key, over TCP, during the same flood.
        let started = Instant::now();
        let keyed = format!(
            "GET /healthz HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {KEY}\r\nconnection: close\r\n\r\n"
        );
        let x = tokio::time::timeout(Duration::from_secs(40), async {
            exchange(tcp(addr).await, keyed.as_bytes(), Duration::from_secs(40)).await
        })
        .await
        .expect("a keyed TCP client got no answer in 40 s");
        assert_eq!(x.status(), 200, "{x:?}");
        tcp_waits.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.cancel();
    for a in attackers {
        let _ = a.await;
    }
    let max = waits.iter().max().copied().unwrap_or_default();
    let mut sorted = waits.clone();
    sorted.sort();
    eprintln!(
        "slow loris (1100 TCP connections without the key): GET /healthz on the socket waited median {:?}, max {:?}",
        sorted[sorted.len() / 2],
        max
    );
    tcp_waits.sort();
    eprintln!(
        "slow loris: a TCP client with the key waited median {:?}, max {:?}",
        tcp_waits[tcp_waits.len() / 2],
        tcp_waits[tcp_waits.len() - 1]
    );
    assert!(
        max < Duration::from_secs(1),
        "the owner waited {max:?} on the socket: {waits:?}"
    );
    assert!(
        tcp_waits[tcp_waits.len() - 1] < Duration::from_secs(5),
        "a keyed TCP client waited {tcp_waits:?}"
    );
}

/// F5: a TCP connection that has not sent a request with the key within `--unauth-header-timeout` is
/// closed; one that has keeps the usual keep-alive; the socket is never subject to either.
#[tokio::test]
async fn tcp_connections_must_show_the_key_promptly() {
    let (s, addr) = start_env(&[], &[("CODEX_SERVE_UNAUTH_HEADER_TIMEOUT", "1")]).await;
    // Dribbling headers without ever finishing them.
    let mut conn = tcp(addr).await;
    let started = Instant::now();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .expect("write");
    let x = exchange(conn, b"x-slow: 1\r\n", Duration::from_secs(5)).await;
    assert!(
        x.closed && started.elapsed() < Duration::from_millis(2500),
        "held {:?}: {x:?}",
        started.elapsed()
    );
    // Requests with a wrong key do not earn a longer stay.
    let mut conn = tcp(addr).await;
    let bad = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer nope\r\n\r\n";
    conn.write_all(bad).await.expect("write");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let x = exchange(conn, bad, Duration::from_secs(3)).await;
    assert!(x.raw.starts_with("HTTP/1.1 401"), "{x:?}");
    assert!(x.closed, "{x:?}");
    // With the key, the connection stays for its next request.
    let mut conn = tcp(addr).await;
    let good =
        format!("GET /healthz HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {KEY}\r\n\r\n");
    conn.write_all(good.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let close = format!(
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {KEY}\r\nconnection: close\r\n\r\n"
    );
    let x = exchange(conn, close.as_bytes(), Duration::from_secs(3)).await;
    assert_eq!(
        x.raw.matches("HTTP/1.1 200").count(),
        2,
        "the keyed connection was cut: {x:?}"
    );
    // The socket has no such deadline: a connection idle past it still serves.
    let mut conn = unix(&s).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let x = exchange(conn, b"", Duration::from_secs(3)).await;
    assert_eq!(x.status(), 200, "{x:?}");
}

/// F6: axum's own refusals (a WebSocket route asked without an upgrade, a path that is not UTF-8) come
/// in the route's error shape too, not as plain text.
#[tokio::test]
async fn framework_refusals_are_in_the_routes_shape() {
    let (s, _addr) = start(&[]).await;
    for req in [
        "GET /v1/responses HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
        "GET /v1/models/%FF%FE HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    ] {
        let x = exchange(unix(&s).await, req.as_bytes(), Duration::from_secs(5)).await;
        assert!((400..500).contains(&x.status()), "{x:?}");
        assert!(
            x.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{x:?}"
        );
        let e = x.openai_error();
        assert_eq!(e["type"], "invalid_request_error", "{x:?}");
    }
}

/// F8 on the Anthropic routes: a known field of the wrong type, used or not, is a 400 in Anthropic's
/// shape and words; unknown fields pass.
#[tokio::test]
async fn anthropic_known_fields_are_type_checked_in_anthropics_words() {
    // The mock backend's catalog has the harness's model.
    let (s, _addr) = start(&["--model-map", "claude-sonnet-4-5=gpt-6.2-sol"]).await;
    let base = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "temperature",
            "hot".into(),
            "temperature: Input should be a valid number",
        ),
        (
            "top_k",
            0.5.into(),
            "top_k: Input should be a valid integer",
        ),
        (
            "max_tokens",
            serde_json::json!([]),
            "max_tokens: Input should be a valid integer",
        ),
        (
            "stop_sequences",
            "x".into(),
            "stop_sequences: Input should be a valid list",
        ),
        (
            "metadata",
            5.into(),
            "metadata: Input should be a valid dictionary",
        ),
        (
            "stream",
            "yes".into(),
            "stream: Input should be a valid boolean",
        ),
        (
            "tools",
            serde_json::json!([{"name": "f", "input_schema": 123}]),
            "tools.0.input_schema: Input should be a valid dictionary",
        ),
        (
            "thinking",
            serde_json::json!({"type": "enabled", "budget_tokens": "lots"}),
            "thinking.budget_tokens: Input should be a valid integer",
        ),
    ];
    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        for (field, value, message) in &cases {
            let mut body = base.clone();
            body[*field] = value.clone();
            let r = s.post(path, body).await;
            assert_eq!(r.status, 400, "{path} {field}: {}", r.text());
            let v = r.json();
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert_eq!(v["error"]["message"], *message, "{path} {field}");
        }
        let mut body = base.clone();
        body["some_future_field"] = serde_json::json!({"x": [1]});
        let r = s.post(path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
}

/// F8 on the Ollama routes: a known field of the wrong type is a 400 in Ollama's shape and Go's words.
#[tokio::test]
async fn ollama_known_fields_are_type_checked_in_gos_words() {
    let (s, _addr) = start(&[]).await;
    let chat = serde_json::json!({"model": "gpt-6.2-sol", "stream": false,
        "messages": [{"role": "user", "content": "hi"}]});
    let generate = serde_json::json!({"model": "gpt-6.2-sol", "stream": false, "prompt": "hi"});
    let cases: Vec<(&str, &Value, &str, Value, &str)> = vec![
        ("/api/chat", &chat, "stream", "yes".into(),
         "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"),
        ("/api/chat", &chat, "messages", "hi".into(),
         "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"),
        ("/api/chat", &chat, "messages", serde_json::json!([{"role": "user", "content": ["x"]}]),
         "json: cannot unmarshal array into Go struct field ChatRequest.messages.content of type string"),
        ("/api/chat", &chat, "options", serde_json::json!([]),
         "json: cannot unmarshal array into Go struct field ChatRequest.options of type map[string]interface {}"),
        ("/api/generate", &generate, "context", serde_json::json!(["a"]),
         "json: cannot unmarshal string into Go struct field GenerateRequest.context of type int"),
        ("/api/generate", &generate, "raw", 1.into(),
         "json: cannot unmarshal number into Go struct field GenerateRequest.raw of type bool"),
    ];
    for (path, base, field, value, message) in cases {
        let mut body = base.clone();
        body[field] = value;
        let r = s.post(path, body).await;
        assert_eq!(r.status, 400, "{path} {field}: {}", r.text());
        assert_eq!(r.json()["error"], message, "{path} {field}");
    }
    for (path, base) in [("/api/chat", &chat), ("/api/generate", &generate)] {
        let mut body = base.clone();
        body["options"] = serde_json::json!({"temperature": 0.1});
        body["some_future_field"] = serde_json::json!([1]);
        let r = s.post(path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
}
