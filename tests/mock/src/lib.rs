//! A scriptable mock of the Codex backend for tests: `POST /responses` (SSE), `POST /oauth/token`,
//! `GET /models`, `GET wham/accounts/check`, and `/_mock/*` control endpoints for out-of-process tests.
//!
//! It listens on http, and with [`MockCodex::start_https`] also on https with a CA made at start-up
//! ([`MockCodex::ca_pem`]), which is what the official codex CLI needs (it refuses http workspace
//! origins). Both listeners serve the same state. The routes answer at the root and under
//! `/backend-api/codex` and `/backend-api/wham` (the CLI's paths); anything else is a 404, and a
//! WebSocket upgrade is answered 426 (configurable), which makes the CLI fall back to HTTP + SSE; with
//! `set_websocket_status(None)` it is served (`ws.rs`: the same scripted replies, frame by frame).
//! Request bodies may be zstd-compressed. Every request is kept in a log ([`MockCodex::log`]).
//!
//! Replies queued with [`MockCodex::push`] are served in order. With nothing queued the mock answers
//! from the last user message of the request: `echo: <text>` streamed in about three deltas, or, if
//! the text is a directive, `mock:reasoning TEXT` (a reasoning item, then the echo of TEXT),
//! `mock:tool NAME ARGS_JSON` (one function call `call_1`), `mock:call NAME ARGS_JSON` (the same call,
//! but once the request carries the tool's output: `tool said: OUTPUT` as text), `mock:status CODE BODY`,
//! `mock:usage_limit` (429 with rate-limit headers) or `mock:fixture NAME` (replays
//! `reference/NAME.sse`; `CODEX_MOCK_FIXTURES` names another directory).
//!
//! Control endpoints (JSON): `GET /_mock/requests`, `GET /_mock/token_requests`, `GET /_mock/log`,
//! `GET /_mock/ca` (PEM), `POST /_mock/routing` (`{"override": "us_cr"}`, or null for a personal
//! account), `POST /_mock/models` (the catalog to serve), `POST /_mock/websocket` (`{"status": 426}`),
//! `GET /_mock/ws_frames`, `POST /_mock/ws_drop` (`{"after": N}`),
//! `GET /_mock/connections`, `POST /_mock/reply` (`{"kind": "sse"|"status"|"hang"|"raw", ..}`),
//! `POST /_mock/token_reply` (`{"kind": "ok"|"status", ..}`), `POST /_mock/issue_tokens`,
//! `POST /_mock/reset`.

mod control;
mod events;
mod log;
mod models;
mod net;
mod scenarios;
mod server;
mod usage;
mod ws;

pub use usage::default_usage;
mod tls;
mod token;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use log::LoggedRequest;
pub use ws::WsFrame;

pub use events::{
    function_call_events, jwt, reasoning_then_text_events, sse_frame, sse_reply, text_events,
    Usage, DEFAULT_MODEL,
};
pub use token::{TokenOutcome, TokenRequest, TokenScenario, TokenStats};

/// A scripted answer to one `POST /responses`.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 SSE stream: each chunk is its own network write, after its optional delay. `headers`
    /// replace the defaults (`content-type: text/event-stream`, rate-limit headers); an empty value
    /// removes one.
    Sse {
        headers: Vec<(String, String)>,
        chunks: Vec<Chunk>,
    },
    /// A plain HTTP answer (e.g. 429 usage limit, 400 `{"detail":..}`, 500).
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Accept the request and never answer.
    Hang,
}

/// One network write of an SSE reply.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub bytes: Bytes,
    pub delay_ms: u64,
}

impl Chunk {
    /// A chunk written without delay.
    pub fn now(bytes: impl Into<Bytes>) -> Chunk {
        Chunk::delayed(bytes, 0)
    }

    /// A chunk written `delay_ms` after the previous one.
    pub fn delayed(bytes: impl Into<Bytes>, delay_ms: u64) -> Chunk {
        Chunk {
            bytes: bytes.into(),
            delay_ms,
        }
    }
}

/// A scripted answer to one `POST /oauth/token`.
#[derive(Clone, Debug)]
pub enum TokenReply {
    /// Mint and rotate as normal.
    Ok,
    /// Answer with this status and JSON body.
    Status { status: u16, body: Value },
}

