//! One turn on its conversation's upstream socket: a socket from the pool (or a new one), the request
//! whole or as the continuation of the socket's last response ([`Chain`]), and the socket back in the
//! pool with what its backend then holds once the turn's terminal event went by.

use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{FutureExt, Stream};

use crate::auth::Credentials;
use crate::client::{CodexClient, Renderer};
use crate::error::CodexError;
use crate::events::StreamEvent;
use crate::request::ResponsesRequest;
use crate::routing::Route;
use crate::stream::ResponseStream;
use crate::ws::chain::{Send, Turn};
use crate::ws::conn::{create_frame, CreateOptions, SocketBack, WsConn};
use crate::ws::pool::{Checkout, Lease, Opening, Socket};
use crate::ws::upstream::{is_drop, PREVIOUS_RESPONSE_NOT_FOUND};

impl Socket for WsConn {
    fn is_open(&mut self) -> bool {
        !self.is_closed()
    }

    fn retire(self) {
        // A close frame, in the background; without a runtime (never while serving) just dropped.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(self.close());
        }
    }
}

/// What a socket was opened with: a refreshed token or another workspace route needs a new one. A hash
/// in memory only; the token itself is not kept.
fn binding(creds: &Credentials, route: &Route) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    creds.bearer().expose().hash(&mut h);
    creds.account_id().hash(&mut h);
    route.origin.hash(&mut h);
    route.routing_override.hash(&mut h);
    h.finish()
}

