//! `/_mock/*` endpoints that let out-of-process tests script and inspect the mock.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::server::{detail, json_response, Answer, Fail};
use crate::{events, Chunk, Reply, Shared, TokenReply};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/requests", get(requests))
        .route("/_mock/token_requests", get(token_requests))
        .route("/_mock/reply", post(reply))
        .route("/_mock/token_reply", post(token_reply))
        .route("/_mock/issue_tokens", post(issue_tokens))
        .route("/_mock/reset", post(reset))
        .route("/_mock/connections", get(connections))
        .route("/_mock/log", get(log))
        .route("/_mock/ca", get(ca))
        .route("/_mock/routing", post(routing))
        .route("/_mock/models", post(models))
        .route("/_mock/websocket", post(websocket))
        .route("/_mock/ws_frames", get(ws_frames))
        .route("/_mock/ws_drop", post(ws_drop))
}

/// Every request logged, as `[{seq, scheme, method, path, query, headers: [[name, value]], body, ...}]`.
async fn log(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared.state().log.clone();
    json_response(200, &serde_json::to_value(log).unwrap_or(Value::Null))
}

/// The CA's PEM; 404 when the mock has no https listener.
async fn ca(State(shared): State<Arc<Shared>>) -> Answer {
    let pem = shared.ca_pem.get().cloned();
    let pem = pem.ok_or_else(|| detail(404, "mock: no https listener"))?;
    let mut resp = Response::new(axum::body::Body::from(pem));
    let pem_type = HeaderValue::from_static("application/x-pem-file");
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, pem_type);
    Ok(resp)
}

#[derive(Deserialize)]
struct RoutingSpec {
    #[serde(rename = "override")]
    value: Option<String>,
}

async fn routing(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: RoutingSpec = parse(&body)?;
    shared.state().routing = spec.value;
    Ok(ok())
}

async fn models(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let catalog: Value = parse(&body)?;
    if !catalog.get("models").is_some_and(Value::is_array) {
        return Err(detail(400, "mock: a catalog is {\"models\": [...]}"));
    }
    shared.state().models = Some(catalog);
    Ok(ok())
}

#[derive(Deserialize)]
struct WebsocketSpec {
    status: Option<u16>,
}

async fn websocket(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: WebsocketSpec = parse(&body)?;
    let status = spec.status.map(valid_status).transpose()?;
    shared.state().websocket_status = status;
    Ok(ok())
}

/// Every frame clients sent on upstream sockets: `[{connection, bytes, received_ms, body}]`, and how many sockets
/// were opened.
async fn ws_frames(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state();
    let frames: Vec<Value> = state
        .ws_frames
        .iter()
        .map(|f| json!({"connection": f.connection, "bytes": f.bytes, "received_ms": f.received_ms, "body": f.body}))
        .collect();
    json_response(
        200,
        &json!({"connections": state.ws_connections, "frames": frames}),
    )
}

#[derive(Deserialize)]
struct DropSpec {
    after: usize,
}

/// `{"after": N}`: the next WebSocket turn drops its socket after N events.
async fn ws_drop(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: DropSpec = parse(&body)?;
    shared.state().ws_drops.push_back(spec.after);
    Ok(ok())
}

/// Parse a JSON body whatever its content type (curl's `-d` says form-encoded).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    serde_json::from_slice(body).map_err(|e| detail(400, format!("mock: bad control request: {e}")))
}

fn ok() -> Response {
    json_response(200, &json!({ "ok": true }))
}

/// `[{path, headers: {name: value}, body}]`; repeated headers are joined with ", ".
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state();
    let list = state.requests.iter().map(|r| {
        let mut headers = Map::new();
        for (name, value) in &r.headers {
            let joined = match headers.get(name).and_then(Value::as_str) {
                Some(prev) => format!("{prev}, {value}"),
                None => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
        }
        json!({"path": r.path, "headers": headers, "body": r.body})
    });
    json_response(200, &Value::Array(list.collect()))
}

