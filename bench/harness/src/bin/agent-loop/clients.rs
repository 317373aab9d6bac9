//! The agent loop's two clients, codex-serve's and the direct one, and where they run: by default in a
//! process of their own (`agent-loop --clients-child`, driven over its stdin and stdout), so that each
//! client's traffic crosses from one process to another at the backend's relay, as a real client's does,
//! and codex-serve's hops are the only ones the direct client lacks. `--clients-in-process` runs them in
//! the mock's own process and runtime instead (the harness before 2026-12-04), where the direct client's
//! reads could meet the relay's writes on a thread already awake.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::ACCOUNT;

/// Where the clients run, and the one entry to them: [`Clients::call`] with a command, as JSON.
pub(crate) enum Clients {
    Here(State),
    Child {
        _child: tokio::process::Child,
        stdin: tokio::process::ChildStdin,
        stdout: BufReader<tokio::process::ChildStdout>,
    },
}

impl Clients {
    pub(crate) fn in_process() -> Clients {
        Clients::Here(State::default())
    }

    /// This program again, as `--clients-child`.
    pub(crate) fn child() -> Clients {
        let exe = std::env::current_exe().expect("this program's path");
        let mut child = tokio::process::Command::new(exe)
            .arg("--clients-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the clients' process");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Clients::Child {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Runs one command (see [`State::run`]) and returns its result.
    pub(crate) async fn call(&mut self, command: Value) -> Value {
        match self {
            Clients::Here(state) => state.run(command).await,
            Clients::Child { stdin, stdout, .. } => {
                let mut line = command.to_string();
                line.push('\n');
                stdin
                    .write_all(line.as_bytes())
                    .await
                    .expect("to the clients");
                stdin.flush().await.expect("to the clients");
                let mut reply = String::new();
                let n = stdout
                    .read_line(&mut reply)
                    .await
                    .expect("from the clients");
                assert!(n > 0, "the clients' process ended");
                serde_json::from_str(&reply).expect("a reply from the clients")
            }
        }
    }
}

/// `--clients-child`: one command per line on stdin, one reply per line on stdout.
pub(crate) async fn child_main() {
    let mut state = State::default();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Ok(Some(line)) = lines.next_line().await {
        let command: Value = serde_json::from_str(&line).expect("a command");
        let mut reply = state.run(command).await.to_string();
        reply.push('\n');
        out.write_all(reply.as_bytes()).await.expect("stdout");
        out.flush().await.expect("stdout");
    }
}

/// The clients' connections, kept across turns.
#[derive(Default)]
pub(crate) struct State {
    serve: Option<HttpConn<UnixStream>>,
    ws: Option<Direct>,
    http: Option<HttpConn<TcpStream>>,
}

impl State {
    /// - `{"op": "serve", "socket", "reconnect", "request"}`: an HTTP request (base64) to codex-serve;
    ///   `{"status", "body", "first_byte_ms"}`.
    /// - `{"op": "ws_open", "relay", "token"}`: the direct client's WebSocket.
    /// - `{"op": "ws_turn", "frame"}`: one frame on it; `{"events": [[type, ms], …]}`.
    /// - `{"op": "http", "relay", "request"}`: an HTTP request (base64) straight to the relay;
    ///   `{"status", "body", "events"}`.
    async fn run(&mut self, command: Value) -> Value {
        let text = |key: &str| command[key].as_str().expect("a string field").to_owned();
        match command["op"].as_str().unwrap_or_default() {
            "serve" => {
                if self.serve.is_none() || command["reconnect"] == json!(true) {
                    let io = UnixStream::connect(PathBuf::from(text("socket")))
                        .await
                        .expect("codex-serve's socket");
                    self.serve = Some(HttpConn::new(io));
                }
                let Some(conn) = self.serve.as_mut() else {
                    unreachable!("connected above")
                };
                let a = conn.exchange(&decode(&text("request"))).await;
                json!({"status": a.status, "body": a.body, "first_byte_ms": a.first_byte_ms})
            }
            "ws_open" => {
                let relay = text("relay").parse().expect("relay address");
                self.ws = Some(Direct::open(relay, &text("token")).await);
                json!({})
            }
            "ws_turn" => {
                let ws = self.ws.as_mut().expect("ws_open first");
                json!({"events": ws.turn(command["frame"].clone()).await})
            }
            "http" => {
                if self.http.is_none() {
                    let tcp = TcpStream::connect(text("relay"))
                        .await
                        .expect("direct relay");
                    tcp.set_nodelay(true).expect("nodelay");
                    self.http = Some(HttpConn::new(tcp));
                }
                let Some(conn) = self.http.as_mut() else {
                    unreachable!("connected above")
                };
                let a = conn.exchange(&decode(&text("request"))).await;
                json!({"status": a.status, "body": a.body, "events": a.events})
            }
            other => panic!("unknown command {other:?}"),
        }
    }
}

/// Bytes as a JSON string (a request's body may be zstd-compressed).
pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// One HTTP/1.1 answer as it arrived: its status, its body (de-chunked), when its first body byte
/// arrived and when each of its SSE events was complete (ms after the request was written).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) first_byte_ms: f64,
    /// `(type, ms)` of each SSE event, in order.
    pub(crate) events: Vec<(String, f64)>,
}

/// A kept-alive HTTP/1.1 connection: one request at a time, each answer read to its end (chunked or
/// with a content-length), as a client that reuses its connection does.
pub(crate) struct HttpConn<S> {
    io: S,
    /// Bytes read and not yet parsed.
    buf: Vec<u8>,
    /// When the last read returned.
    last_read: Instant,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> HttpConn<S> {
    pub(crate) fn new(io: S) -> HttpConn<S> {
        HttpConn {
            io,
            buf: Vec::with_capacity(64 * 1024),
            last_read: Instant::now(),
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.io.read(&mut chunk).await.unwrap_or(0);
        assert!(n > 0, "the connection closed in the middle of an answer");
        self.last_read = Instant::now();
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next `\r\n`-ended line of the buffer, read as needed, without its end.
    async fn line(&mut self) -> String {
        loop {
            if let Some(at) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + 2);
                return line;
            }
            self.fill().await;
        }
    }

    /// Writes `request` (a whole HTTP/1.1 request) and reads its answer.
    pub(crate) async fn exchange(&mut self, request: &[u8]) -> Answer {
        let start = Instant::now();
        self.io.write_all(request).await.expect("write request");
        let status_line = self.line().await;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (mut length, mut chunked) = (None, false);
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        let ms = |at: Instant| at.duration_since(start).as_secs_f64() * 1e3;
        let mut body = Vec::new();
        let mut scanned = 0;
        let mut first = None;
        let mut events = Vec::new();
        loop {
            let mut left = if chunked {
                let size = self.line().await;
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .expect("chunk size");
                if size == 0 {
                    // No trailers: the blank line that ends the body.
                    let _ = self.line().await;
                    break;
                }
                size
            } else {
                length.unwrap_or(0) - body.len()
            };
            while left > 0 {
                if self.buf.is_empty() {
                    self.fill().await;
                }
                let n = left.min(self.buf.len());
                body.extend(self.buf.drain(..n));
                left -= n;
                first.get_or_insert(self.last_read);
                while let Some(end) = find(&body[scanned..], b"\n\n") {
                    let event = String::from_utf8_lossy(&body[scanned..scanned + end]);
                    let kind = event
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .and_then(|d| serde_json::from_str::<Value>(d).ok())
                        .and_then(|v| v["type"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    events.push((kind, ms(self.last_read)));
                    scanned += end + 2;
                }
            }
            if chunked {
                let _ = self.line().await;
            } else {
                break;
            }
        }
        Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            first_byte_ms: first.map_or(f64::NAN, ms),
            events,
        }
    }
}

/// This program's own socket to the mock (through its own relay), for the direct WebSocket figures.
struct Direct {
    ws: tokio_tungstenite::WebSocketStream<TcpStream>,
    last: Option<String>,
}

impl Direct {
    async fn open(relay: std::net::SocketAddr, token: &str) -> Direct {
        let mut req = format!("ws://{relay}/responses")
            .into_client_request()
            .expect("ws request");
        let h = req.headers_mut();
        h.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("h"),
        );
        h.insert("chatgpt-account-id", ACCOUNT.parse().expect("h"));
        let tcp = TcpStream::connect(relay).await.expect("direct relay");
        // As codex-serve's own upstream socket.
        tcp.set_nodelay(true).expect("nodelay");
        let (ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .expect("direct ws");
        Direct { ws, last: None }
    }

    /// Sends `frame` (codex-serve's, continuing this socket's own last response instead) and reads the
    /// turn; returns `(type, ms)` of each event, timed from the send.
    async fn turn(&mut self, mut frame: Value) -> Vec<(String, f64)> {
        if frame.get("previous_response_id").is_some() {
            frame["previous_response_id"] = json!(self.last);
        }
        let text = frame.to_string();
        let start = Instant::now();
        self.ws.send(Message::text(text)).await.expect("send");
        let mut events = Vec::new();
        while let Some(Ok(m)) = self.ws.next().await {
            let at = start.elapsed().as_secs_f64() * 1e3;
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            let kind = v["type"].as_str().unwrap_or_default().to_owned();
            events.push((kind.clone(), at));
            match kind.as_str() {
                "response.completed" => {
                    self.last = v["response"]["id"].as_str().map(str::to_owned);
                    break;
                }
                "response.failed" | "response.incomplete" | "error" => {
                    self.last = None;
                    break;
                }
                _ => {}
            }
        }
        events
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
