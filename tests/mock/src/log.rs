//! What runs before every handler: the full request log, zstd request bodies, the answer to
//! WebSocket upgrades, and (when a test asks) answers compressed the way the client offered.
//!
//! Every request that reaches the mock (on either listener; `/_mock/*` control calls are left out) is logged
//! with its method, path, query, every header in arrival order and its decoded body. A zstd body
//! (`content-encoding: zstd`, as the codex CLI sends) is decompressed here once, so handlers see JSON.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, UPGRADE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;
use serde_json::Value;

use crate::server::detail;
use crate::Shared;

/// Bodies are bounded: nothing a test sends comes near this.
const MAX_BODY: usize = 64 << 20;

/// One request as it arrived.
#[derive(Clone, Debug, Serialize)]
pub struct LoggedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    /// `http` or `https`: the listener it came through.
    pub scheme: String,
    pub method: String,
    pub path: String,
    /// The raw query string, empty when there was none.
    pub query: String,
    /// Lowercase names in arrival order; repeated headers appear once per value.
    pub headers: Vec<(String, String)>,
    /// `content-encoding` as sent (the body below is decoded).
    pub content_encoding: Option<String>,
    /// The decoded body: JSON when it parses, else the text (lossy UTF-8); null when empty.
    pub body: Value,
    /// The status the mock answered.
    pub status: u16,
}

impl LoggedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Which listener a connection came through, set by each listener's router.
#[derive(Clone, Copy)]
pub(crate) struct Scheme(pub(crate) &'static str);

pub(crate) async fn record(
    State((shared, scheme)): State<(Arc<Shared>, Scheme)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_mock/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // Handlers that answer with an origin (the account check) need to know which listener this is.
    parts.extensions.insert(scheme);
    let raw = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(raw) => raw,
        Err(e) => {
            return detail(413, format!("mock: body unreadable or too large: {e}")).into_response()
        }
    };
    let encoding = parts
        .headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let decoded = match encoding.as_deref() {
        Some("zstd") => match zstd::stream::decode_all(raw.as_ref()) {
            Ok(plain) => Bytes::from(plain),
            Err(e) => return detail(400, format!("mock: bad zstd body: {e}")).into_response(),
        },
        _ => raw,
    };
    if encoding.is_some() {
        parts.headers.remove(CONTENT_ENCODING);
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(decoded.len()));
    }
    let body = if decoded.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&decoded)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&decoded).into_owned()))
    };
    let lossy = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    // hyper keeps arrival order by name (all values of a repeated name sit together).
    for (name, value) in &parts.headers {
        headers.push((name.as_str().to_owned(), lossy(value)));
    }
    if let Some(encoding) = &encoding {
        // The decoded request lost its content-encoding; the log keeps what was sent, in place.
        let at = headers
            .iter()
            .position(|(n, _)| n == CONTENT_LENGTH.as_str());
        let entry = (CONTENT_ENCODING.as_str().to_owned(), encoding.clone());
        match at {
            Some(i) => headers.insert(i, entry),
            None => headers.push(entry),
        }
    }
    let accepted = offered(parts.headers.get(ACCEPT_ENCODING));
    let websocket = parts
        .headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let index = {
        let mut state = shared.state();
        let seq = u64::try_from(state.log.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        state.log.push(LoggedRequest {
            seq,
            scheme: scheme.0.to_owned(),
            method: parts.method.as_str().to_owned(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers,
            content_encoding: encoding,
            body,
            status: 0,
        });
        state.log.len() - 1
    };
    let refusal = shared.state().websocket_status;
    let response = match refusal {
        // A refused upgrade: the CLI then falls back to HTTP + SSE.
        Some(status) if websocket => {
            detail(status, "mock: WebSocket transport is not offered").into_response()
        }
        _ => {
            next.run(Request::from_parts(parts, Body::from(decoded)))
                .await
        }
    };
    if let Some(entry) = shared.state().log.get_mut(index) {
        entry.status = response.status().as_u16();
    }
    let compress = shared.state().compress_answers;
    match accepted {
        Some(encoding) if compress && !websocket => compressed(response, encoding).await,
        _ => response,
    }
}

/// The first of `zstd` and `gzip` that the request's `accept-encoding` lists.
fn offered(value: Option<&HeaderValue>) -> Option<&'static str> {
    let value = value?.to_str().ok()?;
    let names: Vec<&str> = value
        .split(',')
        .map(|p| p.split(';').next().unwrap_or("").trim())
        .collect();
    ["zstd", "gzip"].into_iter().find(|e| names.contains(e))
}

/// The whole answer compressed in `encoding`. Mock answers are finite, so buffering them is fine here;
/// this mode is for tests of the client's decoding, not of streaming.
async fn compressed(response: Response, encoding: &'static str) -> Response {
    use std::io::Write as _;
    let (mut parts, body) = response.into_parts();
    let Ok(plain) = axum::body::to_bytes(body, MAX_BODY).await else {
        return detail(500, "mock: answer too large to compress").into_response();
    };
    let packed = match encoding {
        "zstd" => zstd::bulk::compress(&plain, 3).ok(),
        _ => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&plain).ok().and_then(|()| gz.finish().ok())
        }
    };
    let Some(packed) = packed else {
        return detail(500, "mock: could not compress the answer").into_response();
    };
    parts
        .headers
        .insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(packed.len()));
    Response::from_parts(parts, Body::from(packed))
}
