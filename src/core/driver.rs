//! One answer driver for every API and transport: it pulls the backend's events from the [`Exchange`],
//! hands each to the API's face, frames failures (a backend error, a stream that ends before its last
//! event), sends keep-alives and stops when the client goes away (the driver is dropped, and with it the
//! exchange and its upstream slot).
//!
//! The faces are per event: [`Answer`] for a stream (an HTTP body or a WebSocket's frames), [`Collect`]
//! for one whole answer. The Responses API implements them directly, since it forwards OpenAI's event
//! objects; the APIs that answer from the fold (OpenAI chat, Ollama, Anthropic) write [`Piece`]s through
//! [`Render`] or [`Gather`], which [`Folded`] runs on the fold and the reasoning memory.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use codex_client::{CodexError, ResponseEvent, StreamEvent, Usage};
use futures_util::Stream;

use super::app::App;
use super::error::ApiError;
use super::exchange::{failure_error, Exchange};
use super::fold::Folder;
use super::piece::{FinishReason, Gather, Piece, Render};
use super::reasoning_cache::Turn as ReasoningTurn;

/// What the driver hands on at once: bytes of an HTTP body, or a WebSocket's frames.
pub(crate) trait Chunk: Default + Send + 'static {
    fn is_empty(&self) -> bool;
}

impl<T: Send + 'static> Chunk for Vec<T> {
    fn is_empty(&self) -> bool {
        <[T]>::is_empty(self)
    }
}

/// How an API writes a streamed answer, event by event.
pub(crate) trait Answer: Send + 'static {
    type Out: Chunk;
    /// Written when the backend has been silent this long (a reasoning model can think for minutes),
    /// so that clients and proxies see a live connection.
    const KEEP_ALIVE: Option<Duration> = None;

    /// Sent at once, before anything from the backend.
    fn head(&mut self, _out: &mut Self::Out) {}
    /// One backend event. An `Err` is a failure the backend reported: the driver writes it with
    /// [`Answer::error`] and the stream ends.
    fn event(&mut self, app: &App, ev: &StreamEvent, out: &mut Self::Out) -> Result<(), ApiError>;
    /// A failure after the stream began: the stream ends after it.
    fn error(&mut self, err: &ApiError, out: &mut Self::Out);
    /// The keep-alive frame.
    fn keep_alive(&mut self, _out: &mut Self::Out) {}
    /// Whether the answer's last event has been written.
    fn is_done(&self) -> bool;
}

/// How an API builds one whole answer, event by event.
pub(crate) trait Collect {
    type Output;
    /// One backend event; an `Err` is the answer's failure.
    fn event(&mut self, app: &App, ev: &StreamEvent) -> Result<(), ApiError>;
    /// Whether the answer's last event has been seen.
    fn is_done(&self) -> bool;
    /// The answer; an error if the backend never finished it.
    fn finish(self) -> Result<Self::Output, ApiError>;
}

/// One streamed answer in progress. It owns the exchange (and so the upstream slot) until it is dropped.
pub(crate) struct Drive<A> {
    app: Arc<App>,
    exchange: Exchange,
    answer: A,
    done: bool,
}

impl<A: Answer> Drive<A> {
    pub(crate) fn new(app: Arc<App>, exchange: Exchange, answer: A) -> Drive<A> {
        Drive {
            app,
            exchange,
            answer,
            done: false,
        }
    }

    /// What is sent before anything from the backend.
    pub(crate) fn head(&mut self) -> A::Out {
        let mut out = A::Out::default();
        self.answer.head(&mut out);
        out
    }

    /// The next output; `None` after the last. Cancel-safe: dropped while waiting, it loses nothing
    /// (output is only made after an event arrived, and returned before the next wait).
    pub(crate) async fn next(&mut self) -> Option<A::Out> {
        if self.done {
            return None;
        }
        loop {
            let mut out = A::Out::default();
            let next = match A::KEEP_ALIVE {
                Some(after) => tokio::time::timeout(after, self.exchange.next()).await,
                None => Ok(self.exchange.next().await),
            };
            match next {
                Err(_) => self.answer.keep_alive(&mut out),
                // Ended without its last event: say so.
                Ok(None) => {
                    if !self.answer.is_done() {
                        let closed = ApiError::from(CodexError::StreamClosed);
                        self.answer.error(&closed, &mut out);
                    }
                    self.done = true;
                }
                Ok(Some(Err(e))) => {
                    self.answer.error(&ApiError::from(e), &mut out);
                    self.done = true;
                }
                Ok(Some(Ok(ev))) => {
                    if let Err(e) = self.answer.event(&self.app, &ev, &mut out) {
                        self.answer.error(&e, &mut out);
                        self.done = true;
                    }
                    self.done |= self.answer.is_done();
                }
            }
            if !out.is_empty() || self.done {
                return Some(out);
            }
        }
    }

