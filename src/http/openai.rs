//! The OpenAI API's routes: `POST /v1/chat/completions` (translate, prepare, drive, answer as one
//! object or as chunks), and the Responses API: `POST /v1/responses` (SSE or one object),
//! `GET`/`DELETE /v1/responses/{id}`, `POST /v1/responses/compact`, and WebSocket mode on
//! `GET /v1/responses`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use codex_client::request::{CompactRequest, InputItem};
use serde_json::{json, Value};

// The routes of the OpenAI API that are not driven answers.
use crate::api::openai::chat;
use crate::api::openai::chat::read::Chat;
use crate::api::openai::chat::render::{Framer, Meta, Whole};
use crate::api::openai::responses::answer::{
    socket_error, Frames, Sse, Streamed, SSE_CONTENT_TYPE,
};
use crate::api::openai::responses::render::compaction_resource;
use crate::api::openai::responses::translate::{instructions, items};
use crate::api::openai::responses::turn::ResponseTurn;
use crate::api::openai::responses::wire::CreateResponse;
pub(crate) mod models;

pub(crate) use crate::api::openai::known_fields;
use crate::core::app::App;
use crate::core::driver::{self, Drive, Folded};
use crate::core::error::{bad, ApiError};
use crate::core::exchange::Exchange;
use crate::core::piece::Render;
use crate::core::prepare::{prepare, session_id, split_model};
use crate::core::unix_now;
use crate::http::answer::streamed;
use crate::http::json::parse_json;
use crate::http::observe::{Line, RequestId, RequestLog, UpstreamClock};

pub async fn completions(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Chat {
        plan,
        streaming,
        include_usage,
    } = chat::read::read(&app, body, session_id(&headers).as_deref())?;
    let mut clock = UpstreamClock::default();
    let t = clock.time(prepare(&app, plan)).await?;
    let exchange = clock.time(Exchange::begin(&app, t.request)).await?;
    let meta = Meta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: unix_now(),
        model: t.model,
    };
    let mut log = RequestLog {
        model: Some(meta.model.clone()),
        ..RequestLog::default()
    };
    let mut resp = if streaming {
        let framer = Framer {
            meta,
            include_usage,
        };
        streamed(
            driver::stream(app, exchange, Folded::render(framer)),
            <Framer as Render>::CONTENT_TYPE,
        )
    } else {
        let completion = clock
            .time(driver::collect(
                &app,
                exchange,
                Folded::gather(Whole::new(meta)),
            ))
            .await?;
        log.tokens = completion
            .usage
            .as_ref()
            .map(|u| (u.prompt_tokens, u.completion_tokens));
        axum::Json(completion).into_response()
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

// ---- Responses -----------------------------------------------------------------------------------------

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut req: CreateResponse = parse_json(&body)?;
    req.client_headers = client_codex_headers(&headers);
    let streaming = req.stream;
    let session = session_id(&headers);
    let mut clock = UpstreamClock::default();
    let (turn, exchange) = clock
        .time(ResponseTurn::start(
            app.clone(),
            req,
            session.as_deref(),
            None,
        ))
        .await?;
    let mut log = RequestLog {
        model: Some(turn.model().to_owned()),
        ..RequestLog::default()
    };
    let mut resp = if streaming {
        streamed(
            driver::stream(app, exchange, Streamed::<Sse>::new(turn)),
            SSE_CONTENT_TYPE,
        )
    } else {
        let response = clock.time(driver::collect(&app, exchange, turn)).await?;
        log.tokens = response["usage"]["input_tokens"]
            .as_u64()
            .zip(response["usage"]["output_tokens"].as_u64());
        Json(response).into_response()
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("No response with id '{id}' is kept by this codex-serve (it may have expired or been stored with store: false)"),
    )
    .with_param("response_id")
    .with_code("response_not_found")
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.responses
        .get(&id)
        .map(|s| Json(s.response.clone()))
        .ok_or_else(|| not_found(&id))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if app.responses.remove(&id) {
        Ok(Json(
            json!({"id": id, "object": "response.deleted", "deleted": true}),
        ))
    } else {
        Err(not_found(&id))
    }
}

#[derive(serde::Deserialize)]
pub struct CompactIn {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    previous_response_id: Option<String>,
}

/// `POST /v1/responses/compact`, passed through to the backend's `/responses/compact`.
pub async fn compact(State(app): State<Arc<App>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: CompactIn = parse_json(&body)?;
    let model = req
        .model
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| bad("model", "`model` is required"))?;
    let (system, new_items) = items(req.input, &app)?;
    let mut input = match &req.previous_response_id {
        Some(id) => app
            .responses
            .get(id)
            .map(|s| s.items.as_ref().clone())
            .ok_or_else(|| {
                bad(
                    "previous_response_id",
                    format!("Previous response with id '{id}' not found"),
                )
                .with_code("previous_response_not_found")
            })?,
        None => Vec::new(),
    };
    input.extend(new_items);
    if input.is_empty() {
        return Err(bad("input", "nothing to compact: `input` is empty"));
    }
    let instructions = instructions(req.instructions, system, &app.defaults.instructions);
    let _slot = app.upstream_limit.acquire().await?;
    let mut answer = app
        .codex
        .compact(&CompactRequest {
            model: split_model(&model).0.to_owned(),
            input,
            instructions,
        })
        .await?;
    Ok(Json(compaction_resource(&mut answer)))
}

