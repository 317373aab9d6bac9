//! The Ollama API's driven routes, `POST /api/chat` and `POST /api/generate`: extract, translate,
//! prepare, drive, answer as NDJSON lines or one object.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

// The routes of the Ollama API that are not driven answers.
use crate::api::ollama::error::OllamaError;
use crate::api::ollama::render::{loaded_line, Answer, Whole};
use crate::api::ollama::resolve_model;
use crate::api::ollama::translate::{conversation, prompt_input, tools, Spec, ThinkPlan};
use crate::api::ollama::wire::{GenerateRequest, OllamaChatRequest};
pub(crate) mod models;

pub(crate) use crate::api::ollama::{error, known_fields};
use crate::core::app::App;
use crate::core::driver::{self, Folded};
use crate::core::error::ApiError;
use crate::core::exchange::Exchange;
use crate::core::piece::Render;
use crate::core::prepare::{check_model, prepare, session_id};
use crate::http::answer::streamed;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};

pub async fn chat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OllamaError> {
    let started = Instant::now();
    let mut req: OllamaChatRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    let messages = req.messages.unwrap_or_default();
    if messages.is_empty() {
        return loaded(&app, &req.model, req.keep_alive.as_ref(), false).await;
    }
    let plan = ThinkPlan::of(req.think.as_ref())?;
    let conv = conversation(messages)?;
    let spec = Spec {
        model: &req.model,
        instructions: conv.instructions,
        input: conv.input,
        tools: tools(req.tools)?,
        format: req.format.as_ref(),
        plan,
        session: session_id(&headers),
    };
    let answer = Answer::new(req.model.clone(), false, plan.show, started);
    drive(app, spec, answer, req.stream == Some(false)).await
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
        session: session_id(&headers),
    };
    let answer = Answer::new(req.model.clone(), true, plan.show, started);
    drive(app, spec, answer, req.stream == Some(false)).await
}

/// Prepares and sends the request; the answer, streamed or whole, carries what the request log needs.
async fn drive(
    app: Arc<App>,
    spec: Spec<'_>,
    answer: Answer,
    whole: bool,
) -> Result<Response, OllamaError> {
    let mut clock = UpstreamClock::default();
    let t = clock.time(prepare(&app, spec.plan()?)).await?;
    let mut log = RequestLog {
        model: Some(t.model),
        ..RequestLog::default()
    };
    let exchange = clock.time(Exchange::begin(&app, t.request)).await?;
    let mut resp = if whole {
        let body = clock
            .time(driver::collect(
                &app,
                exchange,
                Folded::gather(Whole::new(answer)),
            ))
            .await?;
        let mut resp = Response::new(Body::from(body));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp
    } else {
        streamed(
            driver::stream(app, exchange, Folded::render(answer)),
            <Answer as Render>::CONTENT_TYPE,
        )
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

/// A request with nothing to answer: Ollama's answer at once (a 404 for a model the catalog lacks).
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
    Ok(axum::Json(loaded_line(model, keep_alive, generate)).into_response())
}

impl IntoResponse for OllamaError {
    fn into_response(self) -> Response {
        crate::http::error::respond(&self.0, self.line())
    }
}
