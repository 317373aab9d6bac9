//! Faults: a flaky backend, a misbehaving client, hostile input. Each test states what the client sees and
//! checks that the server is fine for the next request.

use crate::common;

use std::io::{Read, Write};
use std::time::Duration;

use codex_mock::{sse_frame, text_events, Chunk, Reply, TokenReply};
use common::{chat, chat_stream, Options, Server};
use serde_json::json;

fn upstream_count(s: &Server) -> usize {
    s.mock
        .requests()
        .iter()
        .filter(|r| r.path == "/responses")
        .count()
}

async fn still_serves(s: &Server) {
    let r = s.post("/v1/chat/completions", chat("are you ok")).await;
    assert_eq!(
        r.status,
        200,
        "server unhealthy after the fault: {}",
        r.text()
    );
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_refused_connection_is_a_prompt_502() {
    let s = Server::start_with(Options {
        upstream_url: Some("http://127.0.0.1:9".into()),
        args: vec!["--upstream-retries".into(), "1".into()],
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 502);
    assert!(
        r.error()["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not reach")),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn no_headers_in_time_is_a_504_and_not_retried_forever() {
    let s = Server::start_with(Options {
        args: vec![
            "--upstream-idle-timeout".into(),
            "1".into(),
            "--upstream-retries".into(),
            "1".into(),
        ],
        ..Options::default()
    })
    .await;
    s.mock.push(Reply::Hang);
    s.mock.push(Reply::Hang);
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.error()["code"], "upstream_timeout");
    assert_eq!(upstream_count(&s), 2, "one try and one retry");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_transient_5xx_is_retried_before_anything_streamed() {
    let s = Server::start().await;
    for status in [502, 503] {
        s.mock.push(Reply::Status {
            status,
            headers: vec![],
            body: "upstream hiccup".into(),
        });
    }
    let r = s
        .post("/v1/chat/completions", chat("third time lucky"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: third time lucky"
    );
    assert_eq!(upstream_count(&s), 3);

    // A 4xx is never retried.
    s.mock.push(Reply::Status {
        status: 400,
        headers: vec![],
        body: json!({"detail": "Unsupported parameter: foo"}).to_string(),
    });
    let before = upstream_count(&s);
    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 400);
    assert_eq!(upstream_count(&s), before + 1);
}

#[tokio::test]
async fn malformed_sse_is_an_error_not_a_hang_or_a_panic() {
    let s = Server::start().await;
    let garbage = Reply::Sse {
        headers: vec![],
        chunks: vec![
            Chunk::now(sse_frame(
                &json!({"type":"response.created","response":{"id":"r"}}),
            )),
            Chunk::now("data: {this is not json\n\n"),
        ],
    };
    s.mock.push(garbage.clone());
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 502);
    assert!(r.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("unreadable event")));

    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks: vec![
            Chunk::now(sse_frame(
                &json!({"type":"response.output_text.delta","delta":"ok so far"}),
            )),
            Chunk::now("data: {this is not json\n\n"),
        ],
    });
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    let data = r.sse_data();
    assert!(
        data.last().is_some_and(|d| d.contains("\"error\"")),
        "{data:?}"
    );
    assert!(!data.iter().any(|d| d == "[DONE]"));
    still_serves(&s).await;
}

