//! One upstream WebSocket to `{base}/responses`: the upgrade with the codex CLI's headers, then turns,
//! one at a time. A turn is one `response.create` text frame; the backend answers with the usual event
//! objects, one per text frame, and the turn ends with its terminal event, after which the socket can
//! carry the next turn (with `previous_response_id` of the response that just finished on it).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use http::HeaderMap;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::error::CodexError;
use crate::events::StreamEvent;
use crate::limits::LimitStore;
use crate::render::FrameLayout;
use crate::stream::{observe, ResponseStream};
use crate::tally::Tally;

/// How to open sockets: timeouts, bounds and TLS, fixed for a client's life.
#[derive(Clone)]
pub(crate) struct WsSettings {
    pub(crate) connect_timeout: Duration,
    /// Longest wait for the upgrade answer, for a frame to be written, and between two events.
    pub(crate) idle_timeout: Duration,
    /// Longest message (and frame) accepted from the backend: one event.
    pub(crate) max_message_bytes: usize,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) limits: Arc<LimitStore>,
}

/// What a `response.create` frame adds to the Responses body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreateOptions {
    /// The response this turn continues, which must be the last one finished on the same socket.
    pub(crate) previous_response_id: Option<String>,
    /// `Some(false)`: a prewarm, which the backend answers without generating.
    pub(crate) generate: Option<bool>,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// An open upstream socket between turns.
pub(crate) struct WsConn {
    socket: Socket,
    settings: WsSettings,
    /// The headers of the upgrade answer (rate limits, `x-codex-turn-state`, …).
    upgrade_headers: HeaderMap,
}

/// The socket of a turn that is under way: it comes back once the turn's terminal event was read, and
/// never when the turn failed or its stream was dropped before the end (the socket is then closed).
pub(crate) struct SocketBack(oneshot::Receiver<WsConn>);

impl SocketBack {
    pub(crate) async fn get(self) -> Option<WsConn> {
        self.0.await.ok()
    }
}

