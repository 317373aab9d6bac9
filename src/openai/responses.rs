//! The Responses API: `POST /v1/responses` (SSE or one object), `GET`/`DELETE /v1/responses/{id}`,
//! `POST /v1/responses/compact`, and WebSocket mode on `GET /v1/responses`.
//!
//! One [`Turn`] drives every form: it pulls the backend's events, makes each one schema-valid where the
//! backend's objects are thinner than OpenAI's published ones (sequence numbers, full response objects,
//! `logprobs` on text), tracks the output, and on a clean finish keeps the conversation for
//! `previous_response_id`. Events are JSON values here on purpose: this route promises OpenAI's event
//! objects, including fields codex-serve does not interpret.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use codex_client::request::CompactRequest;
use codex_client::request::InputItem;
use codex_client::{CodexError, ResponseEvent, ResponseStream, StreamEvent};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::OwnedSemaphorePermit;

use super::response_store::replay_item;
use super::responses_request::{bad, instructions, items, CreateResponse, Echo, Lookup};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};

/// One response in flight: the backend's events in, OpenAI's events out.
pub struct Turn {
    app: Arc<App>,
    upstream: ResponseStream,
    /// `None` for a turn answered locally (`generate: false`).
    _slot: Option<OwnedSemaphorePermit>,
    echo: Echo,
    model: String,
    created_at: i64,
    id: Option<String>,
    seq: u64,
    /// The conversation so far, to keep when this turn finishes cleanly; `None` with `store: false`
    /// outside a WebSocket.
    history: Option<Vec<InputItem>>,
    /// Keep the finished conversation in the store (`store` was not false).
    store: bool,
    /// The finished response's id and conversation, for the socket that ran it.
    finished: Option<(String, Arc<Vec<InputItem>>)>,
    output: BTreeMap<u32, Value>,
    /// Item ids and function names by output index, for events that leave them out.
    item_ids: HashMap<u32, String>,
    names: HashMap<u32, String>,
    last_index: u32,
    /// The backend's own error code and message of a `response.failed`, before mapping to the schema.
    failure: Option<(String, String)>,
    done: bool,
}

impl Turn {
    /// Checks, translates and sends the request; the turn then yields its events.
    pub async fn start(
        app: Arc<App>,
        mut req: CreateResponse,
        session: Option<&str>,
        socket_last: Option<&(String, Arc<Vec<InputItem>>)>,
    ) -> Result<Turn, ApiError> {
        app.fill_model(&mut req.model);
        let on_socket = socket_last.is_some();
        let lookup = Lookup {
            app: &app,
            socket_last: socket_last
                .filter(|(id, _)| !id.is_empty())
                .map(|(id, items)| (id.as_str(), items.as_slice())),
        };
        let prepared = req.translate(&lookup, session)?;
        if let Some(effort) = prepared.effort {
            app.check_effort(&prepared.request.model, effort).await?;
        }
        let model = prepared.request.model.clone();
        let history = (prepared.remember || on_socket).then(|| {
            let mut h = prepared.history_prefix.clone();
            h.extend(prepared.request.input.iter().cloned());
            h
        });
        let (slot, upstream) = if prepared.generate {
            let slot = app.upstream.acquire().await?;
            (Some(slot), app.codex.stream(prepared.request).await?)
        } else {
            // The client's prewarm (`generate: false`) prewarms its conversation's upstream socket
            // too, in the background: the answer here needs nothing from the backend.
            let (codex, req) = (app.clone(), prepared.request);
            tokio::spawn(async move {
                if let Err(e) = codex.codex.prewarm(req).await {
                    tracing::debug!(error = %e, "the upstream prewarm failed");
                }
            });
            (None, ResponseStream::local(no_generation()))
        };
        Ok(Turn {
            app,
            upstream,
            _slot: slot,
            echo: prepared.echo,
            model,
            created_at: unix_now(),
            id: None,
            seq: 0,
            history,
            store: prepared.remember,
            finished: None,
            output: BTreeMap::new(),
            item_ids: HashMap::new(),
            names: HashMap::new(),
            last_index: 0,
            failure: None,
            done: false,
        })
    }

