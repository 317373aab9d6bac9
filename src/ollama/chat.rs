//! `POST /api/chat` and `POST /api/generate`: translate, call the backend, answer as NDJSON lines (the
//! default) or as one object (`"stream": false`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codex_client::request::{InputItem, Reasoning, Tool};
use codex_client::{CodexError, ResponseEvent, ResponsesRequest, Usage};
use serde_json::Value;

use super::error::{ErrorLine, OllamaError};
use super::request::{
    conversation, prompt_input, tools, ChatRequest, Format, GenerateRequest, ThinkPlan,
};
use super::resolve_model;
use super::response::{
    AssistantMessage, ChatLine, GenerateLine, Metrics, ToolCall, ToolCallFunction,
};
use crate::app::App;
use crate::fold::{FinishReason, Folder, Piece};
use crate::http::error::ApiError;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};
use crate::reasoning_cache::Turn;
use crate::upstream::{
    arguments_object, check_model, choose_effort, derived_cache_key, failure_error, Exchange,
};

pub async fn chat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OllamaError> {
    let started = Instant::now();
    let mut req: ChatRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    let messages = req.messages.unwrap_or_default();
    if messages.is_empty() {
        return loaded(&app, &req.model, req.keep_alive.as_ref(), false).await;
    }
    let plan = ThinkPlan::of(req.think.as_ref())?;
    let conv = conversation(messages)?;
    let input = app.reasoning.restore(conv.input);
    let spec = Spec {
        model: &req.model,
        instructions: conv.instructions,
        input,
        tools: tools(req.tools)?,
        format: req.format.as_ref(),
        plan,
        session: session(&headers),
    };
    let mut clock = UpstreamClock::default();
    let upstream = clock.time(spec.build(&app)).await?;
    let log = RequestLog {
        model: Some(upstream.model.clone()),
        ..RequestLog::default()
    };
    let exchange = clock.time(Exchange::begin(&app, upstream)).await?;
    let answer = Answer::new(req.model, false, plan.show, started);
    let remember = true;
    answer_with_log(
        app,
        exchange,
        answer,
        remember,
        req.stream == Some(false),
        clock,
        log,
    )
    .await
}

pub async fn generate(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OllamaError> {
    let started = Instant::now();
    let mut req: GenerateRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    if req.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid(
            "`suffix` (fill in the middle) is not supported: the Codex backend has no insertion mode",
        )
        .with_param("suffix")
        .into());
    }
    let input = prompt_input(req.prompt.unwrap_or_default(), req.images)?;
    if input.is_empty() {
        return loaded(&app, &req.model, req.keep_alive.as_ref(), true).await;
    }
    let plan = ThinkPlan::of(req.think.as_ref())?;
    let spec = Spec {
        model: &req.model,
        instructions: req.system.into_iter().collect(),
        input,
        tools: Vec::new(),
        format: req.format.as_ref(),
        plan,
        session: session(&headers),
    };
    let mut clock = UpstreamClock::default();
    let upstream = clock.time(spec.build(&app)).await?;
    let log = RequestLog {
        model: Some(upstream.model.clone()),
        ..RequestLog::default()
    };
    let exchange = clock.time(Exchange::begin(&app, upstream)).await?;
    let answer = Answer::new(req.model, true, plan.show, started);
    let remember = false;
    answer_with_log(
        app,
        exchange,
        answer,
        remember,
        req.stream == Some(false),
        clock,
        log,
    )
    .await
}

