//! The neutral [`ApiError`] as an HTTP response: its status, `Retry-After` and `x-should-retry`, with a
//! body in whichever protocol's shape the route speaks.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub(crate) use crate::core::error::ApiError;

/// `err`'s status and retry headers, with `body` as the JSON answer.
pub(crate) fn respond(err: &ApiError, body: impl Serialize) -> Response {
    let mut resp = (err.status, axum::Json(body)).into_response();
    if let Some(after) = err.retry_after {
        if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
    }
    if err.is_final() {
        resp.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        respond(&self, self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_client::CodexError;

    #[test]
    fn a_final_error_says_so_and_when_to_retry() {
        let err: ApiError = CodexError::UsageLimit {
            message: "limit reached".into(),
            plan_type: None,
            resets_at: Some(crate::core::unix_now() + 3600),
            active_limit: None,
        }
        .into();
        let resp = respond(&err, err.body());
        assert_eq!(resp.headers()["x-should-retry"], "false");
        assert!(resp.headers().contains_key("retry-after"));
    }
}
