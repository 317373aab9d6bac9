//! `agent-loop --codex-serve BIN --client chat|responses --transport http|websocket`: an agent loop of
//! `--turns` turns through codex-serve against the mock backend (in this process), each turn adding one
//! tool output of `--tool-bytes` bytes to the history. Prints one JSON line per turn:
//! `{"turn", "new_bytes", "upstream_bytes", "new_connections", "ttfb_ms", "direct_ttfb_ms",
//! "direct_first_byte_ms", "direct_new_connections"}`.
//!
//! - `upstream_bytes`: what codex-serve wrote towards the backend during the turn, counted on the wire
//!   by a relay between the two (request line, headers and body over HTTP; upgrade and frames over the
//!   WebSocket), `new_connections` the connections it opened through the relay.
//! - `new_bytes`: the JSON size of the items the turn adds to the conversation (the model's tool call and
//!   the tool's output), as the client sends them.
//! - `ttfb_ms`: from writing the request to codex-serve (Unix socket, streaming, on a connection kept
//!   across turns; `--reconnect` opens one per turn) to the first byte of its answer's body.
//! - `direct_ttfb_ms`: the same request sent by this program straight to the mock on the same transport,
//!   through a relay of its own (the same code, its own counters: the same extra hop each way), on a
//!   connection it keeps across turns as codex-serve does. Over HTTP it replays codex-serve's request as
//!   it went on the wire (its headers and its zstd body); over the WebSocket it sends codex-serve's frame
//!   on its own socket, continuing its own last response. It is timed to the event codex-serve's first
//!   byte waits for (see [`starts_answer`]); `direct_first_byte_ms` to the first byte (event) of all.
//!
//! Both clients run in a process of their own (see `clients.rs`): the mock and the relays are the
//! backend, in this process; codex-serve is a third. `--clients-in-process` puts the clients here.
//!
//! `--idle-sockets N` instead opens N conversations (one turn each) over the WebSocket, leaves their
//! sockets idle, and prints codex-serve's RSS: `{"idle_sockets", "rss_kib"}`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use codex_mock::MockCodex;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};

#[path = "agent-loop/clients.rs"]
mod clients;
use clients::{encode, find, Clients, HttpConn};

const ACCOUNT: &str = "acc-bench-1";

#[derive(Parser)]
#[command(name = "agent-loop")]
struct Args {
    #[arg(long, required_unless_present = "clients_child")]
    codex_serve: Option<PathBuf>,
    #[arg(long, default_value = "chat")]
    client: String,
    #[arg(long, default_value = "websocket")]
    transport: String,
    #[arg(long, default_value_t = 30)]
    turns: usize,
    #[arg(long, default_value_t = 4096)]
    tool_bytes: usize,
    #[arg(long)]
    idle_sockets: Option<usize>,
    /// A new connection to codex-serve for every turn (by default the client keeps one, as the direct
    /// client and codex-serve itself do).
    #[arg(long)]
    reconnect: bool,
    /// Both clients in this process, beside the mock (the harness before 2026-12-04), instead of in a
    /// process of their own.
    #[arg(long)]
    clients_in_process: bool,
    /// Internal: run as the clients' process.
    #[arg(long, hide = true)]
    clients_child: bool,
}

/// What one relay saw going towards the mock: bytes, connections, and the bytes themselves since the
/// last [`Counters::take`].
#[derive(Default)]
struct Counters {
    up: AtomicU64,
    conns: AtomicU64,
    sent: Mutex<Vec<u8>>,
}