/// The answer, streamed or whole, carrying what the request log needs.
async fn answer_with_log(
    app: Arc<App>,
    exchange: Exchange,
    answer: Answer,
    remember: bool,
    whole: bool,
    mut clock: UpstreamClock,
    mut log: RequestLog,
) -> Result<Response, OllamaError> {
    let mut resp = if whole {
        clock
            .time(collect(&app, exchange, answer, remember))
            .await?
    } else {
        ndjson(app, exchange, answer, remember)
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A request with nothing to answer loads (or, with `keep_alive: 0`, unloads) the model in Ollama. There
/// is nothing to load here; the answer is Ollama's, at once (a 404 for a model the catalog lacks).
async fn loaded(
    app: &App,
    model: &str,
    keep_alive: Option<&Value>,
    generate: bool,
) -> Result<Response, OllamaError> {
    if model.trim().is_empty() {
        return Err(ApiError::invalid("model is required")
            .with_param("model")
            .into());
    }
    check_model(app, model, resolve_model(model).0).await?;
    let unload = keep_alive.is_some_and(|k| k.as_f64() == Some(0.0) || k.as_str() == Some("0"));
    let reason = if unload { "unload" } else { "load" };
    let created_at = now_rfc3339();
    let body = if generate {
        serde_json::to_value(GenerateLine {
            model,
            created_at: &created_at,
            response: "",
            thinking: None,
            done: true,
            done_reason: Some(reason),
            metrics: Metrics::default(),
        })
    } else {
        serde_json::to_value(ChatLine {
            model,
            created_at: &created_at,
            message: AssistantMessage {
                role: "assistant",
                ..AssistantMessage::default()
            },
            done: true,
            done_reason: Some(reason),
            metrics: Metrics::default(),
        })
    };
    Ok(axum::Json(body.unwrap_or(Value::Null)).into_response())
}

/// Everything a chat or generate request decides about the upstream request.
struct Spec<'a> {
    model: &'a str,
    instructions: Vec<String>,
    input: Vec<InputItem>,
    tools: Vec<Tool>,
    format: Option<&'a Format>,
    plan: ThinkPlan,
    session: Option<String>,
}

impl Spec<'_> {
    async fn build(self, app: &App) -> Result<ResponsesRequest, OllamaError> {
        if self.model.trim().is_empty() {
            return Err(ApiError::invalid("model is required")
                .with_param("model")
                .into());
        }
        if self.input.is_empty() {
            return Err(ApiError::invalid(
                "`messages` holds only system messages: add at least one user message",
            )
            .with_param("messages")
            .into());
        }
        let (slug, named) = resolve_model(self.model);
        // Ollama answers 404 for a model it does not have; so do we, when the backend's catalog lacks it.
        check_model(app, self.model, slug).await?;
        let effort = choose_effort(app, slug, named, self.plan.want).await?;
        let instructions = self.instructions.join("\n\n");
        let instructions = if instructions.trim().is_empty() {
            app.defaults.instructions.clone()
        } else {
            instructions
        };
        let cache_key = self
            .session
            .unwrap_or_else(|| derived_cache_key(slug, &instructions, &self.input));
        let mut req = ResponsesRequest::new(slug, instructions, self.input);
        req.prompt_cache_key = Some(cache_key);
        req.tools = self.tools;
        req.reasoning = Some(Reasoning {
            effort,
            // Summaries nobody will see are not asked for.
            summary: app.defaults.reasoning_summary.filter(|_| self.plan.show),
        });
        req.text = self.format.map(Format::to_text).transpose()?.flatten();
        Ok(req)
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One answer being written: who asked, what it showed, when output began, the calls so far.
struct Answer {
    model: String,
    generate: bool,
    show_thinking: bool,
    started: Instant,
    first_output: Option<Instant>,
    /// Tool calls by the fold's index: id and name until done.
    calls: Vec<(String, String)>,
}

impl Answer {
    fn new(model: String, generate: bool, show_thinking: bool, started: Instant) -> Answer {
        Answer {
            model,
            generate,
            show_thinking,
            started,
            first_output: None,
            calls: Vec::new(),
        }
    }

    fn metrics(&self, usage: Option<Usage>) -> Metrics {
        let end = Instant::now();
        let first = self.first_output.unwrap_or(end);
        Metrics {
            total_duration: Some(nanos(end - self.started)),
            prompt_eval_count: usage.map(|u| u.input_tokens),
            prompt_eval_duration: Some(nanos(first - self.started)),
            eval_count: usage.map(|u| u.output_tokens),
            eval_duration: Some(nanos(end - first)),
        }
    }

    fn done_reason(reason: FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop | FinishReason::ToolCalls => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
        }
    }

    fn tool_call(&self, index: u32, arguments: &str) -> Option<ToolCall> {
        let (id, name) = self.calls.get(index as usize)?;
        Some(ToolCall {
            id: id.clone(),
            function: ToolCallFunction {
                index,
                name: name.clone(),
                arguments: arguments_object(name, arguments),
            },
        })
    }

    /// One line (or the whole answer): text, reasoning, calls, and the end when `finish` is given.
    fn write(
        &self,
        buf: &mut Vec<u8>,
        content: &str,
        thinking: Option<&str>,
        calls: &[ToolCall],
        finish: Option<(FinishReason, Option<Usage>)>,
    ) {
        let created_at = now_rfc3339();
        let thinking = thinking.filter(|t| self.show_thinking && !t.is_empty());
        let (done_reason, metrics) = match finish {
            Some((r, usage)) => (Some(Self::done_reason(r)), self.metrics(usage)),
            None => (None, Metrics::default()),
        };
        let done = finish.is_some();
        let res = if self.generate {
            serde_json::to_writer(
                &mut *buf,
                &GenerateLine {
                    model: &self.model,
                    created_at: &created_at,
                    response: content,
                    thinking,
                    done,
                    done_reason,
                    metrics,
                },
            )
        } else {
            serde_json::to_writer(
                &mut *buf,
                &ChatLine {
                    model: &self.model,
                    created_at: &created_at,
                    message: AssistantMessage {
                        role: "assistant",
                        content,
                        thinking,
                        tool_calls: calls,
                    },
                    done,
                    done_reason,
                    metrics,
                },
            )
        };
        // Serialising plain structs into a Vec cannot fail.
        debug_assert!(res.is_ok());
        buf.push(b'\n');
    }

    /// Notes when output began, and the id and name of each tool call as it starts.
    fn note(&mut self, p: &Piece<'_>) {
        if self.first_output.is_none()
            && matches!(
                p,
                Piece::Content(_) | Piece::Reasoning(_) | Piece::ToolCallStart { .. }
            )
        {
            self.first_output = Some(Instant::now());
        }
        if let Piece::ToolCallStart { index, id, name } = p {
            let i = *index as usize;
            if self.calls.len() <= i {
                self.calls.resize(i + 1, (String::new(), String::new()));
            }
            self.calls[i] = ((*id).to_owned(), (*name).to_owned());
        }
    }

    /// The NDJSON line for one piece, if it makes one.
    fn line(&mut self, buf: &mut Vec<u8>, p: Piece<'_>) {
        self.note(&p);
        match p {
            Piece::Content(t) => self.write(buf, t, None, &[], None),
            Piece::Reasoning(t) if self.show_thinking => self.write(buf, "", Some(t), &[], None),
            Piece::ToolCallDone { index, arguments } if !self.generate => {
                if let Some(call) = self.tool_call(index, arguments) {
                    self.write(buf, "", None, &[call], None);
                }
            }
            Piece::Finish { reason, usage } => {
                self.write(buf, "", None, &[], Some((reason, usage)))
            }
            _ => {}
        }
    }
}

/// The whole answer as one object.
async fn collect(
    app: &App,
    mut upstream: Exchange,
    mut answer: Answer,
    remember: bool,
) -> Result<Response, OllamaError> {
    let mut folder = Folder::default();
    let mut turn = Turn::default();
    let mut content = String::new();
    let mut thinking = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut finish = None;
    while let Some(ev) = upstream.next().await {
        let ev = ev?;
        let mut emit = |p: Piece<'_>| {
            answer.note(&p);
            match p {
                Piece::Content(t) => content.push_str(t),
                Piece::Reasoning(t) => thinking.push_str(t),
                Piece::ToolCallDone { index, arguments } => {
                    calls.extend(answer.tool_call(index, arguments))
                }
                Piece::Finish { reason, usage } => finish = Some((reason, usage)),
                _ => {}
            }
        };
        folder.push(&ev, &mut emit).map_err(failure_error)?;
        turn.observe(&ev);
        if folder.is_done() {
            break;
        }
    }
    let finish = finish.ok_or(CodexError::StreamClosed)?;
    if remember && matches!(finish.0, FinishReason::Stop | FinishReason::ToolCalls) {
        app.reasoning.remember(turn);
    }
    if answer.generate {
        calls.clear();
    }
    let mut buf = Vec::new();
    answer.write(&mut buf, &content, Some(&thinking), &calls, Some(finish));
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    let mut resp = Response::new(Body::from(buf));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(resp)
}