    pub(crate) fn answer_mut(&mut self) -> &mut A {
        &mut self.answer
    }
}

/// The answer as an HTTP body: the head at once, then the output as it comes.
///
/// Right after the first bytes (the head, or the first output when there is no head) the body yields
/// to the runtime once. hyper keeps polling a body that is ready and writes what it gathered only when
/// the body waits; the backend often sends a turn's events in one burst (a short tool call and
/// `response.completed` in one read), and without the yield the first byte would wait until the whole
/// burst had been framed (and a completed response stored).
pub(crate) fn stream<A: Answer<Out = Vec<u8>>>(
    app: Arc<App>,
    exchange: Exchange,
    answer: A,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut drive = Drive::new(app, exchange, answer);
    let head = drive.head();
    // (the drive, whether the yield is still to come, whether it is due before the next output)
    let state = (drive, true, !head.is_empty());
    let rest = futures_util::stream::unfold(state, |(mut drive, mut ahead, due)| async move {
        if due {
            tokio::task::yield_now().await;
            ahead = false;
        }
        let out = drive.next().await?;
        let due = ahead && !out.is_empty();
        Some((Ok(Bytes::from(out)), (drive, ahead, due)))
    });
    futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(Bytes::from(head)) }),
        rest,
    )
}

/// The whole answer; a failure before its end is an error with its HTTP status.
pub(crate) async fn collect<C: Collect>(
    app: &App,
    mut exchange: Exchange,
    mut answer: C,
) -> Result<C::Output, ApiError> {
    while let Some(ev) = exchange.next().await {
        answer.event(app, &ev?)?;
        if answer.is_done() {
            break;
        }
    }
    answer.finish()
}

/// A piece-level face ([`Render`] for a stream, [`Gather`] for one answer) run on the fold, with the
/// reasoning memory: a completed response's reasoning is kept for the client's next turn.
pub(crate) struct Folded<F> {
    folder: Folder,
    turn: ReasoningTurn,
    remember: bool,
    face: F,
    finish: Option<(FinishReason, Option<Usage>)>,
}

impl<F> Folded<F> {
    fn with(face: F, remember: bool) -> Folded<F> {
        Folded {
            folder: Folder::default(),
            turn: ReasoningTurn::default(),
            remember,
            face,
            finish: None,
        }
    }

    /// Feeds one event to the fold.
    fn push(
        &mut self,
        app: &App,
        ev: &ResponseEvent,
        emit: &mut dyn FnMut(&mut F, Piece<'_>),
    ) -> Result<(), ApiError> {
        let face = &mut self.face;
        let finish = &mut self.finish;
        let res = self.folder.push(ev, &mut |p| {
            if let Piece::Finish { reason, usage } = &p {
                *finish = Some((*reason, *usage));
            }
            emit(face, p)
        });
        self.turn.observe(ev);
        if self.remember && matches!(ev, ResponseEvent::Completed { .. }) {
            app.reasoning.remember(std::mem::take(&mut self.turn));
        }
        res.map_err(failure_error)
    }
}

impl<R: Render> Folded<R> {
    pub(crate) fn render(face: R) -> Folded<R> {
        let remember = face.remembers();
        Folded::with(face, remember)
    }
}

impl<G: Gather> Folded<G> {
    pub(crate) fn gather(face: G) -> Folded<G> {
        let remember = face.remembers();
        Folded::with(face, remember)
    }
}

impl<R: Render> Answer for Folded<R> {
    type Out = Vec<u8>;
    const KEEP_ALIVE: Option<Duration> = R::KEEP_ALIVE;

    fn head(&mut self, out: &mut Vec<u8>) {
        self.face.head(out);
    }

    fn event(&mut self, app: &App, ev: &StreamEvent, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.push(app, &ev.event, &mut |face, p| face.piece(p, out))
    }

    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        self.face.error(err, out);
    }

    fn keep_alive(&mut self, out: &mut Vec<u8>) {
        self.face.keep_alive(out);
    }

    fn is_done(&self) -> bool {
        self.folder.is_done()
    }
}

impl<G: Gather> Collect for Folded<G> {
    type Output = G::Output;

    fn event(&mut self, app: &App, ev: &StreamEvent) -> Result<(), ApiError> {
        self.push(app, &ev.event, &mut |face, p| face.piece(p))
    }

    fn is_done(&self) -> bool {
        self.folder.is_done()
    }

    fn finish(self) -> Result<G::Output, ApiError> {
        let (reason, usage) = self.finish.ok_or(CodexError::StreamClosed)?;
        Ok(self.face.finish(reason, usage))
    }
}
