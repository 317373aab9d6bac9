//! One Responses turn over a fresh upstream socket: the upgrade with the turn's headers, the
//! `response.create` frame, login recovery after a 401 (on the upgrade or as a wrapped error frame) and
//! the reconnect with the full input after a drop, as long as the client has been given nothing.

use futures_util::StreamExt;

use crate::auth::Credentials;
use crate::client::{backoff, CodexClient, Prepared};
use crate::error::CodexError;
use crate::events::{ResponseEvent, StreamEvent};
use crate::headers::{self, ResponsesHeaders};
use crate::stream::ResponseStream;
use crate::ws::conn::{create_frame, CreateFrame, CreateOptions, SocketBack, WsConn};

/// Events that carry nothing a client shows. They are held back until the first one that does, so a
/// socket that drops before it can be reopened and the input sent again without the client seeing
/// anything twice.
fn is_preamble(ev: &ResponseEvent) -> bool {
    matches!(
        ev,
        ResponseEvent::Created { .. }
            | ResponseEvent::InProgress {}
            | ResponseEvent::RateLimits { .. }
    )
}

/// The code the backend answers a `previous_response_id` it does not hold with.
pub(crate) const PREVIOUS_RESPONSE_NOT_FOUND: &str = "previous_response_not_found";

fn lost_continuation(ev: &ResponseEvent) -> Option<CodexError> {
    let (code, message) = match ev {
        ResponseEvent::Error { code, message } => (code.as_deref(), message.as_deref()),
        ResponseEvent::Failed { response } => {
            let e = response.error.as_ref()?;
            (e.code.as_deref(), e.message.as_deref())
        }
        _ => return None,
    };
    (code == Some(PREVIOUS_RESPONSE_NOT_FOUND)).then(|| CodexError::Rejected {
        status: 400,
        message: message.unwrap_or("previous response not found").to_owned(),
        code: Some(PREVIOUS_RESPONSE_NOT_FOUND.into()),
    })
}

/// Worth reopening the socket and resending: the socket broke or went quiet, or a 5xx.
pub(crate) fn is_drop(e: &CodexError) -> bool {
    e.is_transient() || matches!(e, CodexError::StreamClosed)
}

impl CodexClient {
    /// Opens an upstream socket for `p` with `creds`.
    pub(crate) async fn open_socket(
        &self,
        p: &Prepared,
        creds: &Credentials,
    ) -> Result<WsConn, CodexError> {
        let settings = self.ws_settings()?;
        let route = self.route(creds).await;
        let url = self.responses_url(creds, &route)?;
        let mut headers = headers::for_websocket(
            self.identity(),
            creds,
            &ResponsesHeaders {
                ids: &p.ids,
                model: &p.slug,
                turn_metadata: &p.turn_metadata,
                lite: p.lite,
                zstd: false,
                routing_override: route.routing_override.as_deref(),
            },
        );
        headers::add_client_codex_headers(&mut headers, &p.client_headers);
        let conn = WsConn::connect(settings, &url, headers).await?;
        self.record_limits(conn.upgrade_headers());
        Ok(conn)
    }

    /// Sends `p` over a new socket. Gives back the turn's events and, once the turn is over, its socket.
    /// A refused upgrade is returned as it is (see [`crate::ws::is_refusal`]) for the caller to fall back.
    pub(crate) async fn stream_websocket(
        &self,
        p: &Prepared,
        opts: &CreateOptions,
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let frame = create_frame(&p.plain, p.layout, p.lite, opts)?;
        let mut creds = self.auth().credentials().await?;
        let mut unauthorized = 0;
        let mut retries = 0;
        loop {
            let err = match self.turn_once(p, &creds, frame.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match err {
                CodexError::Unauthorized { .. } if unauthorized < 2 => {
                    unauthorized += 1;
                    creds = self.recover_unauthorized(unauthorized, &creds).await?;
                }
                e if is_drop(&e) && retries < self.config().max_retries => {
                    retries += 1;
                    let delay = backoff(retries);
                    tracing::warn!(attempt = retries, delay_ms = delay.as_millis() as u64, error = %e,
                        "the upstream WebSocket failed before any output; reconnecting and sending the full input again");
                    tokio::time::sleep(delay).await;
                }
                e => return Err(e),
            }
        }
    }

    async fn turn_once(
        &self,
        p: &Prepared,
        creds: &Credentials,
        frame: CreateFrame,
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let conn = self.open_socket(p, creds).await?;
        self.turn_on(conn, frame).await
    }

    /// Sends `frame` on `conn` and waits for the turn's first output (see [`is_preamble`]). A
    /// continuation the backend cannot find (`previous_response_not_found`: it no longer holds that
    /// response) is an error here, before the client saw anything, so the caller can send the full
    /// input instead.
    pub(crate) async fn turn_on(
        &self,
        conn: WsConn,
        frame: CreateFrame,
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let (mut events, back) = conn.send_create(frame).await?;
        let mut held: Vec<StreamEvent> = Vec::new();
        loop {
            match events.next().await {
                Some(Ok(ev)) => {
                    let preamble = is_preamble(&ev.event);
                    if let Some(e) = lost_continuation(&ev.event) {
                        return Err(e);
                    }
                    held.push(ev);
                    if !preamble {
                        break;
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Err(CodexError::StreamClosed),
            }
        }
        let rest = futures_util::stream::iter(held.into_iter().map(Ok)).chain(events);
        Ok((ResponseStream::new(None, rest), back))
    }
}