impl Counters {
    /// The bytes sent towards the mock since the last call.
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

async fn relay(target: std::net::SocketAddr, counters: Arc<Counters>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counters.conns.fetch_add(1, Ordering::SeqCst);
            let counters = counters.clone();
            tokio::spawn(async move {
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let (mut cr, mut cw) = client.split();
                let (mut ur, mut uw) = upstream.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        counters.up.fetch_add(n as u64, Ordering::SeqCst);
                        counters
                            .sent
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend_from_slice(&buf[..n]);
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = uw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    addr
}

struct Serve {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    /// SIGTERM first, so that a profiler wrapped around codex-serve (`--codex-serve` may be a script
    /// that execs it under valgrind) writes its profile; SIGKILL if it has not gone after 30 s.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
            for _ in 0..300 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_serve(bin: &PathBuf, mock: &MockCodex, upstream: &str, extra: &[&str]) -> Serve {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = mock.issue_tokens(ACCOUNT, 24 * 3600);
    let auth = json!({
        "auth_mode": "chatgpt", "OPENAI_API_KEY": null,
        "tokens": {"id_token": tokens.id_token, "access_token": tokens.access_token,
                   "refresh_token": tokens.refresh_token, "account_id": ACCOUNT},
        "last_refresh": "2026-12-01T10:00:00.000000Z",
    });
    let auth_path = dir.path().join("auth.json");
    std::fs::write(&auth_path, auth.to_string()).expect("auth.json");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&auth_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let socket = dir.path().join("serve.sock");
    let child = Command::new(bin)
        .arg("--socket")
        .arg(&socket)
        .arg("--codex-home")
        .arg(dir.path())
        .arg("--codex-bin")
        .arg(dir.path().join("no-codex"))
        .arg("--upstream-url")
        .arg(upstream)
        .arg("--chatgpt-base-url")
        .arg(mock.url())
        .arg("--auth-url")
        .arg(mock.auth_url())
        .args(extra)
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("CODEX_SERVE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn codex-serve");
    for _ in 0..3000 {
        if UnixStream::connect(&socket).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Serve {
        child,
        socket,
        _dir: dir,
    }
}

/// A POST of `body` to `path` as HTTP/1.1, kept alive.
fn post_request(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// The `POST …/responses` among the HTTP/1.1 requests of `sent` (codex-serve may also have asked for
/// the model catalog), whole: its head and its `content-length` body.
fn responses_request(sent: &[u8]) -> Vec<u8> {
    let mut rest = sent;
    while let Some(head) = find(rest, b"\r\n\r\n").map(|at| at + 4) {
        let text = String::from_utf8_lossy(&rest[..head]);
        let length = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let whole = (head + length).min(rest.len());
        let line = text.lines().next().unwrap_or_default();
        if line.starts_with("POST ") && line.contains("/responses ") {
            return rest[..whole].to_vec();
        }
        rest = &rest[whole..];
    }
    panic!("codex-serve sent no POST …/responses");
}

/// Whether an event is the one codex-serve's first byte waits for, so the direct client is timed to the
/// same event: codex-serve holds back the events that carry nothing for a client (`codex.rate_limits`,
/// `response.created`, `response.in_progress`) until the first output item, for a chat completion on
/// either transport (its first chunk needs it) and for a Responses turn over the WebSocket (so that a
/// drop before it can be retried unseen); a Responses turn over HTTP begins with `response.created`.
fn starts_answer(client: &str, transport: &str, kind: &str) -> bool {
    let lifecycle = matches!(kind, "response.created" | "response.in_progress");
    kind != "codex.rate_limits" && !(lifecycle && (client == "chat" || transport == "websocket"))
}

/// The JSON of every `data:` line of an SSE body.
fn sse(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

fn tool_output(turn: usize, n: usize) -> String {
    // Pseudo-random text that compresses about as well as base64 does: real tool output (source,
    // logs) compresses better, so this is the harder case for the HTTP rows.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ \n";
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (turn as u64).wrapping_mul(0x1000_0000_01b3);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// The mock's next answer: one call of `exec`.
fn push_call(mock: &MockCodex, turn: usize) -> String {
    let call_id = format!("call_{turn}");
    let args = format!("{{\"step\":{turn}}}");
    let deltas = [args.as_str()];
    let events = codex_mock::function_call_events(
        &format!("resp_t{turn}"),
        &[(&call_id, "exec", &deltas)],
        (100, 0, 5, 0),
    );
    mock.push(codex_mock::sse_reply(&events));
    call_id
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.clients_child {
        return clients::child_main().await;
    }
    if let Some(n) = args.idle_sockets {
        return idle_sockets(&args, n).await;
    }
    let mock = MockCodex::start().await;
    mock.set_websocket_status(None);
    let counters = Arc::new(Counters::default());
    let target: std::net::SocketAddr = mock
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("mock address");
    let relay_addr = relay(target, counters.clone()).await;
    // The direct client's own relay: the same extra hop each way as codex-serve's upstream traffic.
    let direct_counters = Arc::new(Counters::default());
    let direct_relay = relay(target, direct_counters.clone()).await;
    let serve = start_serve(
        args.codex_serve.as_ref().expect("--codex-serve"),
        &mock,
        &format!("http://{relay_addr}"),
        &["--upstream-transport", &args.transport],
    )
    .await;
    let token = mock.issue_tokens(ACCOUNT, 24 * 3600).access_token;
    let ws = args.transport == "websocket";
    let mut clients = if args.clients_in_process {
        Clients::in_process()
    } else {
        Clients::child()
    };
    if ws {
        clients
            .call(json!({"op": "ws_open", "relay": direct_relay.to_string(), "token": token}))
            .await;
    }
    // Both clients keep their connection across turns, as codex-serve keeps its upstream one.

    let model = "gpt-5.5";
    let mut messages =
        vec![json!({"role": "user", "content": "Run the steps, one tool call each."})];
    let mut previous: Option<String> = None;
    let mut pending_output: Option<Value> = None;
    for turn in 0..args.turns {
        let call_id = push_call(&mock, turn);
        // What the client adds this turn: the tool's output for the last call.
        let (body, new_bytes) = if args.client == "chat" {
            let added: Vec<Value> = pending_output.take().into_iter().collect();
            let new_bytes: usize = added.iter().map(|v| v.to_string().len()).sum();
            messages.extend(added);
            (
                json!({"model": model, "stream": true, "messages": messages,
                       "tools": [{"type": "function", "function": {"name": "exec", "parameters": {"type": "object"}}}]}),
                new_bytes,
            )
        } else {
            let input: Vec<Value> = match pending_output.take() {
                Some(o) => vec![o],
                None => {
                    vec![json!({"role": "user", "content": "Run the steps, one tool call each."})]
                }
            };
            let new_bytes = input.iter().map(|v| v.to_string().len()).sum();
            let mut b = json!({"model": model, "stream": true, "input": input,
                               "tools": [{"type": "function", "name": "exec", "parameters": {"type": "object"}}]});
            if let Some(p) = &previous {
                b["previous_response_id"] = json!(p);
            }
            (b, new_bytes)
        };
        let path = if args.client == "chat" {
            "/v1/chat/completions"
        } else {
            "/v1/responses"
        };
        let (up0, c0) = (
            counters.up.load(Ordering::SeqCst),
            counters.conns.load(Ordering::SeqCst),
        );
        counters.take();
        let frames_before = mock.ws_frames().len();
        let request = post_request(path, body.to_string().as_bytes());
        let answer = clients
            .call(
                json!({"op": "serve", "socket": serve.socket, "reconnect": args.reconnect,
                         "request": encode(&request)}),
            )
            .await;
        assert_eq!(answer["status"], 200, "turn {turn}: {}", answer["body"]);
        // The relay has forwarded everything once the answer is in.
        let up = counters.up.load(Ordering::SeqCst) - up0;
        let conns = counters.conns.load(Ordering::SeqCst) - c0;
        let sent = counters.take();
        let events = sse(answer["body"].as_str().unwrap_or_default());
        if args.client == "chat" {
            // The assistant's call, as the chat client keeps it.
            let args_text: String = events
                .iter()
                .filter_map(|c| {
                    c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
                })
                .collect();
            messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "exec", "arguments": args_text}}]}));
            pending_output = Some(
                json!({"role": "tool", "tool_call_id": call_id, "content": tool_output(turn, args.tool_bytes)}),
            );
        } else {
            previous = events
                .iter()
                .find(|e| e["type"] == "response.completed")
                .and_then(|e| e["response"]["id"].as_str())
                .map(str::to_owned);
            pending_output = Some(
                json!({"type": "function_call_output", "call_id": call_id, "output": tool_output(turn, args.tool_bytes)}),
            );
        }
        // The same request straight to the mock (through the direct relay), on the same transport.
        push_call(&mock, turn);
        let dc0 = direct_counters.conns.load(Ordering::SeqCst);
        let direct = if ws {
            let frame = mock.ws_frames()[frames_before..]
                .last()
                .map(|f| f.body.clone())
                .expect("codex-serve sent a frame");
            clients.call(json!({"op": "ws_turn", "frame": frame})).await
        } else {
            // codex-serve's request as it went on the wire: its headers, its (compressed) body.
            let replay = responses_request(&sent);
            let answer = clients
                .call(json!({"op": "http", "relay": direct_relay.to_string(),
                             "request": encode(&replay)}))
                .await;
            assert_eq!(
                answer["status"], 200,
                "direct turn {turn}: {}",
                answer["body"]
            );
            answer
        };
        let direct_events: Vec<(String, f64)> =
            serde_json::from_value(direct["events"].clone()).expect("events");
        direct_counters.take();
        let direct_first = direct_events.first().map_or(f64::NAN, |e| e.1);
        let direct_ttfb = direct_events
            .iter()
            .find(|(kind, _)| starts_answer(&args.client, &args.transport, kind))
            .map_or(f64::NAN, |e| e.1);
        println!(
            "{}",
            json!({"turn": turn + 1, "new_bytes": new_bytes, "upstream_bytes": up,
                   "new_connections": conns, "ttfb_ms": answer["first_byte_ms"],
                   "direct_ttfb_ms": direct_ttfb, "direct_first_byte_ms": direct_first,
                   "direct_new_connections": direct_counters.conns.load(Ordering::SeqCst) - dc0})
        );
    }
}

async fn idle_sockets(args: &Args, n: usize) {
    // Over TLS, as to the real backend: each socket holds its TLS state too.
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mock = MockCodex::start_on(bind(), Some(bind()))
        .await
        .expect("mock with https");
    mock.set_websocket_status(None);
    let ca = tempfile::NamedTempFile::new().expect("ca file");
    std::fs::write(ca.path(), mock.ca_pem().expect("ca")).expect("write ca");
    std::env::set_var("CODEX_CA_CERTIFICATE", ca.path());
    let mock = &mock;
    let max = n.to_string();
    let serve = start_serve(
        args.codex_serve.as_ref().expect("--codex-serve"),
        mock,
        &mock.https_url().expect("https url"),
        &[
            "--upstream-transport",
            "websocket",
            "--upstream-max-sockets",
            &max,
            "--max-upstream",
            "64",
        ],
    )
    .await;
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..n {
        let sem = sem.clone();
        let socket = serve.socket.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let body = json!({"model": "gpt-5.5", "prompt_cache_key": format!("conv-{i}"),
                              "messages": [{"role": "user", "content": format!("hello {i}")}]});
            let io = UnixStream::connect(&socket).await.expect("socket");
            HttpConn::new(io)
                .exchange(&post_request(
                    "/v1/chat/completions",
                    body.to_string().as_bytes(),
                ))
                .await
                .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.ok() == Some(200) {
            ok += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let io = UnixStream::connect(&serve.socket).await.expect("socket");
    let (_, _, health) = get(io, "/healthz").await;
    let idle = serde_json::from_str::<Value>(&health).unwrap_or(Value::Null)["upstream"]["sockets"]
        ["idle"]
        .clone();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", serve.child.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    println!(
        "{}",
        json!({"conversations": n, "answered": ok, "idle_sockets": idle,
               "mock_sockets": mock.ws_connections(),
               "rss_kib": field("VmRSS:"), "hwm_kib": field("VmHWM:")})
    );
}

async fn get(mut io: UnixStream, path: &str) -> (f64, u16, String) {
    let req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    io.write_all(req.as_bytes()).await.expect("write");
    let mut buf = String::new();
    let _ = io.read_to_string(&mut buf).await;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (0.0, 200, body)
}
