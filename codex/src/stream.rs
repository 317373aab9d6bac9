//! The one stream type both transports yield ([`ResponseStream`]), the HTTP + SSE reader that makes one
//! from a `POST /responses` answer, and what every event tells the client on its way (rate limits, token
//! tally), whichever transport carried it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};

use crate::error::CodexError;
use crate::events::{ResponseEvent, StreamEvent};
use crate::limits::{self, LimitStore, RateLimitSnapshot};
use crate::sse;
use crate::tally::Tally;

/// The events of one answer. Ends after the terminal event (`completed`, `incomplete`, `failed`, `error`);
/// an end before that is `CodexError::StreamClosed` (or a transport error).
pub struct ResponseStream {
    /// The rate-limit snapshot on this answer's headers (HTTP; over WebSocket they come as events).
    pub rate_limits: Option<RateLimitSnapshot>,
    events: Pin<Box<dyn Stream<Item = Result<StreamEvent, CodexError>> + Send>>,
}

impl ResponseStream {
    /// Events answered without the backend: a request that asks for no generation (the codex CLI's
    /// `generate: false` prewarm) is complete as soon as it is accepted.
    pub fn local(events: Vec<StreamEvent>) -> ResponseStream {
        ResponseStream::new(None, futures_util::stream::iter(events.into_iter().map(Ok)))
    }

    pub(crate) fn new(
        rate_limits: Option<RateLimitSnapshot>,
        events: impl Stream<Item = Result<StreamEvent, CodexError>> + Send + 'static,
    ) -> ResponseStream {
        ResponseStream {
            rate_limits,
            events: Box::pin(events),
        }
    }
}

impl Stream for ResponseStream {
    type Item = Result<StreamEvent, CodexError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}

/// What one event tells the client besides itself: a `codex.rate_limits` snapshot for the limits view,
/// the usage of a finished response for the tally.
pub(crate) fn observe(ev: &StreamEvent, limits: &LimitStore, tally: Option<&Tally>) {
    if let ResponseEvent::RateLimits {
        rate_limits: Some(l),
        ..
    } = &ev.event
    {
        if let Some(snap) = limits::from_event(l, crate::client::unix_now()) {
            limits.offer(Instant::now(), snap);
        }
    }
    if let (
        Some(t),
        ResponseEvent::Completed { response } | ResponseEvent::Incomplete { response },
    ) = (tally, &ev.event)
    {
        if let Some(u) = &response.usage {
            t.record(u.input_tokens, u.output_tokens);
        }
    }
}

enum Phase<S> {
    Streaming(Pin<Box<S>>),
    /// After the terminal event: read the body to its end so the connection can be reused.
    Draining(Pin<Box<S>>),
}

/// The events of an SSE answer.
pub(crate) fn sse_events(
    resp: reqwest::Response,
    idle: Duration,
    max_event: usize,
    limits: Arc<LimitStore>,
    tally: Option<Tally>,
) -> impl Stream<Item = Result<StreamEvent, CodexError>> + Send {
    let frames = Box::pin(sse::data_frames(resp.bytes_stream(), max_event));
    futures_util::stream::unfold(Some(Phase::Streaming(frames)), move |phase| {
        let limits = limits.clone();
        let tally = tally.clone();
        async move {
            match phase? {
                Phase::Draining(mut frames) => {
                    let drain = async { while frames.next().await.is_some() {} };
                    let _ = tokio::time::timeout(Duration::from_millis(100), drain).await;
                    None
                }
                Phase::Streaming(mut frames) => {
                    match tokio::time::timeout(idle, frames.next()).await {
                        Err(_) => Some((Err(CodexError::IdleTimeout(idle)), None)),
                        Ok(None) => Some((Err(CodexError::StreamClosed), None)),
                        Ok(Some(Err(sse::SseError::Io(e)))) => Some((
                            Err(CodexError::Transport(format!("the stream broke off: {e}"))),
                            None,
                        )),
                        Ok(Some(Err(e))) => Some((Err(CodexError::Decode(e.to_string())), None)),
                        Ok(Some(Ok(data))) => match StreamEvent::parse(data) {
                            Err(e) => Some((Err(CodexError::Decode(e.to_string())), None)),
                            Ok(ev) => {
                                observe(&ev, &limits, tally.as_ref());
                                let next = if ev.event.is_terminal() {
                                    Phase::Draining(frames)
                                } else {
                                    Phase::Streaming(frames)
                                };
                                Some((Ok(ev), Some(next)))
                            }
                        },
                    }
                }
            }
        }
    })
}
