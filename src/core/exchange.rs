//! One request to the backend, held from its upstream slot to its last event.

use std::collections::VecDeque;

use codex_client::{CodexError, ResponseEvent, ResponseStream, ResponsesRequest, StreamEvent};
use futures_util::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use super::app::App;
use super::error::ApiError;
use super::fold::Folder;
use super::piece::Failure;

/// A failed response, as the error a client sees.
pub(crate) fn failure_error(f: Failure) -> ApiError {
    CodexError::Failed {
        code: f.code,
        message: f.message,
    }
    .into()
}

/// One request to the backend: it holds the upstream slot (if it took one) until it is dropped, and
/// yields the events it read before it was handed on, then the rest of the stream.
pub(crate) struct Exchange {
    pending: VecDeque<Result<StreamEvent, CodexError>>,
    stream: ResponseStream,
    /// The stream said it ended: it is not polled again.
    ended: bool,
    /// `None` for an answer made here (`generate: false`), which takes no upstream slot.
    _slot: Option<OwnedSemaphorePermit>,
}

impl Exchange {
    /// Takes an upstream slot, sends the request and waits for the backend's first output. Until then a
    /// failure (refused request, usage limit, `response.failed`, a cut stream) is an `ApiError` with a
    /// real HTTP status; the lifecycle events read meanwhile are kept for the answer.
    pub(crate) async fn begin(app: &App, req: ResponsesRequest) -> Result<Exchange, ApiError> {
        let slot = app.upstream_limit.acquire().await?;
        let mut stream = app.codex.stream(req).await?;
        let mut pending = VecDeque::new();
        loop {
            let ev = match stream.next().await {
                None => return Err(CodexError::StreamClosed.into()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(ev)) => ev,
            };
            match &ev.event {
                ResponseEvent::Created { .. }
                | ResponseEvent::InProgress {}
                | ResponseEvent::RateLimits { .. }
                | ResponseEvent::Other => pending.push_back(Ok(ev)),
                ResponseEvent::Failed { .. } | ResponseEvent::Error { .. } => {
                    let mut f = Folder::default();
                    return Err(match f.push(&ev.event, &mut |_| {}) {
                        Err(fail) => failure_error(fail),
                        Ok(()) => CodexError::StreamClosed.into(),
                    });
                }
                _ => {
                    pending.push_back(Ok(ev));
                    break;
                }
            }
        }
        Ok(Exchange {
            pending,
            stream,
            ended: false,
            _slot: Some(slot),
        })
    }

    /// Takes an upstream slot, sends the request and reads only the backend's first event, so that its
    /// wait counts as the backend's. A refused request is an `ApiError`; whatever the stream says from
    /// then on (a `response.failed` too) is the answer's.
    pub(crate) async fn open(app: &App, req: ResponsesRequest) -> Result<Exchange, ApiError> {
        let slot = app.upstream_limit.acquire().await?;
        let mut stream = app.codex.stream(req).await?;
        let first = stream.next().await;
        Ok(Exchange {
            ended: first.is_none(),
            pending: first.into_iter().collect(),
            stream,
            _slot: Some(slot),
        })
    }

    /// An answer made here, without the backend (and without an upstream slot).
    pub(crate) fn local(events: Vec<StreamEvent>) -> Exchange {
        Exchange {
            pending: VecDeque::new(),
            stream: ResponseStream::local(events),
            ended: false,
            _slot: None,
        }
    }

    /// The next backend event; `None` when the stream ended (cleanly or not: the answer tells which).
    pub(crate) async fn next(&mut self) -> Option<Result<StreamEvent, CodexError>> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(ev);
        }
        if self.ended {
            return None;
        }
        let next = self.stream.next().await;
        self.ended = next.is_none();
        next
    }
}