impl CodexClient {
    /// `req` over its conversation's socket, with the credentials the request was checked with.
    /// `Ok(Err(req))` gives the request back for HTTP + SSE: the backend refused the upgrade
    /// (remembered), or every socket is busy and the pool full.
    pub(crate) async fn stream_pooled(
        &self,
        req: ResponsesRequest,
        r: &Renderer<'_>,
        lite: bool,
        generate: Option<bool>,
        creds: Credentials,
    ) -> Result<Result<ResponseStream, ResponsesRequest>, CodexError> {
        // Without a conversation key the socket serves this request only.
        let key = req.prompt_cache_key.clone().filter(|k| !k.is_empty());
        let keep = key.is_some();
        let key = key.unwrap_or_else(|| r.session().to_owned());
        let route = self.route(&creds).await;
        self.sockets.start_reaper();
        // The conversation's socket may be on its way (`preconnect`): better than opening a second.
        let settings = self.ws_settings()?;
        let limit = settings.connect_timeout * 2 + settings.idle_timeout;
        self.sockets.opened_ahead(&key, limit).await;
        let mut lease = match self
            .sockets
            .checkout(&key, binding(&creds, &route), &req, lite)
        {
            Checkout::Reuse(l) | Checkout::Open(l) => l,
            Checkout::Full => {
                tracing::debug!(
                    "every upstream WebSocket is busy (--upstream-max-sockets); this request goes over HTTP"
                );
                return Ok(Err(req));
            }
        };
        let send = lease.send().clone();
        let turn = Turn::new(req, lite);
        let mut answer = None;
        if let Some(conn) = lease.take_conn() {
            let p = match send.held() {
                Some(held) => r.prepare_tail(turn.request(), held)?,
                None => r.prepare(turn.request().clone(), None)?,
            };
            let frame = create_frame(
                &p.plain,
                p.layout,
                p.lite,
                &CreateOptions {
                    previous_response_id: send.previous_response_id().map(str::to_owned),
                    generate,
                },
            )?;
            match self.turn_on(conn, frame).await {
                Ok(a) => answer = Some(a),
                // The socket went stale, or its backend no longer holds the response: the whole input
                // on a new socket, before the client saw anything.
                Err(e) if is_drop(&e) || lost(&e) => {
                    tracing::debug!(error = %e, continued = send != Send::Full,
                        "the conversation's upstream WebSocket could not carry the turn; opening a new one");
                }
                Err(e) => return Err(e),
            }
        }
        let (events, back) = match answer {
            Some(a) => a,
            None => {
                lease.opened();
                let p = r.prepare(turn.request().clone(), None)?;
                let opts = CreateOptions {
                    previous_response_id: None,
                    generate,
                };
                match self.stream_websocket(&p, &opts).await {
                    Ok(a) => a,
                    Err(e) if crate::ws::is_refusal(&e) => {
                        self.refused(&e);
                        return Ok(Err(turn.into_request()));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Ok(ResponseStream::new(
            None,
            Watched {
                events,
                turn: Some(turn),
                lease: Some(lease),
                back: Some(back),
                keep,
            },
        )))
    }
}

/// A conversation whose upstream socket is to be opened ahead of its first turn
/// ([`CodexClient::announce_socket`], then [`CodexClient::preconnect`]). While it is held, that
/// turn waits for the socket instead of opening a second one.
pub struct Preconnect(Opening<WsConn>);

impl CodexClient {
    /// Announces that conversation `key`'s socket will be opened ahead of its first turn, before
    /// anything can start that turn; `None` (nothing to do) with `--no-upstream-prewarm`, over HTTP
    /// only, while the upgrade is refused, or when the conversation has its socket already.
    pub fn announce_socket(&self, key: &str) -> Option<Preconnect> {
        if !self.config().upstream_prewarm || key.is_empty() || !self.wants_websocket(None) {
            return None;
        }
        self.sockets.announce(key).map(Preconnect)
    }

    /// Opens the socket `ahead` announced, as the codex CLI opens its socket when a session starts;
    /// `Ok(true)` when one now waits idle for the conversation's first turn. Only the upgrade: the
    /// CLI's `generate: false` frame would need the conversation's instructions and tools, which only
    /// the first turn brings. `model` is the one the turn is expected to name (the client's or the server's default),
    /// for the upgrade's routing hint and turn metadata, as the CLI names its session's model; a turn
    /// of another model uses the socket all the same, its frames say which model and whether it is
    /// Lite. Nothing is opened for a model that is not to go over the WebSocket, or when the pool is
    /// full (no idle socket is closed for a guess).
    pub async fn preconnect(
        &self,
        ahead: Preconnect,
        model: &str,
        client_headers: Vec<(String, String)>,
    ) -> Result<bool, CodexError> {
        let Preconnect(opening) = ahead;
        if model.is_empty() {
            return Ok(false);
        }
        let creds = self.auth().credentials().await?;
        let (catalog, _) = self.models_for(&creds).await;
        let entry = catalog.iter().find(|m| m.slug == model);
        let bundled = crate::client::bundled_unless_listed(entry, model);
        if !self.wants_websocket(entry.or(bundled.as_ref())) {
            return Ok(false);
        }
        let route = self.route(&creds).await;
        self.sockets.start_reaper();
        let Some(mut lease) = self.sockets.reserve(&opening, binding(&creds, &route)) else {
            return Ok(false);
        };
        let mut req = ResponsesRequest::new(model, String::new(), Vec::new());
        req.prompt_cache_key = Some(opening.key().to_owned());
        req.client_headers = client_headers;
        let r = self.renderer(&mut req, entry).prewarm();
        let p = r.prepare(req, None)?;
        match self.open_socket(&p, &creds).await {
            Ok(conn) => {
                lease.opened();
                // Idle in the pool before the waiting turn is let go.
                lease.finish(Some(conn), None);
                drop(opening);
                Ok(true)
            }
            Err(e) => {
                if crate::ws::is_refusal(&e) {
                    self.refused(&e);
                }
                Err(e)
            }
        }
    }
}

fn lost(e: &CodexError) -> bool {
    matches!(e, CodexError::Rejected { code: Some(c), .. } if c == PREVIOUS_RESPONSE_NOT_FOUND)
}

/// The turn's events, watched: what the backend will hold is collected on the way, and at the terminal
/// event the socket goes back to the pool with it. Dropped before that (the client left), the lease
/// closes the socket.
struct Watched {
    events: ResponseStream,
    turn: Option<Turn>,
    lease: Option<Lease<WsConn>>,
    back: Option<SocketBack>,
    /// False for a request without a conversation key: its socket is closed after the turn.
    keep: bool,
}

impl Watched {
    fn finish(&mut self) {
        // The socket is handed over before the terminal event is yielded, so it is ready now.
        let conn = self
            .back
            .take()
            .and_then(|b| b.get().now_or_never().flatten())
            .filter(|_| self.keep);
        let chain = self.turn.take().and_then(Turn::finish);
        if let Some(lease) = self.lease.take() {
            lease.finish(conn, chain);
        }
    }
}

impl Stream for Watched {
    type Item = Result<StreamEvent, CodexError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(Pin::new(&mut self.events).poll_next(cx));
        match &item {
            Some(Ok(ev)) => {
                if let Some(t) = self.turn.as_mut() {
                    t.observe(ev);
                }
                if ev.event.is_terminal() {
                    self.finish();
                }
            }
            // Broken off: the lease closes what is left of the socket.
            _ => {
                self.lease.take();
                self.turn.take();
            }
        }
        Poll::Ready(item)
    }
}