/// One `POST /responses` as received (also those that failed authentication).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub path: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    /// The JSON body; a string holding the raw body when it was not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Tokens minted by the mock; it accepts the access token until it expires and the refresh token once.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedTokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// A running mock server; it stops when dropped.
pub struct MockCodex {
    shared: Arc<Shared>,
    addr: SocketAddr,
    https: Option<(SocketAddr, String)>,
    tasks: Vec<JoinHandle<()>>,
}

/// The answer to a WebSocket upgrade until a test asks for another one: 426 Upgrade Required.
pub const WEBSOCKET_REFUSAL: u16 = 426;

impl MockCodex {
    /// Bind `127.0.0.1:0` and serve in a background task.
    ///
    /// # Panics
    /// If the loopback port cannot be bound.
    pub async fn start() -> MockCodex {
        Self::start_on_port(0)
            .await
            .expect("codex-mock: cannot bind 127.0.0.1:0")
    }

    /// Bind `127.0.0.1:port` (0 = any) and serve in a background task.
    pub async fn start_on_port(port: u16) -> io::Result<MockCodex> {
        let http = std::net::TcpListener::bind(("127.0.0.1", port))?;
        Self::start_on(http, None).await
    }

    /// http and https, each on a free loopback port.
    ///
    /// # Panics
    /// If a loopback port cannot be bound or the certificates cannot be made.
    pub async fn start_https() -> MockCodex {
        let bind = || std::net::TcpListener::bind(("127.0.0.1", 0));
        let started = match (bind(), bind()) {
            (Ok(http), Ok(https)) => Self::start_on(http, Some(https)).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        started.expect("codex-mock: cannot start on 127.0.0.1")
    }

    /// Serve on listeners the caller bound (e.g. inside a network namespace of its own); `https` adds
    /// the https listener with a fresh CA.
    pub async fn start_on(
        http: std::net::TcpListener,
        https: Option<std::net::TcpListener>,
    ) -> io::Result<MockCodex> {
        http.set_nonblocking(true)?;
        let listener = TcpListener::from_std(http)?;
        let addr = listener.local_addr()?;
        let tls = match https {
            Some(https) => {
                https.set_nonblocking(true)?;
                let https = TcpListener::from_std(https)?;
                let https_addr = https.local_addr()?;
                Some((https, https_addr, tls::Tls::new()?))
            }
            None => None,
        };
        let origins = match &tls {
            Some((_, https_addr, _)) => Origins {
                base: format!("https://localhost:{}", https_addr.port()),
                routed: format!("https://127.0.0.1:{}", https_addr.port()),
            },
            None => Origins {
                base: format!("http://{addr}"),
                routed: format!("http://localhost:{}", addr.port()),
            },
        };
        let shared = Arc::new(Shared::new(origins));
        let counting = net::CountingListener {
            inner: listener,
            open: Arc::clone(&shared.connections),
        };
        let app = server::router(Arc::clone(&shared), "http");
        let mut tasks = vec![tokio::spawn(async move {
            // Serving only ends with an I/O error on the listener; there is nobody to report it to.
            let _ = axum::serve(counting, app).await;
        })];
        let mut https_info = None;
        if let Some((https, https_addr, tls)) = tls {
            let open = Arc::clone(&shared.connections);
            let listener = tls::TlsListener::new(https, tls.acceptor, open)?;
            let app = server::router(Arc::clone(&shared), "https");
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            let _ = shared.ca_pem.set(tls.ca_pem.clone());
            https_info = Some((https_addr, tls.ca_pem));
        }
        Ok(MockCodex {
            shared,
            addr,
            https: https_info,
            tasks,
        })
    }

    /// `https://localhost:PORT` (the https listener's base), if it was started.
    pub fn https_url(&self) -> Option<String> {
        self.https
            .as_ref()
            .map(|(addr, _)| format!("https://localhost:{}", addr.port()))
    }

    /// The https listener's routed workspace origin, `https://127.0.0.1:PORT`.
    pub fn routed_origin(&self) -> String {
        self.shared.routed_origin().to_owned()
    }

    /// The PEM of the CA that signed the https listener's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.https.as_ref().map(|(_, pem)| pem.as_str())
    }