    /// The next event, schema-valid; `None` after the last one. An `Err` ends the turn.
    pub async fn next(&mut self) -> Option<Result<Value, ApiError>> {
        if self.done {
            return None;
        }
        loop {
            let ev = match self.upstream.next().await {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
                Some(Ok(ev)) => ev,
            };
            let Some(mut value) = ev.value().filter(Value::is_object) else {
                continue;
            };
            // The backend's own `codex.*` events (rate limits, metadata) are not Responses API events.
            if value["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("codex."))
            {
                continue;
            }
            let terminal = ev.event.is_terminal();
            self.normalize(&mut value);
            if terminal {
                self.done = true;
                if matches!(ev.event, ResponseEvent::Completed { .. }) {
                    self.remember(&value);
                }
            }
            return Some(Ok(value));
        }
    }

    /// The response id and conversation of a turn that completed, once.
    pub fn take_finished(&mut self) -> Option<(String, Arc<Vec<InputItem>>)> {
        self.finished.take()
    }

    /// The sequence number the next event (or an error of ours) gets.
    pub fn next_sequence(&self) -> u64 {
        self.seq
    }

    fn id(&mut self, from_backend: Option<&str>) -> String {
        if self.id.is_none() {
            self.id = Some(
                from_backend
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("resp_{}", uuid::Uuid::new_v4().simple())),
            );
        }
        self.id.clone().unwrap_or_default()
    }

    fn normalize(&mut self, ev: &mut Value) {
        let kind = ev
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        ev["sequence_number"] = Value::from(self.seq);
        self.seq += 1;

        let index = ev
            .get("output_index")
            .and_then(Value::as_u64)
            .map(|i| i as u32);
        if let Some(i) = index {
            self.last_index = i;
        }
        let index = index.unwrap_or(self.last_index);
        match kind.as_str() {
            "response.output_item.added" | "response.output_item.done" => {
                let done = kind.ends_with("done");
                ev["output_index"] = Value::from(index);
                if let Some(item) = ev.get_mut("item").filter(|i| i.is_object()) {
                    fill_item(item, done);
                    if let Some(id) = item.get("id").and_then(Value::as_str) {
                        self.item_ids.insert(index, id.to_owned());
                    }
                    if let Some(name) = item.get("name").and_then(Value::as_str) {
                        self.names.insert(index, name.to_owned());
                    }
                    if done {
                        self.output.insert(index, item.clone());
                    }
                }
            }
            "response.content_part.added" | "response.content_part.done" => {
                self.locate(ev, index);
                if let Some(part) = ev.get_mut("part") {
                    fill_part(part);
                }
            }
            "response.output_text.delta" | "response.output_text.done" => {
                self.locate(ev, index);
                ev.as_object_mut()
                    .map(|o| o.entry("logprobs").or_insert(Value::Array(Vec::new())));
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                self.locate(ev, index);
                if kind.ends_with("done") {
                    if let (Some(o), Some(name)) = (ev.as_object_mut(), self.names.get(&index)) {
                        o.entry("name").or_insert(Value::String(name.clone()));
                    }
                }
            }
            k if k.starts_with("response.reasoning_summary")
                || k.starts_with("response.reasoning_text") =>
            {
                self.locate(ev, index);
                if let Some(o) = ev.as_object_mut() {
                    o.entry("summary_index").or_insert(Value::from(0));
                }
            }
            _ => {}
        }
        let status = match kind.as_str() {
            "response.completed" => "completed",
            "response.incomplete" => "incomplete",
            "response.failed" => "failed",
            _ => "in_progress",
        };
        if status == "failed" {
            self.map_failure(ev);
        }
        if let Some(resp) = ev.get_mut("response") {
            let from_backend = resp.get("id").and_then(Value::as_str).map(str::to_owned);
            let id = self.id(from_backend.as_deref());
            let output = if status == "in_progress" {
                Vec::new()
            } else {
                self.output.values().cloned().collect()
            };
            if let Value::Object(r) = resp {
                r.insert("id".into(), Value::String(id));
                self.fill_response(r, status, output);
            }
        }
    }

