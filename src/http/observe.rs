//! What every response carries and every request leaves in the log: `x-request-id`, codex-serve's own
//! overhead in `x-codex-serve-overhead-ms`, the latest rate-limit percentages, and one structured line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::App;

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Set by handlers on their response: what the log line and the overhead header need to know.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    pub model: Option<String>,
    /// Time spent waiting on the backend before the response headers went out.
    pub upstream: Duration,
    /// Prompt and completion tokens, when known before the headers (non-streaming answers).
    pub tokens: Option<(u64, u64)>,
}

/// Accumulates time spent waiting on the backend.
#[derive(Debug, Default)]
pub struct UpstreamClock(Duration);

impl UpstreamClock {
    /// Awaits `fut`, counting its time as the backend's.
    pub async fn time<T>(&mut self, fut: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.0 += started.elapsed();
        out
    }

    pub fn elapsed(&self) -> Duration {
        self.0
    }
}

fn header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

pub async fn observe(State(app): State<Arc<App>>, mut req: Request<Body>, next: Next) -> Response {
    crate::memory::request_started();
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
    let mut resp = next.run(req).await;
    let total = started.elapsed();
    let log = resp
        .extensions()
        .get::<RequestLog>()
        .cloned()
        .unwrap_or_default();
    let overhead = total.saturating_sub(log.upstream);

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
    if let Some(snap) = app.codex.rate_limits() {
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
    }
    let (prompt_tokens, completion_tokens) = log.tokens.unzip();
    tracing::info!(
        request_id = %id,
        %method,
        route = %path,
        model = log.model.as_deref().unwrap_or("-"),
        status = resp.status().as_u16(),
        upstream_ttfb_ms = log.upstream.as_secs_f64() * 1000.0,
        total_ms = total.as_secs_f64() * 1000.0,
        overhead_ms = overhead.as_secs_f64() * 1000.0,
        prompt_tokens,
        completion_tokens,
        "request"
    );
    resp
}