    /// Every request received on either listener (control calls aside), in order.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.shared.state().log.clone()
    }

    /// `Some(value)`: `wham/accounts/check` answers a routed workspace at [`Self::routed_origin`] with
    /// `account_routing_override: value`; `None`: a personal account on the default origin.
    pub fn set_routing(&self, value: Option<&str>) {
        self.shared.state().routing = value.map(str::to_owned);
    }

    /// Serve `catalog` (`{"models": [...]}`) from `/models` instead of the built-in one.
    pub fn set_models(&self, catalog: Value) {
        self.shared.state().models = Some(catalog);
    }

    /// The status WebSocket upgrades get (default [`WEBSOCKET_REFUSAL`]); `None` lets them through to
    /// the routes.
    pub fn set_websocket_status(&self, status: Option<u16>) {
        self.shared.state().websocket_status = status;
    }

    /// Every frame clients sent on upstream WebSockets, in order.
    pub fn ws_frames(&self) -> Vec<WsFrame> {
        self.shared.state().ws_frames.clone()
    }

    /// How many WebSockets were opened (upgrades accepted) since the start.
    pub fn ws_connections(&self) -> u64 {
        self.shared.state().ws_connections
    }

    /// The next WebSocket turn drops its socket (no close frame) after `events` events (FIFO, one per
    /// turn): a connection lost mid-turn.
    pub fn drop_websocket_after(&self, events: usize) {
        self.shared.state().ws_drops.push_back(events);
    }

    /// Compress every answer (SSE, JSON, token answers) in the first of zstd or gzip the request's
    /// `accept-encoding` offers, as a real server may; off by default.
    pub fn set_compress_answers(&self, on: bool) {
        self.shared.state().compress_answers = on;
    }

    /// `http://127.0.0.1:PORT`, the upstream base (`POST {url}/responses`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The same server; the token endpoint is `POST {auth_url}/oauth/token`.
    pub fn auth_url(&self) -> String {
        self.url()
    }

    /// Queue a reply for the next authenticated `POST /responses` (FIFO).
    pub fn push(&self, reply: Reply) {
        self.shared.state().replies.push_back(reply);
    }

    /// Every `POST /responses` received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Every `POST /oauth/token` body, in order.
    pub fn token_requests(&self) -> Vec<Value> {
        self.shared.state().token_requests.clone()
    }

    /// Queue an answer for the next token request (FIFO).
    pub fn push_token_reply(&self, reply: TokenReply) {
        self.shared.state().token_replies.push_back(reply);
    }

    /// Currently open TCP connections to the mock.
    pub fn open_connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Mint tokens for `account_id`; the access token expires in `exp_in_secs` (may be negative).
    pub fn issue_tokens(&self, account_id: &str, exp_in_secs: i64) -> IssuedTokens {
        self.shared.state().mint(account_id, exp_in_secs)
    }

    /// Make `access_token` invalid now, as the backend does with a revoked token: every request
    /// with it gets 401 `token_expired` until the client refreshes.
    pub fn revoke(&self, access_token: &str) {
        self.shared.state().access.remove(access_token);
    }

    /// From now on `POST /responses` answers 401 `token_expired` to every access token minted so far,
    /// until the client refreshes (other routes still take them), as when the backend stops taking a
    /// token that has not expired.
    pub fn reject_responses_until_refresh(&self) {
        let mut state = self.shared.state();
        state.responses_reject_before = state.minted + 1;
    }

    /// Clear queued replies and the request logs (minted tokens stay valid).
    pub fn reset(&self) {
        self.shared.state().reset();
    }
}

