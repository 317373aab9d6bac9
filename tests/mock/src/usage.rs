//! `GET /wham/usage` (and `/backend-api/wham/usage`, `/api/codex/usage`, the paths the codex CLI picks by
//! its base URL): the rate limits and credits of the caller's login, in the backend's shape. Tests script
//! the answer and count the asks.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::server::{authorize, json_response, Answer};
use crate::{now_secs, MockCodex, Shared};

/// What the endpoint answers; `None`: the default below.
#[derive(Default)]
pub(crate) struct UsageScript {
    answer: Option<(u16, Value)>,
    asks: usize,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/wham/usage", get(usage))
        .route("/backend-api/wham/usage", get(usage))
        .route("/api/codex/usage", get(usage))
}

/// A Plus plan with credits, at numbers unlike the rate-limit headers' (12.5 % and 40 %), so tests can
/// tell which source they see.
pub fn default_usage() -> Value {
    let now = now_secs();
    json!({
        "plan_type": "plus",
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": {"used_percent": 20, "limit_window_seconds": 18000,
                               "reset_after_seconds": 3000, "reset_at": now + 3000},
            "secondary_window": {"used_percent": 45, "limit_window_seconds": 604800,
                                 "reset_after_seconds": 200000, "reset_at": now + 200000}
        },
        "credits": {"has_credits": true, "unlimited": false, "balance": "17.25"}
    })
}

async fn usage(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    shared.state().usage.asks += 1;
    authorize(&shared, &headers)?;
    let answer = shared.state().usage.answer.clone();
    let (status, body) = answer.unwrap_or_else(|| (200, default_usage()));
    Ok(json_response(status, &body))
}

impl MockCodex {
    /// How many times the usage endpoint was asked.
    pub fn usage_asks(&self) -> usize {
        self.shared.state().usage.asks
    }

    /// Answer the usage endpoint with `status` and `body` from now on.
    pub fn set_usage(&self, status: u16, body: Value) {
        self.shared.state().usage.answer = Some((status, body));
    }
}
