//! One request to the backend, held from its upstream slot to its last event.

use std::collections::VecDeque;

use codex_client::{CodexError, ResponseEvent, ResponseStream, ResponsesRequest};
use futures_util::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use super::app::App;
use super::error::ApiError;
use super::fold::{Failure, Folder};

/// A failed response, as the error a client sees.
pub(crate) fn failure_error(f: Failure) -> ApiError {
    CodexError::Failed {
        code: f.code,
        message: f.message,
    }
    .into()
}

/// One request to the backend, from the moment it produced output: it holds the upstream slot until it
/// is dropped, and yields the events it read while waiting before the rest of the stream.
pub(crate) struct Exchange {
    pending: VecDeque<ResponseEvent>,
    stream: ResponseStream,
    _slot: OwnedSemaphorePermit,
}

impl Exchange {
    /// Takes an upstream slot, sends the request and waits for the backend's first output. Until then a
    /// failure (refused request, usage limit, `response.failed`, a cut stream) is an `ApiError` with a
    /// real HTTP status; the lifecycle events read meanwhile are kept for the fold.
    pub(crate) async fn begin(app: &App, req: ResponsesRequest) -> Result<Exchange, ApiError> {
        let slot = app.upstream_limit.acquire().await?;
        let mut stream = app.codex.stream(req).await?;
        let mut pending = VecDeque::new();
        loop {
            let ev = match stream.next().await {
                None => return Err(CodexError::StreamClosed.into()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(ev)) => ev.event,
            };
            match ev {
                ResponseEvent::Created { .. }
                | ResponseEvent::InProgress {}
                | ResponseEvent::RateLimits { .. }
                | ResponseEvent::Other => pending.push_back(ev),
                ResponseEvent::Failed { .. } | ResponseEvent::Error { .. } => {
                    let mut f = Folder::default();
                    return Err(match f.push(&ev, &mut |_| {}) {
                        Err(fail) => failure_error(fail),
                        Ok(()) => CodexError::StreamClosed.into(),
                    });
                }
                _ => {
                    pending.push_back(ev);
                    break;
                }
            }
        }
        Ok(Exchange {
            pending,
            stream,
            _slot: slot,
        })
    }

    /// The next backend event; `None` when the stream ended (cleanly or not: the fold tells which).
    pub(crate) async fn next(&mut self) -> Option<Result<ResponseEvent, CodexError>> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(Ok(ev));
        }
        match self.stream.next().await? {
            Ok(ev) => Some(Ok(ev.event)),
            Err(e) => Some(Err(e)),
        }
    }
}