#[tokio::test]
async fn a_stream_that_falls_silent_ends_with_an_error_event() {
    let s = Server::start_with(Options {
        args: vec!["--upstream-idle-timeout".into(), "1".into()],
        ..Options::default()
    })
    .await;
    let events = text_events("resp_idle", &["started ", "then silence"], (1, 0, 1, 0));
    let mut chunks: Vec<Chunk> = events
        .iter()
        .take(5)
        .map(|e| Chunk::now(sse_frame(e)))
        .collect();
    chunks.push(Chunk::delayed(sse_frame(&events[5]), 5_000));
    s.mock.push(Reply::Sse {
        headers: vec![],
        chunks,
    });
    let r = s.post("/v1/chat/completions", chat_stream("x")).await;
    let data = r.sse_data();
    let last: serde_json::Value = serde_json::from_str(data.last().expect("frames")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_timeout", "{data:?}");
    still_serves(&s).await;
}

/// Reads the first chunk of a streamed answer over a raw socket, then hangs up.
fn start_stream_and_hang_up(socket: &std::path::Path) {
    let mut conn = std::os::unix::net::UnixStream::connect(socket).expect("connect");
    let body = chat_stream("a long answer please").to_string();
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = [0u8; 512];
    let n = conn.read(&mut buf).expect("read");
    assert!(n > 0);
    drop(conn);
}

fn slow_stream(id: &str, pieces: usize) -> Reply {
    let deltas: Vec<String> = (0..pieces).map(|i| format!("piece {i} ")).collect();
    let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
    let events = text_events(id, &refs, (1, 0, 1, 0));
    Reply::Sse {
        headers: vec![],
        chunks: events
            .iter()
            .map(|e| Chunk::delayed(sse_frame(e), 20))
            .collect(),
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_upstream_request_and_leaks_nothing() {
    let s = Server::start().await;
    still_serves(&s).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fds_before = fds(s.pid());

    s.mock.push(slow_stream("resp_slow", 500));
    let socket = s.socket.clone();
    tokio::task::spawn_blocking(move || start_stream_and_hang_up(&socket))
        .await
        .expect("client");
    // The mock sees its connection close well before the 10 s the stream would take.
    let mut closed = false;
    for _ in 0..100 {
        if s.mock.open_connections() == 0 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "upstream request still open after the client left");

    // 200 more, then count descriptors.
    for i in 0..200 {
        s.mock.push(slow_stream(&format!("resp_{i}"), 100));
    }
    let socket = s.socket.clone();
    tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            start_stream_and_hang_up(&socket);
        }
    })
    .await
    .expect("clients");
    let mut settled = usize::MAX;
    for _ in 0..100 {
        settled = fds(s.pid());
        if settled <= fds_before + 2 && s.mock.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        settled <= fds_before + 2,
        "fds grew from {fds_before} to {settled}"
    );
    assert_eq!(s.mock.open_connections(), 0);
    s.mock.reset();
    still_serves(&s).await;
}

#[tokio::test]
async fn a_full_upstream_queue_is_a_503_with_retry_after() {
    let s = Server::start_with(Options {
        args: vec![
            "--max-upstream".into(),
            "1".into(),
            "--max-queue".into(),
            "0".into(),
        ],
        ..Options::default()
    })
    .await;
    s.mock.push(slow_stream("resp_busy", 50));
    let s = std::sync::Arc::new(s);
    let first = {
        let s = s.clone();
        tokio::spawn(async move { s.post("/v1/chat/completions", chat("first")).await })
    };
    while upstream_count(&s) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = s.post("/v1/chat/completions", chat("second")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.error()["code"], "server_busy");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(first.await.expect("first").status, 200);
    still_serves(&s).await;
}