pub async fn websocket(
    State(app): State<Arc<App>>,
    id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let socket_id = id
        .map(|axum::Extension(RequestId(id))| id)
        .unwrap_or_default();
    let session = session_id(&headers);
    let codex_headers = client_codex_headers(&headers);
    let warm = super::prewarm::conversation_key(&headers);
    ws.max_message_size(app.max_body_bytes)
        .on_upgrade(move |socket| {
            if let Some(key) = warm {
                super::prewarm::open_ahead(&app, key, codex_headers.clone());
            }
            session_loop(app, socket, session, codex_headers, socket_id)
        })
}

async fn send_error(socket: &mut WebSocket, err: &ApiError, sequence_number: Option<u64>) -> bool {
    let frame = socket_error(err, sequence_number);
    socket.send(Message::Text(frame.into())).await.is_ok()
}

/// One conversation per socket: each `response.create` frame runs a turn whose events go back one per
/// frame. Turns chain through `previous_response_id` like HTTP requests do; the socket's own last
/// response is kept for that whatever `store` said, as the backend does. A Close frame is answered with
/// a Close (RFC 6455), also while a turn is running, which then stops.
async fn session_loop(
    app: Arc<App>,
    mut socket: WebSocket,
    session: Option<String>,
    codex_headers: Vec<(String, String)>,
    socket_id: String,
) {
    let mut turns = 0u64;
    // Empty id: nothing finished on this socket yet.
    let mut last: (String, Arc<Vec<InputItem>>) = (String::new(), Arc::new(Vec::new()));
    loop {
        let text = match socket.recv().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) => return close(socket).await,
            None | Some(Err(_)) => return,
            // Binary frames are not part of the protocol.
            Some(Ok(Message::Binary(_))) => {
                if !send_error(
                    &mut socket,
                    &ApiError::invalid("send JSON text frames"),
                    None,
                )
                .await
                {
                    return;
                }
                continue;
            }
            // Pings are answered by the library.
            Some(Ok(_)) => continue,
        };
        let req = match parse_create(text.as_bytes()) {
            Ok(mut r) => {
                r.client_headers.clone_from(&codex_headers);
                r
            }
            Err(e) => {
                if !send_error(&mut socket, &e, None).await {
                    return;
                }
                continue;
            }
        };
        turns += 1;
        let started = Instant::now();
        let mut clock = UpstreamClock::default();
        let start = ResponseTurn::start(app.clone(), req, session.as_deref(), Some(&last));
        let (turn, exchange) = match clock.time(start).await {
            Ok(t) => t,
            Err(e) => {
                if !send_error(&mut socket, &e, None).await {
                    return;
                }
                continue;
            }
        };
        // codex-serve's own time on this turn: until its first event, less the backend's wait.
        let overhead = started.elapsed().saturating_sub(clock.elapsed());
        let model = turn.model().to_owned();
        let log = |turn: &ResponseTurn, complete: bool| {
            let id = format!("{socket_id}-{turns}");
            let line = Line::socket_turn(
                app.clone(),
                id,
                model.clone(),
                started,
                clock.elapsed(),
                overhead,
                turn.tokens(),
            );
            line.emit(complete);
        };
        let mut drive = Drive::new(app.clone(), exchange, Streamed::<Frames>::new(turn));
        loop {
            tokio::select! {
                // The turn first: once it has sent its last event its end is ready at once, and a
                // client's next `response.create` that arrived meanwhile must start a turn, not be
                // refused as a second one.
                biased;
                frames = drive.next() => {
                    let Some(frames) = frames else { break };
                    for frame in frames {
                        if socket.send(Message::Text(frame.into())).await.is_err() {
                            // The client left: dropping the drive cancels the upstream request.
                            log(&drive.answer_mut().turn, false);
                            return;
                        }
                    }
                }
                msg = socket.recv() => match msg {
                    // Dropping the drive cancels the upstream request.
                    Some(Ok(Message::Close(_))) => return close(socket).await,
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                        let busy = ApiError::new(
                            StatusCode::CONFLICT,
                            "invalid_request_error",
                            "a response is already in progress on this socket: send the next response.create after it completes",
                        )
                        .with_code("conversation_already_has_active_response");
                        if !send_error(&mut socket, &busy, None).await {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        let turn = &mut drive.answer_mut().turn;
        log(turn, true);
        if let Some(done) = turn.take_finished() {
            last = done;
        }
    }
}

/// The client's `x-codex-*` headers (the codex CLI's), at most 32, to pass on upstream.
fn client_codex_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-codex-"))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .take(32)
        .collect()
}

/// Answers the client's Close frame: the library has queued the echo of its code, which this sends.
async fn close(mut socket: WebSocket) {
    let _ = socket.send(Message::Close(None)).await;
    let _ = futures_util::SinkExt::close(&mut socket).await;
}

/// A `{"type":"response.create", ...}` frame; the request fields may also sit under `response`.
fn parse_create(bytes: &[u8]) -> Result<CreateResponse, ApiError> {
    let mut v: Value = parse_json(bytes)?;
    if v.get("type").and_then(Value::as_str) != Some("response.create") {
        return Err(bad("type", "expected a frame of type \"response.create\""));
    }
    if let Some(Value::Object(inner)) = v.get_mut("response").map(Value::take) {
        v = Value::Object(inner);
    } else if let Value::Object(o) = &mut v {
        o.remove("type");
    }
    serde_json::from_value(v)
        .map_err(|e| ApiError::invalid(format!("invalid response.create: {e}")))
}
