//! What can go wrong talking to the Codex backend, typed so the server can give each case the right status
//! and a message a person can act on. No variant ever holds a token.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::auth::AuthError;

/// Error bodies are read up to this many bytes; the rest is not worth holding.
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CodexError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The plan's usage limit (429 `usage_limit_reached`): never retried.
    #[error("{message}")]
    UsageLimit {
        message: String,
        plan_type: Option<String>,
        /// Unix seconds.
        resets_at: Option<i64>,
        /// The limit that ran out (`x-codex-active-limit`), described for people.
        active_limit: Option<String>,
    },
    /// The plan does not include Codex.
    #[error("{message}")]
    UsageNotIncluded { message: String },
    /// Any other 429.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The backend refused the login even after a refresh.
    #[error("the Codex backend refused the login: {message}")]
    Unauthorized { message: String },
    /// A 4xx about the request itself (unsupported model or parameter, …), with the backend's message.
    #[error("{message}")]
    Rejected {
        status: u16,
        message: String,
        code: Option<String>,
    },
    /// 5xx after retries.
    #[error("the Codex backend answered HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("could not reach the Codex backend: {0}")]
    Transport(String),
    #[error("the Codex backend sent nothing for {}s", .0.as_secs())]
    IdleTimeout(Duration),
    /// `response.failed` or an `error` event.
    #[error("{message}")]
    Failed { code: String, message: String },
    #[error("the Codex backend closed the stream before response.completed")]
    StreamClosed,
    #[error("unreadable event from the Codex backend: {0}")]
    Decode(String),
}

impl CodexError {
    /// Worth another try before anything was streamed: network trouble and 5xx.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CodexError::Upstream { .. } | CodexError::Transport(_) | CodexError::IdleTimeout(_)
        )
    }
}

/// Turns a non-2xx answer into the matching error, reading at most `MAX_ERROR_BODY` bytes of it.
pub(crate) async fn error_from_response(resp: reqwest::Response) -> CodexError {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - body.len())]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    classify(status, &body, retry_after, crate::client::unix_now())
}

#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    detail: Option<Value>,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(serde::Deserialize, Default)]
struct ErrorDetail {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    plan_type: Option<String>,
    #[serde(default)]
    resets_at: Option<i64>,
    #[serde(default)]
    resets_in_seconds: Option<i64>,
}

pub(crate) fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    now: i64,
) -> CodexError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let detail = parsed.detail.as_ref().map(|d| match d {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let err = parsed.error.unwrap_or_default();
    let message = err
        .message
        .clone()
        .or(detail)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.starts_with('<') {
                format!("HTTP {status} without details")
            } else {
                text.chars().take(500).collect()
            }
        });
    let kind = err.kind.as_deref().or(err.code.as_deref());
    match (status, kind) {
        (429, Some("usage_limit_reached")) => CodexError::UsageLimit {
            message,
            plan_type: err.plan_type,
            resets_at: err.resets_at.or(err.resets_in_seconds.map(|s| now + s)),
            active_limit: None,
        },
        (_, Some("usage_not_included")) => CodexError::UsageNotIncluded { message },
        (429, _) => CodexError::RateLimited {
            message,
            retry_after,
        },
        (401, _) => CodexError::Unauthorized { message },
        (400..=499, _) => CodexError::Rejected {
            status,
            message,
            code: err.code.or(err.kind),
        },
        _ => CodexError::Upstream { status, message },
    }
}

pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error;
    // The innermost cause says the most ("Connection refused"); URLs carry no secrets but drop queries.
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if let Some(i) = msg.find('?') {
        msg.truncate(i);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_backend_error_shapes() {
        let e = classify(
            429,
            br#"{"error":{"type":"usage_limit_reached","message":"limit reached","resets_at":1704067242,"plan_type":"pro"}}"#,
            None,
            0,
        );
        assert!(matches!(
            e,
            CodexError::UsageLimit {
                resets_at: Some(1_704_067_242),
                ..
            }
        ));
        let e = classify(
            429,
            br#"{"error":{"type":"usage_limit_reached","resets_in_seconds":60}}"#,
            None,
            100,
        );
        assert!(matches!(
            e,
            CodexError::UsageLimit {
                resets_at: Some(160),
                ..
            }
        ));
        let e = classify(
            400,
            br#"{"detail":"Unsupported parameter: temperature"}"#,
            None,
            0,
        );
        assert!(
            matches!(e, CodexError::Rejected { status: 400, ref message, .. } if message == "Unsupported parameter: temperature")
        );
        let e = classify(502, b"<html>bad gateway</html>", None, 0);
        assert!(matches!(e, CodexError::Upstream { status: 502, .. }));
        assert!(e.is_transient());
        let e = classify(401, b"{}", None, 0);
        assert!(matches!(e, CodexError::Unauthorized { .. }));
    }
}