    /// The published schema allows a fixed set of error codes; the backend's own code is kept in the
    /// message (and in the HTTP error when the client does not stream).
    fn map_failure(&mut self, ev: &mut Value) {
        let Some(err) = ev
            .get_mut("response")
            .and_then(|r| r.get_mut("error"))
            .filter(|e| e.is_object())
        else {
            return;
        };
        let code = err["code"].as_str().unwrap_or("server_error").to_owned();
        let message = err["message"]
            .as_str()
            .unwrap_or("the response failed")
            .to_owned();
        let mapped = match code.as_str() {
            c if RESPONSE_ERROR_CODES.contains(&c) => c,
            "context_length_exceeded" => "invalid_prompt",
            "insufficient_quota" | "usage_not_included" | "usage_limit_reached" => {
                "rate_limit_exceeded"
            }
            _ => "server_error",
        };
        if mapped != code {
            err["code"] = Value::String(mapped.into());
            err["message"] = Value::String(format!("[{code}] {message}"));
        }
        self.failure = Some((code, message));
    }

    /// Events about a part of an item carry the item's id, index and content index.
    fn locate(&self, ev: &mut Value, index: u32) {
        let Some(o) = ev.as_object_mut() else { return };
        o.insert("output_index".into(), Value::from(index));
        if !o.get("item_id").is_some_and(Value::is_string) {
            let id = self
                .item_ids
                .get(&index)
                .cloned()
                .unwrap_or_else(|| format!("item_{index}"));
            o.insert("item_id".into(), Value::String(id));
        }
        o.entry("content_index").or_insert(Value::from(0));
    }

    fn fill_response(&self, r: &mut Map<String, Value>, status: &str, items: Vec<Value>) {
        let missing = |r: &Map<String, Value>, k: &str| r.get(k).is_none_or(Value::is_null);
        r.insert("object".into(), Value::String("response".into()));
        if missing(r, "created_at") {
            r.insert("created_at".into(), Value::from(self.created_at));
        }
        if missing(r, "model") {
            r.insert("model".into(), Value::String(self.model.clone()));
        }
        if missing(r, "status") {
            r.insert("status".into(), Value::String(status.into()));
        }
        let has_output = r
            .get("output")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_output {
            r.insert("output".into(), Value::Array(items));
        }
        if let Some(Value::Array(out)) = r.get_mut("output") {
            for item in out.iter_mut() {
                fill_item(item, true);
            }
        }
        let e = &self.echo;
        let defaults = [
            ("error", Value::Null),
            ("incomplete_details", Value::Null),
            (
                "instructions",
                e.instructions.clone().map_or(Value::Null, Value::String),
            ),
            ("tools", e.tools.clone()),
            ("tool_choice", e.tool_choice.clone()),
            ("parallel_tool_calls", Value::Bool(e.parallel_tool_calls)),
            ("reasoning", e.reasoning.clone()),
            ("text", e.text.clone()),
            (
                "previous_response_id",
                e.previous_response_id
                    .clone()
                    .map_or(Value::Null, Value::String),
            ),
            ("metadata", Value::Object(Map::new())),
            // The backend takes no sampling settings: these are the values it runs with.
            ("temperature", Value::from(1.0)),
            ("top_p", Value::from(1.0)),
            ("presence_penalty", Value::from(0.0)),
            ("frequency_penalty", Value::from(0.0)),
            ("top_logprobs", Value::from(0)),
            ("truncation", Value::String("disabled".into())),
            ("max_output_tokens", Value::Null),
            ("max_tool_calls", Value::Null),
            ("store", Value::Bool(e.store)),
            ("background", Value::Bool(false)),
            (
                "service_tier",
                Value::String(e.service_tier.clone().unwrap_or_else(|| "default".into())),
            ),
            ("safety_identifier", Value::Null),
            (
                "prompt_cache_key",
                e.prompt_cache_key
                    .clone()
                    .map_or(Value::Null, Value::String),
            ),
            ("completed_at", Value::Null),
            // Unknown until the response completes: present and null, as OpenResponses requires.
            ("usage", Value::Null),
        ];
        for (k, v) in defaults {
            if missing(r, k) {
                r.insert(k.into(), v);
            }
        }
        if let Some(Value::Object(reasoning)) = r.get_mut("reasoning") {
            reasoning.entry("effort").or_insert(Value::Null);
            reasoning.entry("summary").or_insert(Value::Null);
        }
        if status == "completed" && r.get("completed_at").is_some_and(Value::is_null) {
            r.insert("completed_at".into(), Value::from(unix_now()));
        }
        if let Some(Value::Object(usage)) = r.get_mut("usage") {
            for (details, fields) in [
                (
                    "input_tokens_details",
                    &["cached_tokens", "cache_write_tokens"][..],
                ),
                ("output_tokens_details", &["reasoning_tokens"][..]),
            ] {
                let d = usage.entry(details).or_insert(Value::Null);
                if !d.is_object() {
                    *d = Value::Object(Map::new());
                }
                if let Value::Object(d) = d {
                    for f in fields {
                        d.entry(*f).or_insert(Value::from(0));
                    }
                }
            }
        }
    }