/// Streams one NDJSON line per piece. A failure after the first line is an `{"error": ...}` line, which
/// Ollama's clients raise as an error; the stream then ends without a `done` line.
fn ndjson(app: Arc<App>, exchange: Exchange, answer: Answer, remember: bool) -> Response {
    struct State {
        app: Arc<App>,
        exchange: Exchange,
        answer: Answer,
        folder: Folder,
        turn: Turn,
        remember: bool,
        done: bool,
    }
    let state = State {
        app,
        exchange,
        answer,
        folder: Folder::default(),
        turn: Turn::default(),
        remember,
        done: false,
    };
    let body = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut buf = Vec::new();
            match st.exchange.next().await {
                None => {
                    // Cut short without a clean end: say so.
                    let err = ApiError::from(CodexError::StreamClosed);
                    error_line(&mut buf, &err);
                    st.done = true;
                }
                Some(Err(e)) => {
                    error_line(&mut buf, &ApiError::from(e));
                    st.done = true;
                }
                Some(Ok(ev)) => {
                    let answer = &mut st.answer;
                    let res = st.folder.push(&ev, &mut |p| answer.line(&mut buf, p));
                    st.turn.observe(&ev);
                    if st.remember && matches!(ev, ResponseEvent::Completed { .. }) {
                        st.app.reasoning.remember(std::mem::take(&mut st.turn));
                    }
                    if let Err(f) = res {
                        error_line(&mut buf, &failure_error(f));
                    }
                    st.done = st.folder.is_done();
                }
            }
            if !buf.is_empty() || st.done {
                return Some((Ok::<_, std::io::Error>(Bytes::from(buf)), st));
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

fn error_line(buf: &mut Vec<u8>, err: &ApiError) {
    let line = ErrorLine {
        error: err.message_with_param(),
    };
    let _ = serde_json::to_writer(&mut *buf, &line);
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_text_thinking_calls_and_the_end() {
        let mut a = Answer::new("m:latest".into(), false, true, Instant::now());
        let mut buf = Vec::new();
        a.line(&mut buf, Piece::Reasoning("hmm"));
        a.line(&mut buf, Piece::Content("hi"));
        a.line(
            &mut buf,
            Piece::ToolCallStart {
                index: 0,
                id: "call_1",
                name: "f",
            },
        );
        a.line(
            &mut buf,
            Piece::ToolCallArgs {
                index: 0,
                args: "{\"x\"",
            },
        );
        a.line(
            &mut buf,
            Piece::ToolCallDone {
                index: 0,
                arguments: "{\"x\":1}",
            },
        );
        a.line(
            &mut buf,
            Piece::Finish {
                reason: FinishReason::ToolCalls,
                usage: Some(Usage {
                    input_tokens: 7,
                    output_tokens: 3,
                    ..Usage::default()
                }),
            },
        );
        let lines: Vec<Value> = String::from_utf8(buf)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["message"]["thinking"], "hmm");
        assert_eq!(lines[1]["message"]["content"], "hi");
        assert_eq!(lines[1]["done"], false);
        let call = &lines[2]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["function"]["arguments"]["x"], 1);
        assert_eq!(lines[3]["done"], true);
        assert_eq!(lines[3]["done_reason"], "stop");
        assert_eq!(lines[3]["prompt_eval_count"], 7);
        assert_eq!(lines[3]["eval_count"], 3);
        assert!(lines[3]["total_duration"].is_u64());
        assert_eq!(lines[3]["model"], "m:latest");
    }
}
