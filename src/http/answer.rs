//! A driven answer as an HTTP response: the driver's byte stream as the body, with its content type.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::Stream;

/// A `200` whose body is `chunks`, not cached by proxies.
pub(crate) fn streamed(
    chunks: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    content_type: &'static str,
) -> Response {
    let mut resp = Response::new(Body::from_stream(chunks));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