async fn token_requests(State(shared): State<Arc<Shared>>) -> Response {
    json_response(200, &Value::Array(shared.state().token_requests.clone()))
}

/// A reply as described by a test: `{"kind": "sse" | "status" | "hang" | "raw", ...}`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ReplySpec {
    Sse {
        events: Vec<Value>,
        #[serde(default)]
        headers: BTreeMap<String, Value>,
    },
    Status {
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, Value>,
        #[serde(default)]
        body: Value,
    },
    Hang,
    Raw {
        chunks: Vec<RawChunk>,
        #[serde(default)]
        headers: BTreeMap<String, Value>,
    },
}

#[derive(Deserialize)]
struct RawChunk {
    text: String,
    #[serde(default)]
    delay_ms: u64,
}

/// A JSON value as header or body text: strings as they are, anything else as JSON.
fn as_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn header_list(headers: BTreeMap<String, Value>) -> Result<Vec<(String, String)>, Fail> {
    let check = |(name, value): (String, Value)| {
        let value = as_text(value);
        let valid = HeaderName::try_from(name.as_str()).is_ok()
            && HeaderValue::try_from(value.as_str()).is_ok();
        let invalid = || detail(400, format!("mock: invalid header {name:?}"));
        valid.then_some((name.clone(), value)).ok_or_else(invalid)
    };
    headers.into_iter().map(check).collect()
}

fn valid_status(status: u16) -> Result<u16, Fail> {
    let invalid = || detail(400, format!("mock: invalid status {status}"));
    StatusCode::from_u16(status)
        .map(|_| status)
        .map_err(|_| invalid())
}

async fn reply(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: ReplySpec = parse(&body)?;
    let reply = match spec {
        ReplySpec::Sse { events, headers } => Reply::Sse {
            headers: header_list(headers)?,
            chunks: events
                .iter()
                .map(|e| Chunk::now(events::sse_frame(e)))
                .collect(),
        },
        ReplySpec::Status {
            status,
            headers,
            body,
        } => Reply::Status {
            status: valid_status(status)?,
            headers: header_list(headers)?,
            body: as_text(body),
        },
        ReplySpec::Hang => Reply::Hang,
        ReplySpec::Raw { chunks, headers } => Reply::Sse {
            headers: header_list(headers)?,
            chunks: chunks
                .into_iter()
                .map(|c| Chunk::delayed(c.text, c.delay_ms))
                .collect(),
        },
    };
    shared.state().replies.push_back(reply);
    Ok(ok())
}

/// `{"kind": "ok"}` or `{"kind": "status", "status": 401, "body": {...}}`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TokenReplySpec {
    Ok,
    Status { status: u16, body: Value },
}

async fn token_reply(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: TokenReplySpec = parse(&body)?;
    let reply = match spec {
        TokenReplySpec::Ok => TokenReply::Ok,
        TokenReplySpec::Status { status, body } => TokenReply::Status {
            status: valid_status(status)?,
            body,
        },
    };
    shared.state().token_replies.push_back(reply);
    Ok(ok())
}

#[derive(Deserialize)]
struct IssueSpec {
    account_id: String,
    #[serde(default = "one_hour")]
    exp_in_secs: i64,
}

fn one_hour() -> i64 {
    3600
}

async fn issue_tokens(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let spec: IssueSpec = parse(&body)?;
    let tokens = shared.state().mint(&spec.account_id, spec.exp_in_secs);
    Ok(json_response(200, &json!(tokens)))
}

/// The body (clients send `{}`) is read, though unused: a response sent before its request body was read
/// makes hyper close the connection, and a client reusing it fails its next request.
async fn reset(State(shared): State<Arc<Shared>>, _body: Bytes) -> Response {
    shared.state().reset();
    ok()
}

async fn connections(State(shared): State<Arc<Shared>>) -> Response {
    let open = shared.connections.load(Ordering::SeqCst);
    json_response(200, &json!({ "open": open }))
}