    fn remember(&mut self, completed: &Value) {
        let Some(mut history) = self.history.take() else {
            return;
        };
        let Some(response) = completed.get("response") else {
            return;
        };
        let Some(id) = response.get("id").and_then(Value::as_str) else {
            return;
        };
        if let Some(out) = response.get("output").and_then(Value::as_array) {
            history.extend(out.iter().filter_map(replay_item));
        }
        let history = Arc::new(history);
        if self.store {
            self.app
                .responses
                .put(id.to_owned(), response.clone(), history.as_ref().clone());
        }
        self.finished = Some((id.to_owned(), history));
    }
}

/// `ResponseErrorCode` in OpenAI's published schema.
const RESPONSE_ERROR_CODES: &[&str] = &[
    "server_error",
    "rate_limit_exceeded",
    "invalid_prompt",
    "data_residency_mismatch",
    "bio_policy",
    "vector_store_timeout",
    "invalid_image",
    "invalid_image_format",
    "invalid_base64_image",
    "invalid_image_url",
    "image_too_large",
    "image_too_small",
    "image_parse_error",
    "image_content_policy_violation",
    "invalid_image_mode",
    "image_file_too_large",
    "unsupported_image_media_type",
    "empty_image_file",
    "failed_to_download_image",
    "image_file_not_found",
];

/// Output items carry an id and a status in OpenAI's objects; text parts carry `logprobs` and
/// `annotations`.
fn fill_item(item: &mut Value, done: bool) {
    let Some(o) = item.as_object_mut() else {
        return;
    };
    let kind = o
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !o.get("id").is_some_and(Value::is_string) {
        let prefix = match kind.as_str() {
            "message" => "msg",
            "compaction" => "cmp",
            "function_call" => "fc",
            "reasoning" => "rs",
            _ => "item",
        };
        o.insert(
            "id".into(),
            Value::String(format!("{prefix}_{}", uuid::Uuid::new_v4().simple())),
        );
    }
    if kind == "message" {
        o.entry("role").or_insert(Value::String("assistant".into()));
    }
    if !matches!(kind.as_str(), "reasoning" | "compaction")
        && o.get("status").is_none_or(Value::is_null)
    {
        let status = if done { "completed" } else { "in_progress" };
        o.insert("status".into(), Value::String(status.into()));
    }
    if kind == "reasoning" {
        o.entry("summary").or_insert(Value::Array(Vec::new()));
    }
    if let Some(Value::Array(parts)) = o.get_mut("content") {
        parts.iter_mut().for_each(fill_part);
    }
}

