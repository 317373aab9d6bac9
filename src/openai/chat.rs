//! `POST /v1/chat/completions`: translate, call the backend, answer as one object or as chunks.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codex_client::{CodexError, ResponseEvent, Usage};
use futures_util::StreamExt;
use serde::Serialize;

use super::chat_request::ChatRequest;
use crate::app::App;
use crate::fold::{FinishReason, Folder, Piece};
use crate::http::error::ApiError;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};
use crate::reasoning_cache::Turn;
use crate::upstream::{check_model, failure_error, unix_now, Exchange};

pub async fn completions(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut req: ChatRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    let streaming = req.stream;
    let req_model = req.model.clone();
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let session = headers.get("x-session-id").and_then(|v| v.to_str().ok());
    let mut t = req.translate(&app.defaults, session)?;
    t.request.input = app.reasoning.restore(std::mem::take(&mut t.request.input));
    let mut clock = UpstreamClock::default();
    clock.time(check_model(&app, &req_model, &t.model)).await?;
    if let Some(effort) = t.effort {
        clock.time(app.check_effort(&t.model, effort)).await?;
    }
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
    if !streaming {
        let completion = clock.time(collect(&app, exchange, meta)).await?;
        log.upstream = clock.elapsed();
        log.tokens = completion
            .usage
            .as_ref()
            .map(|u| (u.prompt_tokens, u.completion_tokens));
        let mut resp = axum::Json(completion).into_response();
        resp.extensions_mut().insert(log);
        return Ok(resp);
    }
    log.upstream = clock.elapsed();
    let mut resp = sse_response(app, exchange, meta, include_usage);
    resp.extensions_mut().insert(log);
    Ok(resp)
}

struct Meta {
    id: String,
    created: i64,
    model: String,
}

// ---- wire shapes ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ChatUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

impl From<Usage> for ChatUsage {
    fn from(u: Usage) -> Self {
        ChatUsage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: if u.total_tokens > 0 {
                u.total_tokens
            } else {
                u.input_tokens + u.output_tokens
            },
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.input_tokens_details.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: u.output_tokens_details.reasoning_tokens,
            },
        }
    }
}

#[derive(Serialize)]
struct Completion {
    id: String,
    object: &'static str,
    created: i64,
    model: String,
    choices: [Choice; 1],
    usage: Option<ChatUsage>,
}

#[derive(Serialize)]
struct Choice {
    index: u32,
    message: AssistantMessage,
    finish_reason: &'static str,
    logprobs: Option<()>,
}

#[derive(Serialize)]
struct AssistantMessage {
    role: &'static str,
    content: Option<String>,
    refusal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
}

#[derive(Serialize)]
struct ToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall,
}

#[derive(Serialize)]
struct FunctionCall {
    name: String,
    arguments: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<ChatUsage>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a str>,
}

// ---- non-streaming -------------------------------------------------------------------------------------

async fn collect(app: &App, mut upstream: Exchange, meta: Meta) -> Result<Completion, ApiError> {
    let mut folder = Folder::default();
    let mut turn = Turn::default();
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut finish: Option<(FinishReason, Option<Usage>)> = None;
    while let Some(ev) = upstream.next().await {
        let ev = ev?;
        let mut emit = |p: Piece<'_>| match p {
            Piece::Content(t) => content.push_str(t),
            Piece::Reasoning(t) => reasoning.push_str(t),
            Piece::ToolCallStart { id, name, .. } => calls.push(ToolCall {
                id: id.to_owned(),
                kind: "function",
                function: FunctionCall {
                    name: name.to_owned(),
                    arguments: String::new(),
                },
            }),
            Piece::ToolCallArgs { index, args } => {
                if let Some(c) = calls.get_mut(index as usize) {
                    c.function.arguments.push_str(args);
                }
            }
            Piece::Finish { reason, usage } => finish = Some((reason, usage)),
            Piece::ReasoningDone { .. } | Piece::ToolCallDone { .. } => {}
        };
        folder.push(&ev, &mut emit).map_err(failure_error)?;
        turn.observe(&ev);
        if folder.is_done() {
            break;
        }
    }
    if matches!(
        finish,
        Some((FinishReason::Stop | FinishReason::ToolCalls, _))
    ) {
        app.reasoning.remember(turn);
    }
    let (reason, usage) = finish.ok_or(CodexError::StreamClosed)?;
    Ok(Completion {
        id: meta.id,
        object: "chat.completion",
        created: meta.created,
        model: meta.model,
        choices: [Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: (!content.is_empty() || calls.is_empty()).then_some(content),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                tool_calls: calls,
            },
            finish_reason: reason.as_str(),
            logprobs: None,
        }],
        usage: usage.map(ChatUsage::from),
    })
}

// ---- streaming -----------------------------------------------------------------------------------------

/// Writes chunks for one completion.
struct Framer {
    meta: Meta,
    include_usage: bool,
}

