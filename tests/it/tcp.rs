//! The opt-in TCP listener: the key, the Host check, CORS, loopback only — on the real binary, with a
//! hyper client and curl over real TCP.

use crate::common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{chat, chat_stream, free_port, tcp_raw, wait_tcp, Options, Server};

const KEY: &str = "csk-test-key-0123456789";

async fn start_tcp(extra: &[&str], env: &[(&str, &str)]) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let mut args = vec!["--tcp".to_owned(), addr.to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    let s = Server::start_with(Options {
        args,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    })
    .await;
    wait_tcp(addr).await;
    (s, addr)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test]
async fn tcp_needs_the_key_in_either_header() {
    let (s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;

    let r = tcp_raw(addr, "GET", "/v1/models", &[], vec![]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let e = r.error();
    assert_eq!(e["code"], "invalid_api_key");
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.header("x-request-id").is_some());

    for headers in [
        vec![("authorization", bearer("csk-wrong"))],
        vec![("x-api-key", "csk-wrong".to_owned())],
        vec![("authorization", format!("Basic {KEY}"))],
        vec![("authorization", bearer(&KEY[..KEY.len() - 1]))],
        vec![("authorization", bearer(&format!("{KEY}x")))],
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = tcp_raw(addr, "GET", "/healthz", &h, vec![]).await;
        assert_eq!(r.status, 401, "{headers:?}: {}", r.text());
        assert_eq!(r.error()["code"], "invalid_api_key");
    }

    let auth = bearer(KEY);
    let body = chat("over tcp").to_string().into_bytes();
    let r = tcp_raw(
        addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: over tcp"
    );
    let r = tcp_raw(
        addr,
        "POST",
        "/v1/chat/completions",
        &[("x-api-key", KEY)],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // The socket beside it needs no key: its mode is its access control.
    assert_eq!(s.request("GET", "/healthz", None).await.status, 200);
}

// Multi-threaded: curl blocks this thread while the in-process mock answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_streams_a_chat_over_tcp_with_the_key() {
    let (_s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;
    let out = Command::new("curl")
        .args(["-sS", "-N", "--max-time", "10", "-H"])
        .arg(format!("Authorization: Bearer {KEY}"))
        .args(["-H", "content-type: application/json", "-d"])
        .arg(chat_stream("streamed over tcp").to_string())
        .arg(format!(
            "http://localhost:{}/v1/chat/completions",
            addr.port()
        ))
        .output()
        .expect("curl is required for this test (.ci/run installs it)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let data: Vec<String> = text
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    assert_eq!(common::streamed_text(&data), "echo: streamed over tcp");
}

#[tokio::test]
async fn a_key_is_generated_once_into_a_private_file_and_its_path_printed() {
    let (s, addr) = start_tcp(&[], &[]).await;
    let path = s
        .run
        .path()
        .join("config")
        .join("codex-serve")
        .join("api-key");
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        s.logs().contains(&path.display().to_string()),
        "{}",
        s.logs()
    );
    let key = std::fs::read_to_string(&path).expect("read key");
    let key = key.trim();
    assert!(key.len() >= 40, "{key}");
    assert!(!s.logs().contains(key), "the key itself was logged");
    let auth = bearer(key);
    let r = tcp_raw(
        addr,
        "GET",
        "/v1/models",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn api_key_file_is_used_and_must_be_private() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{KEY}\n")).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let file_arg = file.display().to_string();
    let (_s, addr) = start_tcp(&["--api-key-file", &file_arg], &[]).await;
    let auth = bearer(KEY);
    let r = tcp_raw(addr, "GET", "/healthz", &[("authorization", &auth)], vec![]).await;
    assert_eq!(r.status, 200);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args([
            "--no-socket",
            "--tcp",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .args(["--api-key-file", &file_arg, "--codex-home"])
        .arg(dir.path())
        .env_remove("CODEX_SERVE_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn a_foreign_host_is_403_on_every_route_before_the_key_is_checked() {
    let (_s, addr) = start_tcp(
        &["--allow-host", "devbox.lan"],
        &[("CODEX_SERVE_API_KEY", KEY)],
    )
    .await;
    let auth = bearer(KEY);
    for (method, path) in [
        ("GET", "/healthz"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/no/such/route"),
        ("DELETE", "/v1/models"),
    ] {
        for host in [
            "evil.example",
            "evil.example:80",
            "localhost.evil.example",
            "10.1.2.3",
        ] {
            let with_key = tcp_raw(
                addr,
                method,
                path,
                &[("host", host), ("authorization", &auth)],
                vec![],
            )
            .await;
            assert_eq!(with_key.status, 403, "{method} {path} Host {host}");
            assert_eq!(with_key.error()["code"], "host_not_allowed");
            let without = tcp_raw(addr, method, path, &[("host", host)], vec![]).await;
            assert_eq!(without.status, 403, "{method} {path} Host {host}");
        }
    }
    // Unknown routes still answer 404 (with the key) when the Host is fine; without the key, 401.
    let r = tcp_raw(
        addr,
        "GET",
        "/no/such/route",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = tcp_raw(addr, "GET", "/no/such/route", &[], vec![]).await;
    assert_eq!(r.status, 401);

    let port = addr.port().to_string();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "[::1]".to_owned(),
        "devbox.lan".to_owned(),
        format!("DEVBOX.lan:{port}"),
    ] {
        let r = tcp_raw(
            addr,
            "GET",
            "/healthz",
            &[("host", &host), ("authorization", &auth)],
            vec![],
        )
        .await;
        assert_eq!(r.status, 200, "Host {host}");
    }
}

#[tokio::test]
async fn cors_headers_go_only_to_listed_origins() {
    let (_s, addr) = start_tcp(
        &["--cors-origin", "http://localhost:3000"],
        &[("CODEX_SERVE_API_KEY", KEY)],
    )
    .await;
    let auth = bearer(KEY);
    let cors_headers = |r: &common::Reply| -> Vec<String> {
        r.headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k.starts_with("access-control-"))
            .collect()
    };

    // An origin not on the list: never echoed, on requests and preflights alike.
    for origin in ["http://evil.example", "null", "http://localhost:3001"] {
        let r = tcp_raw(
            addr,
            "GET",
            "/v1/models",
            &[("origin", origin), ("authorization", &auth)],
            vec![],
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(cors_headers(&r).is_empty(), "{origin}: {:?}", r.headers);
        let pre = tcp_raw(
            addr,
            "OPTIONS",
            "/v1/chat/completions",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            vec![],
        )
        .await;
        assert!(cors_headers(&pre).is_empty(), "{origin}: {:?}", pre.headers);
        assert_ne!(pre.status / 100, 2, "a foreign preflight succeeded");
    }

    // The listed origin: a preflight answered without the key, then the real request.
    let pre = tcp_raw(
        addr,
        "OPTIONS",
        "/v1/chat/completions",
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
        vec![],
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(pre
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    assert!(pre
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("authorization")));

    let r = tcp_raw(
        addr,
        "POST",
        "/v1/chat/completions",
        &[
            ("origin", "http://localhost:3000"),
            ("authorization", &auth),
        ],
        chat("from a page").to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(r.header("vary").is_some_and(|v| v.contains("origin")));
    // The page may read why it was refused, too.
    let r = tcp_raw(
        addr,
        "GET",
        "/v1/models",
        &[("origin", "http://localhost:3000")],
        vec![],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
}

#[tokio::test]
async fn without_cors_origin_no_origin_gets_cors_headers() {
    let (_s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;
    let auth = bearer(KEY);
    let r = tcp_raw(
        addr,
        "GET",
        "/v1/models",
        &[
            ("origin", "http://localhost:3000"),
            ("authorization", &auth),
        ],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!r
        .headers
        .keys()
        .any(|k| k.as_str().starts_with("access-control-")));
}

fn run_expecting_failure(args: &[&str]) -> String {
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .args(args)
        .arg("--codex-home")
        .arg(home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("CODEX_SERVE_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success(), "{args:?} started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_remote_bind_is_refused_with_a_clear_message() {
    let port = free_port().to_string();
    for addr in [format!("0.0.0.0:{port}"), format!("[::]:{port}")] {
        let err = run_expecting_failure(&["--no-socket", "--tcp", &addr]);
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(err.contains("--allow-remote"), "{err}");
    }
    let err = run_expecting_failure(&[
        "--no-socket",
        "--tcp",
        &format!("0.0.0.0:{port}"),
        "--allow-remote",
        "--no-auth",
    ]);
    assert!(err.contains("--no-auth"), "{err}");
    let err = run_expecting_failure(&["--tcp", "example.com:80"]);
    assert!(err.contains("--tcp"), "{err}");
    let err = run_expecting_failure(&["--tcp", "8080", "--cors-origin", "*"]);
    assert!(err.contains("not an origin"), "{err}");
}

#[tokio::test]
async fn allow_remote_binds_everywhere_and_still_wants_the_key() {
    let port = free_port();
    let s = Server::start_with(Options {
        args: vec![
            "--tcp".into(),
            format!("0.0.0.0:{port}"),
            "--allow-remote".into(),
        ],
        env: vec![("CODEX_SERVE_API_KEY".into(), KEY.into())],
        ..Options::default()
    })
    .await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    wait_tcp(addr).await;
    assert_eq!(
        tcp_raw(addr, "GET", "/healthz", &[], vec![]).await.status,
        401
    );
    let auth = bearer(KEY);
    let r = tcp_raw(addr, "GET", "/healthz", &[("authorization", &auth)], vec![]).await;
    assert_eq!(r.status, 200);
    drop(s);
}

#[tokio::test]
async fn no_auth_on_loopback_still_checks_the_host() {
    let (s, addr) = start_tcp(&["--no-auth"], &[]).await;
    assert!(s.logs().contains("--no-auth"));
    let r = tcp_raw(addr, "GET", "/healthz", &[], vec![]).await;
    assert_eq!(r.status, 200);
    let r = tcp_raw(addr, "GET", "/healthz", &[("host", "evil.example")], vec![]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn tcp_only_without_the_socket() {
    let home = tempfile::tempdir().expect("home");
    let run = tempfile::tempdir().expect("run");
    let mock = codex_mock::MockCodex::start().await;
    let tokens = mock.issue_tokens(common::ACCOUNT, 3600);
    common::write_auth(home.path(), &tokens, serde_json::json!({}));
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let mut child = common::Spawned(
        common::serve_command(&mock, home.path())
            .args(["--no-socket", "--tcp", &addr.to_string()])
            .env("CODEX_SERVE_API_KEY", KEY)
            .env("XDG_RUNTIME_DIR", run.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_tcp(addr).await;
    let auth = bearer(KEY);
    let r = tcp_raw(
        addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        chat("tcp only").to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        std::fs::read_dir(run.path())
            .expect("run dir")
            .next()
            .is_none(),
        "a socket directory was made despite --no-socket"
    );
    child.signal(nix::sys::signal::Signal::SIGTERM);
    let status = child
        .wait_exit(std::time::Duration::from_secs(10))
        .await
        .expect("exit");
    assert!(status.success());
}

// ------------------------------------------------------------------------------------------ WebSocket

type TcpWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;
type Refusal = tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>;

/// Upgrades `GET /v1/responses` over TCP with these extra headers (a `host` replaces the default one).
async fn ws_over_tcp(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<TcpWs, Box<Refusal>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    let mut req = format!("ws://{addr}/v1/responses")
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    match tokio_tungstenite::client_async(req, stream).await {
        Ok((ws, resp)) => {
            assert_eq!(resp.status().as_u16(), 101);
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp),
        Err(e) => panic!("websocket handshake failed without an HTTP answer: {e}"),
    }
}

/// Sends one `response.create` and collects the frames up to and including the turn's last one.
async fn ws_turn_tcp(ws: &mut TcpWs, create: serde_json::Value) -> Vec<serde_json::Value> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    let mut frames = Vec::new();
    let deadline = std::time::Duration::from_secs(20);
    while let Ok(Some(msg)) = tokio::time::timeout(deadline, ws.next()).await {
        let Message::Text(t) = msg.expect("frame") else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&t).expect("json frame");
        let last = matches!(
            v["type"].as_str().unwrap_or(""),
            "response.completed" | "response.failed" | "response.incomplete" | "error"
        );
        frames.push(v);
        if last {
            return frames;
        }
    }
    panic!("the turn did not end: {frames:?}");
}

/// The upgrade request itself, sent with a plain HTTP client, so that the refusal's body can be read whole.
async fn upgrade_raw(addr: SocketAddr, extra: &[(&str, &str)]) -> common::Reply {
    let mut headers = vec![
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    headers.extend_from_slice(extra);
    tcp_raw(addr, "GET", "/v1/responses", &headers, vec![]).await
}

#[tokio::test]
async fn a_websocket_upgrade_over_tcp_needs_the_key_and_a_loopback_host() {
    use serde_json::json;
    let (s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;
    let auth = bearer(KEY);

    // Without the key, or with a wrong one: 401 before any upgrade.
    let wrong = bearer("csk-wrong");
    let near = bearer(&KEY[..KEY.len() - 1]);
    for headers in [
        vec![],
        vec![("authorization", wrong.as_str())],
        vec![("authorization", near.as_str())],
        vec![("x-api-key", "csk-wrong")],
        vec![("authorization", "Basic csk-test-key-0123456789")],
    ] {
        let refused = ws_over_tcp(addr, &headers)
            .await
            .err()
            .unwrap_or_else(|| panic!("upgraded with {headers:?}"));
        assert_eq!(refused.status().as_u16(), 401, "{headers:?}");
        assert_eq!(
            refused
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let r = upgrade_raw(addr, &headers).await;
        assert_eq!(r.status, 401, "{headers:?}: {}", r.text());
        assert_eq!(r.error()["code"], "invalid_api_key");
    }

    // A foreign Host: 403, with the key or without, before the key is looked at.
    for host in ["evil.example", "evil.example:80", "localhost.evil.example"] {
        for headers in [
            vec![("host", host), ("authorization", auth.as_str())],
            vec![("host", host)],
        ] {
            let refused = ws_over_tcp(addr, &headers)
                .await
                .err()
                .unwrap_or_else(|| panic!("upgraded with {headers:?}"));
            assert_eq!(refused.status().as_u16(), 403, "{headers:?}");
            let r = upgrade_raw(addr, &headers).await;
            assert_eq!(r.status, 403, "{headers:?}: {}", r.text());
            assert_eq!(r.error()["code"], "host_not_allowed");
        }
    }
    assert_eq!(
        s.upstream_count(),
        0,
        "a refused upgrade reached the backend"
    );

    // With the key (and a loopback Host naming the port): a full turn, then one chained on it.
    let host = format!("localhost:{}", addr.port());
    let mut ws = ws_over_tcp(addr, &[("authorization", &auth), ("host", &host)])
        .await
        .unwrap_or_else(|r| panic!("refused with the key: {r:?}"));
    let t1 = ws_turn_tcp(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "hello over tcp"}),
    )
    .await;
    for (i, f) in t1.iter().enumerate() {
        assert_eq!(f["sequence_number"], i as u64, "{f}");
    }
    let done = t1.last().expect("frames");
    assert_eq!(done["type"], "response.completed", "{done}");
    let text: String = t1
        .iter()
        .filter(|f| f["type"] == "response.output_text.delta")
        .filter_map(|f| f["delta"].as_str())
        .collect();
    assert_eq!(text, "echo: hello over tcp");
    let id = done["response"]["id"].as_str().expect("id").to_owned();
    let t2 = ws_turn_tcp(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "again", "previous_response_id": id}),
    )
    .await;
    assert_eq!(t2.last().expect("frames")["type"], "response.completed");
    assert_eq!(
        Some(common::conversation(&s.last_upstream().body).len()),
        Some(3),
        "the second turn did not carry the first"
    );
    ws.close(None).await.expect("close");

    // The key as `x-api-key` opens the socket too.
    let mut ws = ws_over_tcp(addr, &[("x-api-key", KEY)])
        .await
        .unwrap_or_else(|r| panic!("refused with x-api-key: {r:?}"));
    let t = ws_turn_tcp(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "x"}),
    )
    .await;
    assert_eq!(t.last().expect("frames")["type"], "response.completed");
}

// ------------------------------------------------------------------------------------------ the Host header

/// RFC 9112 §3.2: a request with more than one Host line MUST be answered 400. Here a second, foreign Host
/// hides behind a loopback one; either way round it must not be served.
#[tokio::test]
async fn a_request_with_two_host_headers_is_not_served() {
    let (s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;
    let auth = bearer(KEY);
    let mut served = Vec::new();
    for hosts in [
        ["evil.example", "127.0.0.1"],
        ["127.0.0.1", "evil.example"],
        ["localhost", "evil.example:8080"],
    ] {
        for (method, path, body) in [
            ("GET", "/healthz", vec![]),
            (
                "POST",
                "/v1/chat/completions",
                chat("two hosts").to_string().into_bytes(),
            ),
        ] {
            let r = tcp_raw(
                addr,
                method,
                path,
                &[
                    ("host", hosts[0]),
                    ("host", hosts[1]),
                    ("authorization", &auth),
                ],
                body,
            )
            .await;
            if r.status != 400 && r.status != 403 {
                served.push(format!(
                    "{method} {path} with Host {hosts:?} was answered {}: {}",
                    r.status,
                    r.text()
                ));
            }
        }
    }
    let upstream = s.upstream_count();
    assert!(
        served.is_empty() && upstream == 0,
        "{served:#?}\n{upstream} of them reached the backend"
    );
}

// ------------------------------------------------------------------------------------------ early answers

/// Reads one HTTP/1.1 response (headers and a Content-Length body) from `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed after {} bytes: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

/// An answer given before the request body arrived (the key or Host refused, an unknown route) must not
/// leave a keep-alive client stranded: either the answer says `Connection: close`, or the connection still
/// serves the next request once the body has been sent. Clients pool connections (httpx, the SDKs, the
/// ollama client); a silent close makes their next request fail with "Server disconnected without sending a
/// response", and a body that lands on the closed socket turns the close into a reset that can take the
/// answer with it (RFC 9112 §9.3 and §9.6).
#[tokio::test]
async fn an_early_answer_says_close_or_keeps_the_connection_usable() {
    use tokio::io::AsyncWriteExt;
    let (_s, addr) = start_tcp(&[], &[("CODEX_SERVE_API_KEY", KEY)]).await;
    let body = chat("sent late").to_string();
    let auth = bearer(KEY);
    let cases = [
        (
            "no key",
            "/v1/chat/completions",
            "127.0.0.1".to_owned(),
            None,
            401,
        ),
        (
            "foreign Host",
            "/v1/chat/completions",
            "evil.example".to_owned(),
            Some(auth.as_str()),
            403,
        ),
        (
            "unknown route",
            "/v1/no/such/route",
            "127.0.0.1".to_owned(),
            Some(auth.as_str()),
            404,
        ),
    ];
    let mut failures = Vec::new();
    for (label, path, host, key, status) in cases {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        if let Some(k) = key {
            head.push_str(&format!("authorization: {k}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write head");
        let (first, _) = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            read_response(&mut stream),
        )
        .await
        .expect("no answer within 10 s")
        .unwrap_or_else(|e| panic!("{label}: no answer: {e}"));
        assert!(
            first.starts_with(&format!("HTTP/1.1 {status} ")),
            "{label}: {first}"
        );
        let says_close = first.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("connection")
                    && v.to_ascii_lowercase().contains("close")
            })
        });
        if says_close {
            continue;
        }
        // The answer promised a persistent connection: the body, then a second request on it.
        let next = format!(
            "{body}GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {auth}\r\n\r\n"
        );
        let second = async {
            stream.write_all(next.as_bytes()).await?;
            read_response(&mut stream).await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(10), second).await {
            Ok(Ok((h, _))) if h.starts_with("HTTP/1.1 200 ") => {}
            Ok(Ok((h, _))) => failures.push(format!("{label}: second request answered {h}")),
            Ok(Err(e)) => failures.push(format!(
                "{label}: the {status} had no `Connection: close`, yet the connection was closed: {e}"
            )),
            Err(_) => failures.push(format!("{label}: second request not answered in 10 s")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
