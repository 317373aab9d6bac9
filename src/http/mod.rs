//! The router and what applies to every route: body limit, request ids, one log line per request, the
//! OpenAI error shape for unknown routes and methods.

pub(crate) mod answer;
pub(crate) mod anthropic;
pub(crate) mod body;
pub(crate) mod error;
pub(crate) mod guard;
pub(crate) mod json;
pub(crate) mod observe;
pub(crate) mod ollama;
pub(crate) mod openai;
pub(crate) mod prewarm;
pub(crate) mod typecheck;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;

use crate::core::app::App;
use error::ApiError;

/// The router for the Unix socket and stdio, whose access control is the socket itself.
pub(crate) fn router(app: Arc<App>, max_body_bytes: usize) -> Router {
    build(app, max_body_bytes, None, "unix")
}

/// The router for `--stdio`: the local one, logged as stdio.
pub(crate) fn stdio_router(app: Arc<App>, max_body_bytes: usize) -> Router {
    build(app, max_body_bytes, None, "stdio")
}

/// The router for TCP listeners: the same routes behind `guard` (Host check, CORS, key).
pub(crate) fn network_router(
    app: Arc<App>,
    max_body_bytes: usize,
    policy: guard::NetworkPolicy,
) -> Router {
    build(app, max_body_bytes, Some(policy), "tcp")
}

fn build(
    app: Arc<App>,
    max_body_bytes: usize,
    policy: Option<guard::NetworkPolicy>,
    transport: observe::Transport,
) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/models", get(openai::models::list))
        .route("/v1/models/{id}", get(openai::models::get))
        .route(
            "/v1/chat/completions",
            // The type check is the handler's: a resent history is checked once (`chat::read`).
            post(openai::completions),
        )
        .route(
            "/v1/responses",
            post(openai::create)
                .layer(middleware::from_fn_with_state(
                    openai::known_fields::RESPONSES_CHECK,
                    typecheck::layer,
                ))
                .get(openai::websocket),
        )
        .route("/v1/responses/compact", post(openai::compact))
        .route(
            "/v1/responses/{id}",
            get(openai::get).delete(openai::delete),
        )
        .route("/v1/codex/limits", get(limits))
        .route(
            "/v1/messages",
            post(anthropic::create).layer(middleware::from_fn_with_state(
                anthropic::known_fields::MESSAGES_CHECK,
                typecheck::layer,
            )),
        )
        .route(
            "/v1/messages/count_tokens",
            post(anthropic::count_tokens).layer(middleware::from_fn_with_state(
                anthropic::known_fields::MESSAGES_CHECK,
                typecheck::layer,
            )),
        )
        .route("/", get(root))
        .route("/api/version", get(ollama::models::version))
        .route("/api/tags", get(ollama::models::tags))
        .route("/api/ps", get(ollama::models::ps))
        .route(
            "/api/show",
            post(ollama::models::show).layer(middleware::from_fn_with_state(
                ollama::known_fields::SHOW_CHECK,
                typecheck::layer,
            )),
        )
        .route(
            "/api/chat",
            post(ollama::chat).layer(middleware::from_fn_with_state(
                ollama::known_fields::CHAT_CHECK,
                typecheck::layer,
            )),
        )
        .route(
            "/api/generate",
            post(ollama::generate).layer(middleware::from_fn_with_state(
                ollama::known_fields::GENERATE_CHECK,
                typecheck::layer,
            )),
        )
        // Only matched routes read bodies; a refusal (unknown route, wrong method) leaves it unread.
        .route_layer(middleware::from_fn_with_state(app.clone(), body::read))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(plain_errors));
    // Inside `observe`, so refusals are logged and carry an id like every other answer.
    let routes = match policy {
        Some(policy) => guard::apply(routes, policy),
        None => routes,
    };
    routes
        .layer(middleware::from_fn_with_state(
            (app.clone(), transport),
            observe::observe,
        ))
        .with_state(app)
}

/// The newest rate-limit snapshot: from an answer, or the usage endpoint when nothing newer is known.
async fn limits(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> Json<serde_json::Value> {
    let limits = app.codex.rate_limits_now().await;
    Json(serde_json::json!({"object": "codex.rate_limits", "limits": limits}))
}

/// Also how requests reach the backend now, and the upstream WebSockets open (for `status`).
async fn healthz(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> Json<serde_json::Value> {
    let s = app.codex.upstream_sockets();
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "upstream": {
            "transport": app.codex.transport_status(),
            "sockets": {"open": s.busy + s.idle, "busy": s.busy, "idle": s.idle, "opened": s.opened},
        },
    }))
}

/// Some clients (Ollama's among them) check that a server answers at its root.
async fn root() -> &'static str {
    concat!(
        "codex-serve ",
        env!("CARGO_PKG_VERSION"),
        " is running: OpenAI, Ollama and Anthropic APIs\n"
    )
}

/// An error in the shape of the protocol the path belongs to: Ollama's under `/api/`, Anthropic's under
/// `/v1/messages`, OpenAI's elsewhere.
pub(crate) fn shaped(path: &str, err: ApiError) -> Response {
    if path.starts_with("/api/") {
        ollama::error::OllamaError(err).into_response()
    } else if is_anthropic(path) {
        anthropic::error::AnthropicError(err).into_response()
    } else {
        err.into_response()
    }
}

pub(crate) fn is_anthropic(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    let resp = shaped(
        path,
        ApiError::not_found(&format!("{} {path}", req.method())),
    );
    closing_if_unread(req.headers(), resp)
}

/// An answer given without reading the request's body: hyper then closes the connection, so say so, or a
/// client reusing it would see its next request fail.
pub(crate) fn closing_if_unread(req: &axum::http::HeaderMap, mut resp: Response) -> Response {
    use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
    let has_body = req.contains_key(TRANSFER_ENCODING)
        || req
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    if has_body {
        resp.headers_mut()
            .insert(CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    resp
}

async fn method_not_allowed(req: Request) -> Response {
    let path = req.uri().path();
    let err = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{} is not allowed on {path}", req.method()),
    )
    .with_code("method_not_allowed");
    closing_if_unread(req.headers(), shaped(path, err))
}

/// axum's own refusals (an extractor's rejection, a WebSocket upgrade that is not one) are plain text;
/// clients expect their protocol's error shape, so any 4xx that is not JSON is given it, keeping its text.
async fn plain_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if !resp.status().is_client_error() || is_json(&resp) {
        return resp;
    }
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    // Rejection texts are one line; never buffer more than a little of whatever this is.
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_owned()
    } else {
        text
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        _ => "invalid_request",
    };
    let mut shaped = shaped(
        &path,
        ApiError::new(status, "invalid_request_error", message).with_code(code),
    );
    for name in [axum::http::header::CONNECTION, axum::http::header::ALLOW] {
        if let Some(v) = parts.headers.get(&name) {
            shaped.headers_mut().insert(name, v.clone());
        }
    }
    shaped
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
