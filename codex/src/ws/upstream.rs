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
use crate::ws::conn::{create_frame, CreateOptions, SocketBack, WsConn};

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

/// Worth reopening the socket and resending: the socket broke or went quiet, or a 5xx.
fn is_drop(e: &CodexError) -> bool {
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
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let frame = create_frame(&p.plain, &CreateOptions::default())?;
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
        frame: String,
    ) -> Result<(ResponseStream, SocketBack), CodexError> {
        let conn = self.open_socket(p, creds).await?;
        let (mut events, back) = conn.send_create(frame).await?;
        let mut held: Vec<StreamEvent> = Vec::new();
        loop {
            match events.next().await {
                Some(Ok(ev)) => {
                    let preamble = is_preamble(&ev.event);
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
