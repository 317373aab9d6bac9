//! The router and what applies to every route: body limit, request ids, one log line per request, the
//! OpenAI error shape for unknown routes and methods.

pub mod error;
pub mod json;
pub mod observe;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::App;
use crate::openai;
use error::ApiError;

pub fn router(app: Arc<App>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/models", get(openai::models::list))
        .route("/v1/models/{id}", get(openai::models::get))
        .route("/v1/chat/completions", post(openai::chat::completions))
        .route(
            "/v1/responses",
            post(openai::responses::create).get(openai::responses::websocket),
        )
        .route("/v1/responses/compact", post(openai::responses::compact))
        .route(
            "/v1/responses/{id}",
            get(openai::responses::get).delete(openai::responses::delete),
        )
        .route("/v1/codex/limits", get(limits))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(body_errors))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            observe::observe,
        ))
        .with_state(app)
}

/// The latest rate-limit snapshot seen on any answer from the backend.
async fn limits(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({"object": "codex.rate_limits", "limits": app.codex.rate_limits()}))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(&format!("{} {}", req.method(), req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
    .with_code("method_not_allowed")
}

/// axum answers an over-long body with plain text; clients expect OpenAI's error shape.
async fn body_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&resp) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "the request body is larger than this server accepts (--max-body-bytes)",
        )
        .with_code("request_too_large")
        .into_response();
    }
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
