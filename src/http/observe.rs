//! What every response carries and every request leaves in the log: `x-request-id`, codex-serve's own
//! overhead in `x-codex-serve-overhead-ms`, the latest rate-limit percentages, and one structured line.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use codex_client::tally::Tally;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use crate::core::app::App;

/// The request's id (`x-request-id`, or made here), for handlers that put it in their answer.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

/// Set by handlers on their response: what the log line and the overhead header need to know.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestLog {
    pub(crate) model: Option<String>,
    /// Time spent waiting on the backend before the response headers went out.
    pub(crate) upstream: Duration,
    /// Prompt and completion tokens, when known before the headers (non-streaming answers).
    pub(crate) tokens: Option<(u64, u64)>,
}

/// Accumulates time spent waiting on the backend.
#[derive(Debug, Default)]
pub(crate) struct UpstreamClock(Duration);

impl UpstreamClock {
    /// Awaits `fut`, counting its time as the backend's.
    pub(crate) async fn time<T>(&mut self, fut: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.0 += started.elapsed();
        out
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.0
    }
}

fn header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

/// What the listener the request came in on is called in the log: `unix`, `tcp` or `stdio`.
pub(crate) type Transport = &'static str;

pub(crate) async fn observe(
    State((app, transport)): State<(Arc<App>, Transport)>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    crate::core::memory::request_started();
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    // A stream started while handling this request reports its tokens here, even after the headers.
    let tally = Tally::default();
    let mut resp = tally.clone().scope(next.run(req)).await;
    let log = resp
        .extensions()
        .get::<RequestLog>()
        .cloned()
        .unwrap_or_default();
    let overhead = started.elapsed().saturating_sub(log.upstream);

    header(&mut resp, "x-request-id", id.clone());
    // Anthropic's clients read `request-id`.
    if super::is_anthropic(&path) {
        header(&mut resp, "request-id", id.clone());
    }
    header(
        &mut resp,
        "x-codex-serve-overhead-ms",
        format!("{:.3}", overhead.as_secs_f64() * 1000.0),
    );
    let limits = app.codex.rate_limits();
    if let Some(snap) = &limits {
        if let Some(p) = &snap.primary {
            header(
                &mut resp,
                "x-codex-primary-used-percent",
                p.used_percent.to_string(),
            );
        }
        if let Some(s) = &snap.secondary {
            header(
                &mut resp,
                "x-codex-secondary-used-percent",
                s.used_percent.to_string(),
            );
        }
        if let Some(balance) = snap.credits.as_ref().and_then(|c| c.balance.clone()) {
            header(&mut resp, "x-codex-credits-balance", balance);
        }
    }
    let stream = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("text/event-stream") || v.starts_with("application/x-ndjson")
        });
    let line = Line {
        id,
        method: method.to_string(),
        path,
        model: log.model,
        status: resp.status().as_u16(),
        transport,
        stream,
        started,
        ttfb: log.upstream,
        overhead,
        tokens: log.tokens,
        tally,
        app,
    };
    // The line is written when the body has been sent (or dropped, when the client left early), so a
    // stream's line has its full time and tokens.
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        Body::new(Logged {
            inner: body,
            line: Some(line),
        }),
    )
}

/// One request's log line, written once its answer is done: an HTTP request's (by [`observe`]) and a
/// WebSocket turn's (a request of its own, see [`Line::socket_turn`]).
pub(crate) struct Line {
    id: String,
    method: String,
    path: String,
    model: Option<String>,
    status: u16,
    transport: Transport,
    stream: bool,
    started: Instant,
    ttfb: Duration,
    overhead: Duration,
    tokens: Option<(u64, u64)>,
    tally: Tally,
    app: Arc<App>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

impl Line {
    /// The line of one turn on a Responses WebSocket: `method` WS, the socket's request id with the
    /// turn's number, the backend's wait (`ttfb`) and codex-serve's own time (`overhead`) on it.
    pub(crate) fn socket_turn(
        app: Arc<App>,
        id: String,
        model: String,
        started: Instant,
        ttfb: Duration,
        overhead: Duration,
        tokens: Option<(u64, u64)>,
    ) -> Line {
        Line {
            id,
            method: "WS".into(),
            path: "/v1/responses".into(),
            model: Some(model),
            status: 200,
            transport: "websocket",
            stream: true,
            started,
            ttfb,
            overhead,
            tokens,
            tally: Tally::default(),
            app,
        }
    }

    pub(crate) fn emit(self, complete: bool) {
        let (prompt_tokens, completion_tokens) = self.tokens.or(self.tally.tokens()).unzip();
        let limits = self.app.codex.rate_limits();
        let left = |w: Option<&codex_client::limits::RateLimitWindow>| {
            w.map(|w| (100.0 - w.used_percent).clamp(0.0, 100.0))
        };
        let limit_left_pct = left(limits.as_ref().and_then(|l| l.primary.as_ref()));
        let weekly_left_pct = left(limits.as_ref().and_then(|l| l.secondary.as_ref()));
        tracing::info!(
            request_id = %self.id,
            method = %self.method,
            route = %self.path,
            model = self.model.as_deref().unwrap_or("-"),
            status = self.status,
            transport = self.transport,
            stream = self.stream,
            upstream_ttfb_ms = ms(self.ttfb),
            total_ms = ms(self.started.elapsed()),
            overhead_ms = ms(self.overhead),
            prompt_tokens,
            completion_tokens,
            limit_left_pct,
            weekly_left_pct,
            complete,
            "request"
        );
    }
}

struct Logged {
    inner: Body,
    line: Option<Line>,
}

impl HttpBody for Logged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            if let Some(line) = self.line.take() {
                line.emit(true);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            // hyper drops a body of known length once it sent it all, without polling past the end; a
            // body dropped before its end is a client that left.
            let complete = self.inner.is_end_stream();
            line.emit(complete);
        }
    }
}
