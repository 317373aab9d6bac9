//! Every error a client sees, protocol-neutral: status, type, code, message, the field it is about and
//! when to retry. OpenAI's shape (`{"error":{"message","type","param","code"}}`) is [`ApiError::body`];
//! the other APIs render the same error in theirs; `crate::http::error` turns it into a response.

use std::time::{Duration, UNIX_EPOCH};

use codex_client::{AuthError, CodexError};
use http::StatusCode;
use serde::Serialize;

use super::unix_now;

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kind: &'static str,
    pub(crate) param: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) error: ErrorObject<'a>,
}

#[derive(Serialize)]
pub(crate) struct ErrorObject<'a> {
    pub(crate) message: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    pub(crate) param: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub(crate) fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub(crate) fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Unknown request URL: {what}"),
        )
        .with_code("unknown_url")
    }

    pub(crate) fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorObject {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code.as_deref(),
            },
        }
    }

    /// The message with the field it is about, for error shapes that have no `param`.
    pub(crate) fn message_with_param(&self) -> String {
        match &self.param {
            Some(p) if !self.message.contains(p.as_str()) => format!("{} (at `{p}`)", self.message),
            _ => self.message.clone(),
        }
    }

    /// Whether retrying the same request cannot help: a refused request, a model this login cannot
    /// use, or a usage limit (it resets in hours, and `Retry-After` says when). SDKs honour
    /// `x-should-retry: false` and report at once instead of sleeping through `Retry-After`.
    pub(crate) fn is_final(&self) -> bool {
        match self.status.as_u16() {
            // Timeouts and conflicts may pass on a second try; a plain rate limit waits a moment.
            408 | 409 => false,
            429 => matches!(
                self.code.as_deref(),
                Some("usage_limit_reached" | "usage_not_included" | "insufficient_quota")
            ),
            400..=499 => true,
            _ => false,
        }
    }
}

/// A 400 about one field of the request.
pub(crate) fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).with_param(param)
}

/// "in 2h 5m (at 2026-11-25T12:00:00Z)": when a limit resets, for people.
pub(crate) fn describe_reset(resets_at: i64, now: i64) -> String {
    let secs = (resets_at - now).max(0) as u64;
    let at = UNIX_EPOCH + Duration::from_secs(resets_at.max(0) as u64);
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    let rel = match (h, m) {
        (0, 0) => format!("{}s", secs.max(1)),
        (0, m) => format!("{m}m"),
        (h, m) if h < 48 => format!("{h}h {m}m"),
        (h, _) => format!("{}d {}h", h / 24, h % 24),
    };
    format!("in {rel} (at {})", humantime::format_rfc3339_seconds(at))
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::NotLoggedIn { .. }
            | AuthError::InKeyring { .. }
            | AuthError::Unreadable { .. } => "codex_login_required",
            AuthError::LoginExpired { .. } => "codex_login_expired",
            AuthError::KeyRejected => "invalid_api_key",
            // The token could not be renewed right now; the login itself may be fine.
            AuthError::RefreshUnavailable(_) => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication_error",
                    format!("{e}; retry shortly, and run `codex login` if this persists"),
                )
                .with_code("codex_refresh_failed")
            }
            AuthError::Write { .. } => {
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    e.to_string(),
                )
                .with_code("codex_auth_write_failed")
            }
        };
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            e.to_string(),
        )
        .with_code(code)
    }
}