impl WsConn {
    /// Opens `url` (`https://…/responses` becomes `wss://`, `http://` becomes `ws://`) with `headers`
    /// (from `headers::for_websocket`). A refused upgrade is the error its HTTP answer maps to, so a
    /// 426 is `Rejected { status: 426, .. }` and a 401 is `Unauthorized`.
    pub(crate) async fn connect(
        settings: &WsSettings,
        url: &reqwest::Url,
        headers: HeaderMap,
    ) -> Result<WsConn, CodexError> {
        let secure = match url.scheme() {
            "https" | "wss" => true,
            "http" | "ws" => false,
            other => {
                return Err(CodexError::Transport(format!(
                    "cannot open a WebSocket to a {other}: URL"
                )))
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| CodexError::Transport("the upstream URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let mut ws_url = url.clone();
        // Both schemes are special, so the swap cannot fail.
        let _ = ws_url.set_scheme(if secure { "wss" } else { "ws" });
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| CodexError::Transport(format!("bad WebSocket request: {e}")))?;
        request.headers_mut().extend(headers);

        let tcp = tokio::time::timeout(
            settings.connect_timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| CodexError::Transport(format!("connecting to {host}:{port} timed out")))?
        .map_err(|e| CodexError::Transport(format!("cannot connect to {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if secure {
            let name = rustls_pki_types::ServerName::try_from(host.clone())
                .map_err(|e| CodexError::Transport(format!("bad TLS server name {host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(settings.tls.clone());
            let stream = tokio::time::timeout(settings.connect_timeout, tls.connect(name, tcp))
                .await
                .map_err(|_| CodexError::Transport(format!("TLS with {host} timed out")))?
                .map_err(|e| CodexError::Transport(format!("TLS with {host} failed: {e}")))?;
            Box::new(stream)
        } else {
            Box::new(tcp)
        };
        let config = WebSocketConfig::default()
            // One event is one message; the bound is the SSE path's (`max_event_bytes`).
            .max_message_size(Some(settings.max_message_bytes))
            .max_frame_size(Some(settings.max_message_bytes))
            // Allocated up front per socket: small, so many idle sockets stay cheap.
            .read_buffer_size(16 * 1024);
        let handshake = tokio_tungstenite::client_async_with_config(request, io, Some(config));
        let (socket, response) = tokio::time::timeout(settings.idle_timeout, handshake)
            .await
            .map_err(|_| CodexError::IdleTimeout(settings.idle_timeout))?
            .map_err(upgrade_error)?;
        Ok(WsConn {
            socket,
            settings: settings.clone(),
            upgrade_headers: response.headers().clone(),
        })
    }

    /// Whether the backend closed the socket (or it broke) while it sat idle; a socket that has sent
    /// anything between turns is out of step and counts as closed too. Never waits.
    pub(crate) fn is_closed(&mut self) -> bool {
        use futures_util::FutureExt;
        loop {
            match self.socket.next().now_or_never() {
                None => return false,
                Some(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Some(_) => return true,
            }
        }
    }

    /// The headers of the upgrade answer.
    pub(crate) fn upgrade_headers(&self) -> &HeaderMap {
        &self.upgrade_headers
    }

    /// Sends one `response.create` frame made by [`create_frame`], stamped with the time now, and
    /// returns the turn's events, and the socket once the turn is over. An error here means the frame
    /// was not sent whole: nothing of this turn reached the backend's answer yet.
    pub(crate) async fn send_create(
        mut self,
        frame: CreateFrame,
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let idle = self.settings.idle_timeout;
        let text = frame.stamped(unix_ms());
        tokio::time::timeout(idle, self.socket.send(Message::text(text)))
            .await
            .map_err(|_| CodexError::IdleTimeout(idle))?
            .map_err(|e| CodexError::Transport(format!("the WebSocket broke off: {e}")))?;
        let (back, rx) = oneshot::channel();
        let tally = Tally::current();
        let state = Turn {
            conn: self,
            back,
            tally,
        };
        Ok((
            ResponseStream::new(None, turn_events(state)),
            SocketBack(rx),
        ))
    }

    /// Closes the socket politely (a close frame), not waiting long for the answer.
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(200), self.socket.close(None)).await;
    }
}

struct Turn {
    conn: WsConn,
    back: oneshot::Sender<WsConn>,
    tally: Option<Tally>,
}

fn turn_events(turn: Turn) -> impl Stream<Item = Result<StreamEvent, CodexError>> + Send {
    futures_util::stream::unfold(Some(turn), |turn| async move {
        let mut turn = turn?;
        let idle = turn.conn.settings.idle_timeout;
        loop {
            let message = match tokio::time::timeout(idle, turn.conn.socket.next()).await {
                Err(_) => return Some((Err(CodexError::IdleTimeout(idle)), None)),
                Ok(None) | Ok(Some(Ok(Message::Close(_)))) => {
                    return Some((Err(CodexError::StreamClosed), None))
                }
                Ok(Some(Err(e))) => return Some((Err(read_error(e)), None)),
                Ok(Some(Ok(m))) => m,
            };
            let text = match message {
                Message::Text(text) => text,
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Binary(_) => {
                    let e = CodexError::Decode("a binary WebSocket message".into());
                    return Some((Err(e), None));
                }
                Message::Close(_) => return Some((Err(CodexError::StreamClosed), None)),
            };
            if let Some(err) = wrapped_error(text.as_str()) {
                return Some((Err(err), None));
            }
            let ev = match StreamEvent::parse(text.as_str().to_owned()) {
                Ok(ev) => ev,
                Err(e) => return Some((Err(CodexError::Decode(e.to_string())), None)),
            };
            observe(&ev, &turn.conn.settings.limits, turn.tally.as_ref());
            if ev.event.is_terminal() {
                // The turn is over: the socket may carry the next one. Nobody waiting is fine.
                let _ = turn.back.send(turn.conn);
                return Some((Ok(ev), None));
            }
            return Some((Ok(ev), Some(turn)));
        }
    })
}

/// `client_metadata` key of the Responses Lite flag: the CLI sends no `x-openai-internal-codex-responses-lite`
/// header on the upgrade (one socket may carry turns of several models) but this in each frame of a
/// Lite model, `"true"` (seen in the parity test; absent for classic models).
pub(crate) const LITE_METADATA_KEY: &str =
    "ws_request_header_x_openai_internal_codex_responses_lite";

/// `client_metadata` key of the time a frame was sent: milliseconds since the Unix epoch as a decimal
/// string, stamped on every frame (prewarms too) just before it is written, as the CLI does.
pub(crate) const START_MS_METADATA_KEY: &str = "x-codex-ws-stream-request-start-ms";

/// A `response.create` frame, made by [`create_frame`]; it gets its send time when it is sent, so a
/// frame sent again after a reconnect says when it was really sent. `head` is the frame's text up to
/// the end of its `client_metadata` (open, without the send time and the closing braces).
#[derive(Debug, Clone)]
pub(crate) struct CreateFrame {
    head: String,
    /// Whether `client_metadata` has keys before the send time.
    metadata_keys: bool,
}

impl CreateFrame {
    /// The frame's text, stamped `now_ms`.
    fn stamped(self, now_ms: u64) -> String {
        let mut text = self.head;
        if self.metadata_keys {
            text.push(',');
        }
        text.push('"');
        text.push_str(START_MS_METADATA_KEY);
        text.push_str(r#"":""#);
        text.push_str(&now_ms.to_string());
        text.push_str(r#""}}"#);
        text
    }
}

/// The `response.create` frame of a rendered `body` (with its [`FrameLayout`]):
/// `{"type": "response.create", …the body's keys…}`, with `previous_response_id` after `model` and
/// `generate` before `client_metadata`, where the CLI puts them, and, for a Responses Lite model
/// (`lite`), the Lite flag in `client_metadata`. The body's text is copied as it is, not parsed.
pub(crate) fn create_frame(
    body: &[u8],
    layout: FrameLayout,
    lite: bool,
    opts: &CreateOptions,
) -> Result<CreateFrame, CodexError> {
    const METADATA: &str = r#","client_metadata":"#;
    let malformed =
        || CodexError::Decode("the rendered request does not have the shape of a frame".into());
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let FrameLayout {
        model_end,
        metadata_at,
    } = layout;
    let fields = text.get(1..model_end).ok_or_else(malformed)?;
    let middle = text.get(model_end..metadata_at).ok_or_else(malformed)?;
    // `{…}` of client_metadata, then the body's own `}`.
    let metadata = text
        .get(metadata_at..)
        .and_then(|m| m.strip_prefix(METADATA))
        .and_then(|m| m.strip_suffix('}'))
        .and_then(|m| m.strip_prefix('{'))
        .and_then(|m| m.strip_suffix('}'))
        .filter(|_| fields.starts_with(r#""model":"#))
        .ok_or_else(malformed)?;
    let mut head = String::with_capacity(text.len() + 192);
    head.push_str(r#"{"type":"response.create","#);
    head.push_str(fields);
    if let Some(id) = &opts.previous_response_id {
        head.push_str(r#","previous_response_id":"#);
        head.push_str(&serde_json::to_string(id).map_err(|e| CodexError::Decode(e.to_string()))?);
    }
    head.push_str(middle);
    if let Some(generate) = opts.generate {
        head.push_str(if generate {
            r#","generate":true"#
        } else {
            r#","generate":false"#
        });
    }
    head.push_str(METADATA);
    head.push('{');
    head.push_str(metadata);
    let mut metadata_keys = !metadata.is_empty();
    if lite {
        if metadata_keys {
            head.push(',');
        }
        head.push('"');
        head.push_str(LITE_METADATA_KEY);
        head.push_str(r#"":"true""#);
        metadata_keys = true;
    }
    Ok(CreateFrame {
        head,
        metadata_keys,
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The backend reports a failure over the socket as `{"type":"error","status":N,"error":{…}}`, the
/// WebSocket form of an HTTP error answer: mapped as that answer would be (401 → `Unauthorized`, which
/// the client recovers from as on HTTP; 429 → usage limit, …). An `error` event without a status is an
/// ordinary terminal event and passes through.
fn wrapped_error(text: &str) -> Option<CodexError> {
    #[derive(serde::Deserialize)]
    struct Wrapped {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default, alias = "status_code")]
        status: Option<u16>,
        #[serde(default)]
        error: Option<Value>,
    }
    // Cheap test first: almost every frame is a delta.
    if !text.contains("\"error\"") {
        return None;
    }
    let wrapped: Wrapped = serde_json::from_str(text).ok()?;
    let status = wrapped.status.filter(|s| !(200..300).contains(s))?;
    if wrapped.kind != "error" {
        return None;
    }
    let body = serde_json::json!({ "error": wrapped.error });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Some(crate::error::classify(
        status,
        &bytes,
        None,
        crate::client::unix_now(),
    ))
}

fn upgrade_error(e: WsError) -> CodexError {
    match e {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            if status < 400 {
                // An answer that is not 101 (a server without the transport answering the GET): the
                // upgrade was refused, however it was said.
                return CodexError::Rejected {
                    status,
                    message: format!("the WebSocket upgrade was answered HTTP {status}, not 101"),
                    code: None,
                };
            }
            crate::error::classify(status, body, None, crate::client::unix_now())
        }
        other => read_error(other),
    }
}

fn read_error(e: WsError) -> CodexError {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => CodexError::StreamClosed,
        WsError::Capacity(c) => {
            CodexError::Decode(format!("an event from the Codex backend is too large: {c}"))
        }
        other => CodexError::Transport(format!("the WebSocket broke off: {other}")),
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
