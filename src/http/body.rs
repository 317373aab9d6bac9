//! Request bodies, read once in front of every route that takes one: bounded in size (`--max-body-bytes`)
//! and in time (`--body-read-timeout`), and every way a body can go wrong (too large, too slow, cut short,
//! malformed chunked framing) answered in the route's own error shape. Handlers then get the whole body.
//!
//! The declared `Content-Length` is checked before the body is touched: hyper sends `100 Continue` only
//! when a body is first read, so an `Expect: 100-continue` client with a too-large body gets its 413 at
//! once and never uploads.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;
use crate::core::app::App;

pub(crate) async fn read(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let declared = declared_length(req.headers());
    let chunked = req.headers().contains_key(TRANSFER_ENCODING);
    if !chunked && declared.is_none_or(|n| n == 0) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let max = app.max_body_bytes;
    if declared.is_some_and(|n| n > max as u64) {
        return closing(&path, too_large(max));
    }
    let (parts, body) = req.into_parts();
    let timeout = app.body_read_timeout;
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            closing(&path, too_large(max))
        }
        Ok(Err(e)) => closing(&path, unreadable(&*e)),
        Err(_) => closing(&path, too_slow(timeout)),
    }
}

/// `None` without a header, and for a value hyper would already have refused.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        format!(
            "the request body is larger than this server accepts ({max} bytes, --max-body-bytes)"
        ),
    )
    .with_code("request_too_large")
}

fn too_slow(timeout: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "invalid_request_error",
        format!(
            "the request body did not arrive within {} s (--body-read-timeout); send the whole body at once",
            timeout.as_secs_f64()
        ),
    )
    .with_code("request_timeout")
}

/// A body hyper could not decode: cut short, a bad chunk size, broken chunked framing.
fn unreadable(e: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        why.push_str(": ");
        why.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::invalid(format!(
        "the request body could not be read ({why}); send a complete body matching its Content-Length or chunked framing"
    ))
    .with_code("invalid_body")
}

/// The error in the route's shape, closing the connection: what is left of the body is not read, so
/// nothing else could follow on it.
fn closing(path: &str, err: ApiError) -> Response {
    let mut resp = super::shaped(path, err);
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}
