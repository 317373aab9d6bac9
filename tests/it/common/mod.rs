//! Test harness: the real `codex-serve` binary on a temp socket, the mock backend in-process, and a hyper
//! client speaking HTTP/1.1 over the Unix socket.

#![allow(dead_code)]

pub mod codex_cli;
pub mod gated;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use codex_mock::{IssuedTokens, MockCodex};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::Request;
use hyperlocal::{UnixClientExt, UnixConnector, Uri};
use serde_json::{json, Value};

pub const ACCOUNT: &str = "acc-test-1";

pub struct Server {
    pub mock: MockCodex,
    pub home: tempfile::TempDir,
    pub run: tempfile::TempDir,
    pub socket: PathBuf,
    pub tokens: IssuedTokens,
    child: Child,
    pub stderr_path: PathBuf,
}

pub fn write_auth(home: &Path, tokens: &IssuedTokens, extra: Value) {
    let mut doc = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": tokens.id_token,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "account_id": ACCOUNT,
        },
        "last_refresh": "2026-11-24T10:00:00.000000Z",
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    let path = home.join("auth.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")).expect("write auth.json");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

pub struct Options {
    /// Seconds until the access token in auth.json expires (negative: already expired).
    pub token_exp: i64,
    pub write_auth: bool,
    pub args: Vec<String>,
    /// Replaces the mock's URL as the upstream.
    pub upstream_url: Option<String>,
    /// Extra environment for the server process (after the harness's own).
    pub env: Vec<(String, String)>,
    /// Written as the codex CLI's `config.toml` in the home before the server starts.
    pub codex_config: Option<String>,
    /// More files written in the home before the server starts: (file name, contents).
    pub codex_files: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token_exp: 3600,
            write_auth: true,
            args: Vec::new(),
            upstream_url: None,
            env: Vec::new(),
            codex_config: None,
            codex_files: Vec::new(),
        }
    }
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Server {
        let mock = MockCodex::start().await;
        let home = tempfile::tempdir().expect("home");
        let run = tempfile::tempdir().expect("run");
        let tokens = mock.issue_tokens(ACCOUNT, opts.token_exp);
        if opts.write_auth {
            write_auth(
                home.path(),
                &tokens,
                json!({"agent_identity": {"kept": true}}),
            );
        }
        if let Some(text) = &opts.codex_config {
            std::fs::write(home.path().join("config.toml"), text).expect("write config.toml");
        }
        for (name, text) in &opts.codex_files {
            std::fs::write(home.path().join(name), text).expect("write a file in the home");
        }
        let socket = run.path().join("codex-serve").join("codex-serve.sock");
        let stderr_path = run.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
            .arg("--socket")
            .arg(&socket)
            .arg("--codex-home")
            .arg(home.path())
            .arg("--upstream-url")
            .arg(opts.upstream_url.clone().unwrap_or_else(|| mock.url()))
            // The usage endpoint stays on the mock when a test brings its own upstream.
            .arg("--chatgpt-base-url")
            .arg(mock.url())
            .arg("--auth-url")
            .arg(mock.auth_url())
            .arg("-vv")
            // Not a codex CLI the developer may have on PATH: the built-in client version, unless the
            // test names its own.
            .args(
                (!opts.args.iter().any(|a| a == "--codex-bin"))
                    .then(|| {
                        [
                            "--codex-bin".into(),
                            run.path().join("no-codex").into_os_string(),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .args(&opts.args)
            .env_remove("CODEX_REFRESH_TOKEN_URL_OVERRIDE")
            .env_remove("CODEX_SERVE_LOG")
            .env_remove("CODEX_SERVE_API_KEY")
            .envs(clean_env(run.path()))
            .envs(opts.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn codex-serve");
        let server = Server {
            mock,
            home,
            run,
            socket,
            tokens,
            child,
            stderr_path,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.socket.exists() && tokio::net::UnixStream::connect(&self.socket).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("codex-serve did not start:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn auth_path(&self) -> PathBuf {
        self.home.path().join("auth.json")
    }

    pub fn auth_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.auth_path()).expect("read auth"))
            .expect("auth json")
    }

    /// The last `POST /responses` the backend received.
    pub fn last_upstream(&self) -> codex_mock::RecordedRequest {
        self.mock
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/responses")
            .expect("an upstream request")
    }

    /// How many `POST /responses` the backend received.
    /// The WebSocket upgrades that reached the mock, in order.
    pub fn upstream_upgrades(&self) -> Vec<codex_mock::LoggedRequest> {
        self.mock
            .log()
            .into_iter()
            .filter(|r| r.header("upgrade").is_some())
            .collect()
    }

    pub fn upstream_count(&self) -> usize {
        self.mock
            .requests()
            .iter()
            .filter(|r| r.path == "/responses")
            .count()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        self.child.wait().expect("wait")
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.raw(
            method,
            path,
            &[],
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, Some(body)).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        Reply::read(self.send(method, path, headers, body).await).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> hyper::Response<Incoming> {
        let client: hyper_util::client::legacy::Client<UnixConnector, Full<Bytes>> =
            hyper_util::client::legacy::Client::unix();
        let mut req = Request::builder()
            .method(method)
            .uri(Uri::new(&self.socket, path))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        client.request(req).await.expect("request over the socket")
    }
}

impl Server {
    /// Sends SIGTERM and returns at once.
    pub fn signal_term(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }

    /// The exit status, once the process has exited within `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_child(&mut self.child, timeout).await
    }
}

/// Environment every spawned server gets: a private config dir (the generated API key lands there), and
/// none of the caller's key, activation or notification variables.
pub fn clean_env(dir: &Path) -> Vec<(String, String)> {
    vec![(
        "XDG_CONFIG_HOME".into(),
        dir.join("config").display().to_string(),
    )]
}

/// A `codex-serve` command wired to `mock` and `home` like [`Server`]'s, without `--socket`, and with a
/// clean environment for activation and key variables.
pub fn serve_command(mock: &MockCodex, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-serve"));
    c.arg("--codex-home")
        .arg(home)
        .arg("--upstream-url")
        .arg(mock.url())
        .arg("--auth-url")
        .arg(mock.auth_url())
        .arg("-vv");
    for var in [
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
        "CODEX_SERVE_LOG",
        "CODEX_SERVE_SOCKET",
        "CODEX_SERVE_API_KEY",
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        c.env_remove(var);
    }
    c.envs(clean_env(home));
    c
}

/// A spawned process that is killed when the test ends, passed or not.
pub struct Spawned(pub Child);

impl Spawned {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_child(&mut self.0, timeout).await
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls a child for up to `timeout`.
pub async fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback port nobody listens on right now, and never handed to another test of this process: all
/// areas share one test binary, so two tests running side by side must not be given the same port.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_tcp(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing listens on {addr}");
}

/// One request over TCP with exactly these headers (a `host` among them replaces the default).
pub async fn tcp_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = client.request(req).await.expect("tcp request");
    Reply::read(resp).await
}

/// One request over a Unix socket at `socket` (one not started by [`Server`]).
pub async fn unix_raw(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let client: hyper_util::client::legacy::Client<UnixConnector, Full<Bytes>> =
        hyper_util::client::legacy::Client::unix();
    let mut req = Request::builder()
        .method(method)
        .uri(Uri::new(socket, path))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = client.request(req).await.expect("request over the socket");
    Reply::read(resp).await
}

/// An SSE reply that streams `deltas` as text, each frame written `delay_ms` after the previous one.
pub fn slow_stream(deltas: &[&str], delay_ms: u64) -> codex_mock::Reply {
    let events = codex_mock::text_events("resp_slow", deltas, (3, 0, 3, 0));
    codex_mock::Reply::Sse {
        headers: vec![],
        chunks: events
            .iter()
            .map(|e| codex_mock::Chunk::delayed(codex_mock::sse_frame(e), delay_ms))
            .collect(),
    }
}

/// The text content of an SSE chat stream's deltas.
pub fn streamed_text(data: &[String]) -> String {
    data.iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod reply;
pub use reply::{chat, chat_stream, conversation, sent_instructions, sent_tools, Reply};

impl Reply {
    /// Reads a whole response.
    pub async fn read(resp: hyper::Response<Incoming>) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// POSTs JSON over TCP (to the mock's own endpoints, as another program such as the codex CLI would).
pub async fn post_tcp(url: &str, body: Value) -> (u16, Value) {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let req = Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = client.request(req).await.expect("tcp request");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
