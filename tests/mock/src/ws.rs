//! `GET /responses` upgraded to a WebSocket, as the backend offers it to the codex CLI: each
//! `response.create` text frame is answered with the same scripted replies as `POST /responses`, one event
//! per text frame, after a `codex.rate_limits` event. Each socket keeps its last response (input and
//! output items), so a frame may continue it with `previous_response_id` and only the new items; an id
//! that is not the socket's last response is refused as the backend does. `generate: false` (a prewarm)
//! is answered with an empty completed response. A queued [`crate::MockCodex::drop_websocket_after`]
//! makes the next turn's socket drop (no close frame) after that many events. A scripted status reply
//! becomes the backend's wrapped error frame, `{"type":"error","status":N,"error":{…}}`.
//!
//! The upgrade request is in the mock's log like any request (while [`crate::MockCodex::set_websocket_status`]
//! is `None`); every frame received is in [`crate::MockCodex::ws_frames`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::{self, Fail};
use crate::{now_ms, now_secs, Reply, Shared};

/// Longest frame the mock takes, as generous as its HTTP body limit.
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// One text frame a client sent on an upstream socket.
#[derive(Clone, Debug)]
pub struct WsFrame {
    /// Which socket (1, 2, … in the order they were opened).
    pub connection: u64,
    /// The frame's JSON (a string holding the raw text when it was not JSON).
    pub body: Value,
    /// Its size on the wire, in bytes.
    pub bytes: usize,
    /// When it arrived, in milliseconds since the Unix epoch (the client's own timing fields are
    /// checked against it).
    pub received_ms: u64,
}

/// What one socket remembers of its last response.
#[derive(Default)]
struct Chain {
    last_id: Option<String>,
    /// The full input of the last response, then its output items.
    history: Vec<Value>,
}

pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Fail> {
    server::authorize(&shared, &headers)?;
    server::reject_stale_token(&shared, &headers)?;
    let connection = {
        let mut state = shared.state();
        state.ws_connections += 1;
        state.ws_connections
    };
    Ok(ws
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| serve(shared, connection, socket))
        .into_response())
}

async fn serve(shared: Arc<Shared>, connection: u64, mut socket: WebSocket) {
    let mut chain = Chain::default();
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Close(_) => return,
            _ => continue,
        };
        let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone()));
        shared.state().ws_frames.push(WsFrame {
            connection,
            body: body.clone(),
            bytes: text.len(),
            received_ms: now_ms(),
        });
        match turn(&shared, &mut chain, body, &mut socket).await {
            Ok(true) => {}
            // Dropped on command, or the client went away.
            Ok(false) | Err(()) => return,
        }
    }
}

/// One `response.create`. `Ok(false)`: the socket is to be dropped now.
async fn turn(
    shared: &Shared,
    chain: &mut Chain,
    body: Value,
    socket: &mut WebSocket,
) -> Result<bool, ()> {
    if body.get("type").and_then(Value::as_str) != Some("response.create") {
        let error = wrapped(
            400,
            "invalid_request_error",
            None,
            "Expected a response.create frame.",
        );
        send(socket, &error).await?;
        return Ok(true);
    }
    let previous = body.get("previous_response_id").and_then(Value::as_str);
    let mut input = match previous {
        None => Vec::new(),
        Some(id) if chain.last_id.as_deref() == Some(id) => chain.history.clone(),
        Some(id) => {
            let message = format!("Previous response with id '{id}' not found.");
            let error = wrapped(
                400,
                "invalid_request_error",
                Some("previous_response_not_found"),
                &message,
            );
            send(socket, &error).await?;
            return Ok(true);
        }
    };
    input.extend(
        body.get("input")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let mut request = body.clone();
    request["input"] = Value::Array(input.clone());
    send(socket, &rate_limits()).await?;
    let events = if body.get("generate") == Some(&Value::Bool(false)) {
        prewarm_events(&shared.next_response_id(), &request)
    } else {
        let queued = shared.state().replies.pop_front();
        let reply = match queued {
            Some(reply) => reply,
            None => match server::default_reply(shared, &request).await {
                Ok(reply) => reply,
                Err(fail) => Reply::Status {
                    status: fail.status(),
                    headers: Vec::new(),
                    body: fail.body().to_string(),
                },
            },
        };
        match reply {
            Reply::Sse { chunks, .. } => chunks
                .into_iter()
                .flat_map(|c| {
                    let delay = c.delay_ms;
                    sse_data(&c.bytes).into_iter().map(move |e| (e, delay))
                })
                .collect(),
            Reply::Status { status, body, .. } => {
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let error = match parsed.get("error") {
                    Some(e) => e.clone(),
                    None => {
                        json!({"message": parsed.get("detail").cloned().unwrap_or(Value::String(body))})
                    }
                };
                vec![(
                    json!({"type": "error", "status": status, "error": error}),
                    0,
                )]
            }
            Reply::Hang => std::future::pending().await,
        }
    };
    let drop_after = shared.state().ws_drops.pop_front();
    let mut output = Vec::new();
    let mut finished = None;
    for (n, (event, delay)) in events.into_iter().enumerate() {
        if drop_after == Some(n) {
            return Ok(false);
        }
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == "response.output_item.done" {
            if let Some(item) = event.get("item") {
                output.push(item.clone());
            }
        }
        if kind == "response.completed" {
            finished = event
                .pointer("/response/id")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        send(socket, &event).await?;
    }
    // Only a completed response can be continued, as on the backend.
    if let Some(id) = finished {
        input.extend(output);
        chain.last_id = Some(id);
        chain.history = input;
    } else {
        *chain = Chain::default();
    }
    Ok(true)
}

async fn send(socket: &mut WebSocket, event: &Value) -> Result<(), ()> {
    socket
        .send(Message::Text(event.to_string().into()))
        .await
        .map_err(|_| ())
}

/// The JSON of each `data:` line of an SSE chunk.
fn sse_data(chunk: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(chunk)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

fn wrapped(status: u16, kind: &str, code: Option<&str>, message: &str) -> Value {
    json!({"type": "error", "status": status,
           "error": {"type": kind, "code": code, "message": message}})
}

/// The backend's rate-limit report, sent first on every turn.
fn rate_limits() -> Value {
    let now = now_secs();
    json!({"type": "codex.rate_limits", "plan_type": "plus", "rate_limits": {
        "allowed": true, "limit_reached": false,
        "primary": {"used_percent": 12.5, "window_minutes": 300, "reset_at": now + 3600},
        "secondary": {"used_percent": 40.0, "window_minutes": 10080, "reset_at": now + 3 * 86_400}}})
}

/// A prewarm's answer: a response that generated nothing.
fn prewarm_events(id: &str, request: &Value) -> Vec<(Value, u64)> {
    let model = request.get("model").cloned().unwrap_or(Value::Null);
    let response = |status: &str| {
        json!({"id": id, "object": "response", "created_at": now_secs(), "status": status,
               "model": model, "output": [],
               "usage": {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
                         "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
                         "total_tokens": 0}})
    };
    vec![
        (
            json!({"type": "response.created", "response": response("in_progress")}),
            0,
        ),
        (
            json!({"type": "response.completed", "response": response("completed")}),
            0,
        ),
    ]
}