#[tokio::test]
async fn hostile_bodies_get_4xx_and_no_panic() {
    let s = Server::start().await;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (
            b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"
                .to_vec(),
            400,
        ),
        (
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            400,
        ),
        (br#"{"model":5,"messages":"no"}"#.to_vec(), 400),
        (
            br#"{"model":"m","messages":[{"role":"user","content":{"nested":true}}]}"#.to_vec(),
            400,
        ),
        (
            br#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#.to_vec(),
            400,
        ),
        (vec![0u8; 1024], 400),
    ];
    for (body, status) in cases {
        let r = s
            .raw("POST", "/v1/chat/completions", &[], body.clone())
            .await;
        assert_eq!(
            r.status,
            status,
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        r.error();
    }
    // A header flood is refused at the HTTP layer.
    let big = "x".repeat(100 * 1024);
    let mut conn = std::os::unix::net::UnixStream::connect(&s.socket).expect("connect");
    let _ = write!(
        conn,
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-big: {big}\r\n\r\n"
    );
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    assert!(
        out.starts_with("HTTP/1.1 431") || out.is_empty(),
        "{}",
        &out[..out.len().min(100)]
    );
    assert_eq!(upstream_count(&s), 0);
    still_serves(&s).await;
}

#[tokio::test]
async fn a_slow_loris_client_is_cut_off() {
    let s = Server::start_with(Options {
        args: vec!["--header-read-timeout".into(), "1".into()],
        ..Options::default()
    })
    .await;
    let socket = s.socket.clone();
    let closed = tokio::task::spawn_blocking(move || {
        let mut conn = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: local");
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        let n = conn.read(&mut buf).unwrap_or(0);
        (
            started.elapsed(),
            String::from_utf8_lossy(&buf[..n]).into_owned(),
        )
    })
    .await
    .expect("client");
    assert!(
        closed.0 < Duration::from_secs(4),
        "connection held for {:?}",
        closed.0
    );
    assert!(
        closed.1.is_empty() || closed.1.starts_with("HTTP/1.1 408"),
        "{}",
        closed.1
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn the_token_endpoint_failing_leaves_the_file_alone() {
    let s = Server::start_with(Options {
        token_exp: -60,
        ..Options::default()
    })
    .await;
    let before = std::fs::read(s.auth_path()).expect("read");
    s.mock.push_token_reply(TokenReply::Status {
        status: 500,
        body: json!({"error": "server_error"}),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 401);
    assert!(r.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("codex login")));
    assert_eq!(std::fs::read(s.auth_path()).expect("read"), before);
    // The endpoint recovers: the next request refreshes and succeeds.
    still_serves(&s).await;
    assert_eq!(s.mock.token_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_rewriting_auth_json_in_a_loop_never_tears_a_request() {
    let s = std::sync::Arc::new(Server::start().await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A real thread, like the codex CLI in another process: it is not paused while requests run.
    let writer = {
        let s = s.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut writes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let fresh = s.mock.issue_tokens(common::ACCOUNT, 3600);
                // Truncate, then write in two halves: what the codex CLI's in-place write looks like.
                let doc = json!({"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":fresh.id_token,
                    "access_token":fresh.access_token,"refresh_token":fresh.refresh_token,"account_id":common::ACCOUNT},
                    "last_refresh":"2026-11-24T10:00:00Z"})
                .to_string();
                let mut f = std::fs::File::create(s.auth_path()).expect("create");
                let (a, b) = doc.as_bytes().split_at(doc.len() / 2);
                f.write_all(a).expect("write");
                std::thread::sleep(Duration::from_millis(1));
                f.write_all(b).expect("write");
                drop(f);
                writes += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            writes
        })
    };
    for wave in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..60 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.post("/v1/chat/completions", chat(&format!("w{wave} r{i}")))
                    .await
            }));
        }
        for t in tasks {
            let r = t.await.expect("task");
            assert_eq!(r.status, 200, "{}", r.text());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    assert!(writes > 5, "the writer barely ran ({writes})");
    eprintln!("300 requests during {writes} torn rewrites of auth.json");
    assert!(
        s.mock.token_requests().is_empty(),
        "a refresh happened while tokens were valid"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(s.auth_path()).expect("read")
    )
    .is_ok());
}

#[tokio::test]
async fn a_thousand_concurrent_streams_complete_with_bounded_memory() {
    let s = std::sync::Arc::new(Server::start().await);
    still_serves(&s).await;
    let fds_before = fds(s.pid());
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let r = s
                .post("/v1/chat/completions", chat_stream(&format!("stream {i}")))
                .await;
            (r.status, r.sse_data().last().cloned())
        }));
    }
    let mut peak = 0;
    let mut ok = 0;
    for t in tasks {
        let (status, last) = t.await.expect("task");
        peak = peak.max(rss_kib(s.pid()));
        if status == 200 && last.as_deref() == Some("[DONE]") {
            ok += 1;
        }
    }
    assert_eq!(ok, 1000);
    eprintln!("1000 concurrent streams: peak RSS {peak} KiB, fds {fds_before} before");
    assert!(peak < 200 * 1024, "RSS peaked at {peak} KiB");
    let mut settled = usize::MAX;
    // Up to --max-upstream (64) idle keep-alive connections to the backend may stay pooled; client
    // sockets may not.
    let pooled = 64;
    for _ in 0..100 {
        settled = fds(s.pid());
        if settled <= fds_before + pooled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        settled <= fds_before + pooled,
        "fds grew from {fds_before} to {settled}"
    );
}