fn fill_part(part: &mut Value) {
    if part.get("type").and_then(Value::as_str) == Some("output_text") {
        if let Some(p) = part.as_object_mut() {
            p.entry("logprobs").or_insert(Value::Array(Vec::new()));
            p.entry("annotations").or_insert(Value::Array(Vec::new()));
            p.entry("text").or_insert(Value::String(String::new()));
        }
    }
}

/// The events of a request that asks for no generation: created, then completed with no output and
/// no usage. The turn fills in the rest of each response object as for any other.
fn no_generation() -> Vec<StreamEvent> {
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let usage = json!({"input_tokens": 0, "output_tokens": 0, "total_tokens": 0});
    [
        json!({"type": "response.created", "response": {"id": id, "status": "in_progress"}}),
        json!({"type": "response.completed", "response": {"id": id, "status": "completed", "output": [], "usage": usage}}),
    ]
    .into_iter()
    .filter_map(|v| StreamEvent::parse(v.to_string()).ok())
    .collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn error_object(err: &ApiError) -> Value {
    json!({"type": err.kind, "code": err.code, "message": err.message, "param": err.param})
}

// ---- HTTP ----------------------------------------------------------------------------------------------

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut req: CreateResponse = parse_json(&body)?;
    req.client_headers = client_codex_headers(&headers);
    let streaming = req.stream;
    let session = headers.get("x-session-id").and_then(|v| v.to_str().ok());
    let mut clock = UpstreamClock::default();
    let mut turn = clock.time(Turn::start(app, req, session, None)).await?;
    let mut log = RequestLog {
        model: Some(turn.model.clone()),
        ..RequestLog::default()
    };
    if !streaming {
        let response = clock.time(finish(&mut turn)).await?;
        log.upstream = clock.elapsed();
        log.tokens = response["usage"]["input_tokens"]
            .as_u64()
            .zip(response["usage"]["output_tokens"].as_u64());
        let mut resp = Json(response).into_response();
        resp.extensions_mut().insert(log);
        return Ok(resp);
    }
    log.upstream = clock.elapsed();
    let body = futures_util::stream::unfold(turn, |mut turn| async move {
        let frame = match turn.next().await? {
            Ok(ev) => {
                let kind = ev.get("type").and_then(Value::as_str).unwrap_or("message");
                format!("event: {kind}\ndata: {ev}\n\n")
            }
            Err(e) => {
                // OpenAI's error event is flat; OpenResponses nests the same fields under `error`.
                let mut ev = error_object(&e);
                ev["error"] = error_object(&e);
                ev["type"] = Value::String("error".into());
                ev["sequence_number"] = Value::from(turn.next_sequence());
                format!("event: error\ndata: {ev}\n\n")
            }
        };
        Some((Ok::<_, std::io::Error>(Bytes::from(frame)), turn))
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// Runs a turn to its end and returns the final response object; a failure before then is an error.
async fn finish(turn: &mut Turn) -> Result<Value, ApiError> {
    while let Some(ev) = turn.next().await {
        let mut ev = ev?;
        match ev.get("type").and_then(Value::as_str) {
            Some("response.completed" | "response.incomplete") => {
                return Ok(ev
                    .get_mut("response")
                    .map(Value::take)
                    .unwrap_or(Value::Null));
            }
            Some("response.failed") => {
                let (code, message) = turn.failure.clone().unwrap_or_else(|| {
                    (
                        "response_failed".into(),
                        "the Codex backend reported a failed response".into(),
                    )
                });
                return Err(CodexError::Failed { code, message }.into());
            }
            Some("error") => {
                return Err(CodexError::Failed {
                    code: ev["code"].as_str().unwrap_or("upstream_error").to_owned(),
                    message: ev["message"]
                        .as_str()
                        .unwrap_or("the Codex backend reported an error")
                        .to_owned(),
                }
                .into());
            }
            _ => {}
        }
    }
    Err(CodexError::StreamClosed.into())
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
    let _slot = app.upstream.acquire().await?;
    let mut answer = app
        .codex
        .compact(&CompactRequest {
            model: crate::upstream::split_model(&model).0.to_owned(),
            input,
            instructions,
        })
        .await?;
    Ok(Json(compaction_resource(&mut answer)))
}

/// The backend's compaction answer as OpenAI's `response.compaction` object: every backend field kept,
/// the required ones filled.
fn compaction_resource(answer: &mut Value) -> Value {
    let mut out = match answer.take() {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    if !out.get("id").is_some_and(Value::is_string) {
        out.insert(
            "id".into(),
            Value::String(format!("resp_{}", uuid::Uuid::new_v4().simple())),
        );
    }
    out.insert("object".into(), Value::String("response.compaction".into()));
    out.entry("created_at").or_insert(Value::from(unix_now()));
    let output = out.entry("output").or_insert(Value::Array(Vec::new()));
    if let Value::Array(items) = output {
        items.iter_mut().for_each(|i| fill_item(i, true));
    }
    let usage = out.entry("usage").or_insert(Value::Null);
    if !usage.is_object() {
        *usage = json!({"input_tokens": 0, "output_tokens": 0, "total_tokens": 0});
    }
    if let Value::Object(u) = usage {
        for k in ["input_tokens", "output_tokens", "total_tokens"] {
            u.entry(k).or_insert(Value::from(0));
        }
        u.entry("input_tokens_details")
            .or_insert(json!({"cached_tokens": 0, "cache_write_tokens": 0}));
        u.entry("output_tokens_details")
            .or_insert(json!({"reasoning_tokens": 0}));
    }
    Value::Object(out)
}

// ---- WebSocket -----------------------------------------------------------------------------------------

pub async fn websocket(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let session = headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let codex_headers = client_codex_headers(&headers);
    ws.max_message_size(app.max_body_bytes)
        .on_upgrade(move |socket| session_loop(app, socket, session, codex_headers))
}

async fn send_error(socket: &mut WebSocket, err: &ApiError, sequence_number: Option<u64>) -> bool {
    let mut error = error_object(err);
    // OpenResponses' WebSocket error frame requires a code: the error type when there is no finer one.
    if error["code"].is_null() {
        error["code"] = Value::String(err.kind.into());
    }
    let mut frame = json!({"type": "error", "status": err.status.as_u16(), "error": error});
    if let Some(n) = sequence_number {
        frame["sequence_number"] = Value::from(n);
    }
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .is_ok()
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
) {
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
        let mut turn = match Turn::start(app.clone(), req, session.as_deref(), Some(&last)).await {
            Ok(t) => t,
            Err(e) => {
                if !send_error(&mut socket, &e, None).await {
                    return;
                }
                continue;
            }
        };
        loop {
            tokio::select! {
                // The turn first: once it has sent its last event its end is ready at once, and a
                // client's next `response.create` that arrived meanwhile must start a turn, not be
                // refused as a second one.
                biased;
                ev = turn.next() => {
                    let Some(ev) = ev else { break };
                    let sent = match ev {
                        Ok(ev) => socket
                            .send(Message::Text(ev.to_string().into()))
                            .await
                            .is_ok(),
                        Err(e) => send_error(&mut socket, &e, Some(turn.next_sequence())).await,
                    };
                    if !sent {
                        // The client left: dropping the turn cancels the upstream request.
                        return;
                    }
                }
                msg = socket.recv() => match msg {
                    // Dropping the turn cancels the upstream request.
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