impl Framer {
    fn frame(&self, buf: &mut Vec<u8>, choices: &[ChunkChoice<'_>], usage: Option<ChatUsage>) {
        let chunk = Chunk {
            id: &self.meta.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            choices,
            usage,
        };
        // One chunk is a few hundred bytes: reserve once instead of growing from nothing.
        buf.reserve(384);
        buf.extend_from_slice(b"data: ");
        // Serialising plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &chunk);
        buf.extend_from_slice(b"\n\n");
    }

    fn delta(&self, buf: &mut Vec<u8>, delta: Delta<'_>, finish: Option<&'static str>) {
        self.frame(
            buf,
            &[ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            None,
        );
    }

    fn piece(&self, buf: &mut Vec<u8>, p: Piece<'_>) {
        let call = |index, id, kind, name, arguments| Delta {
            tool_calls: Some([ToolCallDelta {
                index,
                id,
                kind,
                function: FunctionDelta { name, arguments },
            }]),
            ..Delta::default()
        };
        match p {
            Piece::Content(t) => self.delta(
                buf,
                Delta {
                    content: Some(t),
                    ..Delta::default()
                },
                None,
            ),
            Piece::Reasoning(t) => self.delta(
                buf,
                Delta {
                    reasoning_content: Some(t),
                    ..Delta::default()
                },
                None,
            ),
            Piece::ToolCallStart { index, id, name } => self.delta(
                buf,
                call(index, Some(id), Some("function"), Some(name), Some("")),
                None,
            ),
            Piece::ToolCallArgs { index, args } => {
                self.delta(buf, call(index, None, None, None, Some(args)), None)
            }
            Piece::Finish { reason, usage } => {
                self.delta(buf, Delta::default(), Some(reason.as_str()));
                if self.include_usage {
                    self.frame(buf, &[], Some(usage.unwrap_or_default().into()));
                }
                buf.extend_from_slice(b"data: [DONE]\n\n");
            }
            Piece::ReasoningDone { .. } | Piece::ToolCallDone { .. } => {}
        }
    }
}

struct ChunkWriter {
    framer: Framer,
    folder: Folder,
    app: Arc<App>,
    turn: Turn,
}

impl ChunkWriter {
    /// Feeds one event; returns the bytes to send and whether the stream is over.
    fn event(&mut self, ev: &ResponseEvent) -> (Vec<u8>, bool) {
        let mut buf = Vec::new();
        let framer = &self.framer;
        let res = self.folder.push(ev, &mut |p| framer.piece(&mut buf, p));
        self.turn.observe(ev);
        if let ResponseEvent::Completed { response } = ev {
            self.app.reasoning.remember(std::mem::take(&mut self.turn));
            let usage = response.usage.unwrap_or_default();
            tracing::info!(
                id = %self.framer.meta.id,
                model = %self.framer.meta.model,
                prompt_tokens = usage.input_tokens,
                completion_tokens = usage.output_tokens,
                "stream finished"
            );
        }
        match res {
            Ok(()) => (buf, self.folder.is_done()),
            Err(f) => {
                error_frame(&mut buf, &failure_error(f));
                (buf, true)
            }
        }
    }
}

fn error_frame(buf: &mut Vec<u8>, err: &ApiError) {
    buf.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut *buf, &err.body());
    buf.extend_from_slice(b"\n\n");
}

/// The stream owns the exchange (and so the upstream slot) until it ends or the client goes away.
fn sse_response(app: Arc<App>, exchange: Exchange, meta: Meta, include_usage: bool) -> Response {
    let writer = ChunkWriter {
        framer: Framer {
            meta,
            include_usage,
        },
        folder: Folder::default(),
        app,
        turn: Turn::default(),
    };
    // The role chunk goes out at once, before the first delta.
    let mut head = Vec::new();
    writer.framer.delta(
        &mut head,
        Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        },
        None,
    );

    let state = (writer, exchange, false);
    let rest = futures_util::stream::unfold(state, |(mut writer, mut upstream, done)| async move {
        if done {
            return None;
        }
        loop {
            match upstream.next().await {
                // Ended without its last event: say so, as the other APIs do.
                None if !writer.folder.is_done() => {
                    let mut buf = Vec::new();
                    error_frame(&mut buf, &ApiError::from(CodexError::StreamClosed));
                    return Some((Ok(Bytes::from(buf)), (writer, upstream, true)));
                }
                None => return None,
                Some(Err(e)) => {
                    let mut buf = Vec::new();
                    error_frame(&mut buf, &ApiError::from(e));
                    return Some((
                        Ok::<_, std::io::Error>(Bytes::from(buf)),
                        (writer, upstream, true),
                    ));
                }
                Some(Ok(ev)) => {
                    let (buf, done) = writer.event(&ev);
                    if buf.is_empty() && !done {
                        continue;
                    }
                    return Some((Ok(Bytes::from(buf)), (writer, upstream, done)));
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(Bytes::from(head)) }).chain(rest);
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
