//! One answer driver for every API that answers from the fold (OpenAI chat, Ollama, Anthropic): it pulls
//! the backend's events, folds them into pieces, keeps the turn's reasoning for the next request, frames
//! failures, sends keep-alives and stops when the client goes away (the stream is dropped, and with it
//! the exchange and its upstream slot). Each API only says how a piece looks on its wire: [`Render`] for
//! a stream, [`Gather`] for one whole answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use codex_client::{CodexError, ResponseEvent, Usage};
use futures_util::Stream;

use super::app::App;
use super::error::ApiError;
use super::exchange::{failure_error, Exchange};
use super::fold::{FinishReason, Folder, Piece};
use super::reasoning_cache::Turn as ReasoningTurn;

/// How an API writes a streamed answer.
pub(crate) trait Render: Send + 'static {
    /// The stream's `content-type`.
    const CONTENT_TYPE: &'static str;
    /// Written when the backend has been silent this long (a reasoning model can think for minutes),
    /// so that clients and proxies see a live connection.
    const KEEP_ALIVE: Option<Duration> = None;

    /// Sent at once, before anything from the backend.
    fn head(&mut self, _out: &mut Vec<u8>) {}
    /// One piece of the answer; the last is `Piece::Finish`.
    fn piece(&mut self, p: Piece<'_>, out: &mut Vec<u8>);
    /// A failure after the stream began: the stream ends after it.
    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>);
    /// The keep-alive frame.
    fn keep_alive(&mut self, _out: &mut Vec<u8>) {}
    /// Whether the answer's reasoning is kept for the client's next turn.
    fn remembers(&self) -> bool {
        true
    }
}

/// How an API builds one whole answer from its pieces.
pub(crate) trait Gather {
    type Output;
    /// One piece of the answer (`Piece::Finish` too).
    fn piece(&mut self, p: Piece<'_>);
    /// The answer, once the backend finished it.
    fn finish(self, reason: FinishReason, usage: Option<Usage>) -> Self::Output;
    fn remembers(&self) -> bool {
        true
    }
}

/// The fold and the reasoning memory of one answer.
struct Fold {
    folder: Folder,
    turn: ReasoningTurn,
    remember: bool,
}

impl Fold {
    fn new(remember: bool) -> Fold {
        Fold {
            folder: Folder::default(),
            turn: ReasoningTurn::default(),
            remember,
        }
    }

    /// Feeds one event to the fold; a completed response's reasoning is kept.
    fn push(
        &mut self,
        app: &App,
        ev: &ResponseEvent,
        emit: &mut dyn FnMut(Piece<'_>),
    ) -> Result<(), ApiError> {
        let res = self.folder.push(ev, emit);
        self.turn.observe(ev);
        if self.remember && matches!(ev, ResponseEvent::Completed { .. }) {
            app.reasoning.remember(std::mem::take(&mut self.turn));
        }
        res.map_err(failure_error)
    }
}

struct Streaming<R> {
    app: Arc<App>,
    exchange: Exchange,
    fold: Fold,
    render: R,
    done: bool,
}

/// The answer as a stream of byte chunks: the head at once, then the pieces as they come. It owns the
/// exchange (and so the upstream slot) until it ends or is dropped.
pub(crate) fn stream<R: Render>(
    app: Arc<App>,
    exchange: Exchange,
    mut render: R,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut head = Vec::new();
    render.head(&mut head);
    let remember = render.remembers();
    let state = Streaming {
        app,
        exchange,
        fold: Fold::new(remember),
        render,
        done: false,
    };
    let rest = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut buf = Vec::new();
            let next = match R::KEEP_ALIVE {
                Some(after) => tokio::time::timeout(after, st.exchange.next()).await,
                None => Ok(st.exchange.next().await),
            };
            match next {
                Err(_) => st.render.keep_alive(&mut buf),
                // Ended without its last event: say so.
                Ok(None) => {
                    if !st.fold.folder.is_done() {
                        st.render
                            .error(&ApiError::from(CodexError::StreamClosed), &mut buf);
                    }
                    st.done = true;
                }
                Ok(Some(Err(e))) => {
                    st.render.error(&ApiError::from(e), &mut buf);
                    st.done = true;
                }
                Ok(Some(Ok(ev))) => {
                    let render = &mut st.render;
                    let res = st
                        .fold
                        .push(&st.app, &ev, &mut |p| render.piece(p, &mut buf));
                    if let Err(e) = res {
                        st.render.error(&e, &mut buf);
                    }
                    st.done = st.fold.folder.is_done();
                }
            }
            if !buf.is_empty() || st.done {
                return Some((Ok(Bytes::from(buf)), st));
            }
        }
    });
    futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(Bytes::from(head)) }),
        rest,
    )
}

/// The whole answer; a failure before its end is an error with its HTTP status.
pub(crate) async fn collect<G: Gather>(
    app: &App,
    mut exchange: Exchange,
    mut gather: G,
) -> Result<G::Output, ApiError> {
    let mut fold = Fold::new(gather.remembers());
    let mut finish = None;
    while let Some(ev) = exchange.next().await {
        let ev = ev?;
        fold.push(app, &ev, &mut |p| {
            if let Piece::Finish { reason, usage } = &p {
                finish = Some((*reason, *usage));
            }
            gather.piece(p);
        })?;
        if fold.folder.is_done() {
            break;
        }
    }
    let (reason, usage) = finish.ok_or(CodexError::StreamClosed)?;
    Ok(gather.finish(reason, usage))
}