impl From<CodexError> for ApiError {
    fn from(e: CodexError) -> Self {
        let now = unix_now();
        match e {
            CodexError::Auth(a) => a.into(),
            CodexError::UsageLimit {
                message,
                plan_type,
                resets_at,
                active_limit,
            } => {
                let plan = plan_type
                    .map(|p| format!(" on the {p} plan"))
                    .unwrap_or_default();
                let plan = match active_limit {
                    Some(limit) => format!("{plan}: the limit that ran out is {limit}"),
                    None => plan,
                };
                let when = resets_at
                    .map(|r| format!("; it resets {}", describe_reset(r, now)))
                    .unwrap_or_default();
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!("Codex usage limit reached{plan}{when}. ({message})"),
                )
                .with_code("usage_limit_reached");
                err.retry_after = resets_at.map(|r| Duration::from_secs((r - now).max(1) as u64));
                err
            }
            CodexError::UsageNotIncluded { message } => ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!("This ChatGPT plan does not include Codex: {message}"),
            )
            .with_code("usage_not_included"),
            CodexError::RateLimited {
                message,
                retry_after,
            } => {
                let mut err =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
                        .with_code("rate_limit_exceeded");
                err.retry_after = retry_after;
                err
            }
            CodexError::Unauthorized { message } => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                format!("The Codex backend refused the login ({message}): run `codex login` again"),
            )
            .with_code("codex_login_expired"),
            CodexError::Rejected {
                status,
                message,
                code,
            } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                // The two refusals people meet most, with what to do about them.
                let (text, code) = if message.contains("model is not supported") {
                    (
                        format!("Codex backend: {message} List the models this login can use with `codex-serve models` or GET /v1/models."),
                        Some("model_not_available".to_owned()),
                    )
                } else if let Some(param) = message.strip_prefix("Unsupported parameter: ") {
                    (
                        format!("Codex backend: {message}. Leave `{param}` out of the request (codex-serve already drops the parameters it knows the backend refuses)."),
                        Some("unsupported_parameter".to_owned()),
                    )
                } else {
                    (format!("Codex backend: {message}"), code)
                };
                let mut err = ApiError::new(status, "invalid_request_error", text);
                err.code = code;
                err
            }
            CodexError::Failed { code, message } => failed(&code, &message),
            CodexError::IdleTimeout(_) => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "api_error", e.to_string())
                    .with_code("upstream_timeout")
            }
            other @ (CodexError::Upstream { .. }
            | CodexError::Transport(_)
            | CodexError::StreamClosed
            | CodexError::Decode(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "api_error", other.to_string())
                    .with_code("upstream_error")
            }
        }
    }
}

/// A `response.failed` (or `error` event) before anything reached the client.
fn failed(code: &str, message: &str) -> ApiError {
    let (status, kind) = match code {
        "context_length_exceeded" | "invalid_prompt" => {
            (StatusCode::BAD_REQUEST, "invalid_request_error")
        }
        "rate_limit_exceeded" => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        "insufficient_quota" | "usage_not_included" => {
            (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota")
        }
        "server_is_overloaded" | "slow_down" => (StatusCode::SERVICE_UNAVAILABLE, "api_error"),
        _ => (StatusCode::BAD_GATEWAY, "api_error"),
    };
    ApiError::new(status, kind, message).with_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_limit_says_when_it_resets() {
        let err: ApiError = CodexError::UsageLimit {
            message: "limit reached".into(),
            plan_type: Some("plus".into()),
            resets_at: Some(unix_now() + 3600),
            active_limit: Some("`codex` (its 5-hour window is used up)".into()),
        }
        .into();
        assert!(
            err.message.starts_with("Codex usage limit reached on the plus plan: the limit that ran out is `codex` (its 5-hour window is used up); it resets in"),
            "{}",
            err.message
        );
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(err.message.contains("resets in"), "{}", err.message);
        let secs = err.retry_after.expect("retry-after").as_secs();
        assert!((3590..=3600).contains(&secs));
        assert!(err.is_final());
        // A short rate limit and a server error are worth retrying.
        let brief: ApiError = CodexError::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(2)),
        }
        .into();
        assert!(!brief.is_final());
        assert!(!ApiError::new(StatusCode::BAD_GATEWAY, "api_error", "x").is_final());
        assert!(ApiError::invalid("bad").is_final());
    }

    #[test]
    fn describes_resets_for_people() {
        assert!(describe_reset(7_500, 0).starts_with("in 2h 5m (at 1970-01-01T02:05:00Z"));
        assert!(describe_reset(30, 0).starts_with("in 30s"));
        assert!(describe_reset(3 * 86400 + 7200, 0).starts_with("in 3d 2h"));
    }
}