impl Drop for MockCodex {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where the mock can be reached: its base origin and the routed workspace's.
pub(crate) struct Origins {
    base: String,
    routed: String,
}

/// State shared between the handle and the server.
pub(crate) struct Shared {
    state: Mutex<State>,
    origins: Origins,
    /// The https listener's CA, once made.
    pub(crate) ca_pem: std::sync::OnceLock<String>,
    connections: Arc<AtomicUsize>,
    next_response: AtomicU64,
    fixtures: PathBuf,
}

impl Shared {
    fn new(origins: Origins) -> Shared {
        let fixtures = std::env::var_os("CODEX_MOCK_FIXTURES").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../reference")),
            PathBuf::from,
        );
        let state = State {
            websocket_status: Some(WEBSOCKET_REFUSAL),
            compress_answers: false,
            ..State::default()
        };
        Shared {
            state: Mutex::new(state),
            origins,
            ca_pem: std::sync::OnceLock::new(),
            connections: Arc::new(AtomicUsize::new(0)),
            next_response: AtomicU64::new(1),
            fixtures,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn base_origin(&self) -> &str {
        &self.origins.base
    }

    pub(crate) fn routed_origin(&self) -> &str {
        &self.origins.routed
    }

    pub(crate) fn next_response_id(&self) -> String {
        let n = self.next_response.fetch_add(1, Ordering::Relaxed);
        format!("resp_mock{n:06}")
    }
}

pub(crate) struct AccessGrant {
    pub(crate) account_id: String,
    pub(crate) exp: i64,
    /// Which mint made it (1, 2, …).
    pub(crate) serial: u64,
}

pub(crate) struct RefreshGrant {
    pub(crate) account_id: String,
    pub(crate) used: bool,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) replies: VecDeque<Reply>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) token_replies: VecDeque<TokenReply>,
    pub(crate) token_requests: Vec<Value>,
    pub(crate) access: HashMap<String, AccessGrant>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    /// Input tokens of the last request per `prompt_cache_key`: what a repeat of that prefix finds cached.
    pub(crate) prompt_cache: HashMap<String, u64>,
    pub(crate) tokens: token::TokenState,
    pub(crate) usage: usage::UsageScript,
    /// Every request, control calls aside.
    pub(crate) log: Vec<LoggedRequest>,
    /// The routed workspace's override value; `None`: a personal account.
    pub(crate) routing: Option<String>,
    /// `POST /responses` with an access token minted before this serial gets 401 (other routes accept
    /// it): a token the backend stopped taking, which only a refresh cures.
    pub(crate) responses_reject_before: u64,
    /// A catalog replacing the built-in one.
    pub(crate) models: Option<Value>,
    /// What a WebSocket upgrade gets; `None`: it goes to the routes.
    pub(crate) websocket_status: Option<u16>,
    /// Answers compressed as the request's `accept-encoding` offers ([`MockCodex::set_compress_answers`]).
    pub(crate) compress_answers: bool,
    /// Frames received on WebSockets.
    pub(crate) ws_frames: Vec<ws::WsFrame>,
    /// WebSockets opened so far.
    pub(crate) ws_connections: u64,
    /// Queued "drop the socket after N events" commands, one per turn.
    pub(crate) ws_drops: VecDeque<usize>,
    minted: u64,
}

impl State {
    pub(crate) fn mint(&mut self, account_id: &str, exp_in_secs: i64) -> IssuedTokens {
        self.minted += 1;
        let now = now_secs();
        let exp = now.saturating_add(exp_in_secs);
        let auth = json!({
            "chatgpt_account_id": account_id,
            "chatgpt_plan_type": "plus",
            "chatgpt_user_id": "user-mock",
        });
        let id_token = jwt(&json!({
            "iss": "https://auth.openai.com",
            "aud": ["app_EMoamEEZ73f0CkXaXp7hrann"],
            "email": "dev@example.com",
            "email_verified": true,
            "iat": now,
            "exp": now + 3600,
            "https://api.openai.com/auth": auth,
        }));
        let access_token = jwt(&json!({
            "iss": "https://auth.openai.com",
            "aud": ["https://api.openai.com/v1"],
            "jti": format!("mock-{}", self.minted),
            "iat": now,
            "exp": exp,
            "https://api.openai.com/auth": auth,
            "https://api.openai.com/profile": {"email": "dev@example.com"},
        }));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .subsec_nanos();
        let refresh_token = format!("rt_mock_{}_{nanos:08x}", self.minted);
        let account_id = account_id.to_owned();
        self.tokens.minted(&account_id, &refresh_token);
        self.access.insert(
            access_token.clone(),
            AccessGrant {
                account_id: account_id.clone(),
                exp,
                serial: self.minted,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                account_id,
                used: false,
            },
        );
        IssuedTokens {
            id_token,
            access_token,
            refresh_token,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.replies.clear();
        self.requests.clear();
        self.token_replies.clear();
        self.token_requests.clear();
        self.prompt_cache.clear();
        self.log.clear();
        self.ws_frames.clear();
        self.ws_drops.clear();
    }
}
