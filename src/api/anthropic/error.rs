//! Anthropic's error shape: `{"type":"error","error":{"type","message"}}`, with the status of the
//! underlying error and the error type Anthropic uses for that status.

use http::StatusCode;
use serde::Serialize;

use crate::core::error::ApiError;

#[derive(Debug)]
pub(crate) struct AnthropicError(pub ApiError);

impl From<ApiError> for AnthropicError {
    fn from(e: ApiError) -> Self {
        AnthropicError(e)
    }
}

impl From<codex_client::CodexError> for AnthropicError {
    fn from(e: codex_client::CodexError) -> Self {
        AnthropicError(e.into())
    }
}

#[derive(Serialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) error: ErrorDetail,
}

#[derive(Serialize)]
pub(crate) struct ErrorDetail {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

/// Anthropic's error type for a status.
pub(crate) fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `messages[0].content[1]` as Anthropic writes a location: `messages.0.content.1`.
fn dotted(param: &str) -> String {
    param.replace('[', ".").replace(']', "").replace("..", ".")
}

/// The message as Anthropic's API words a refusal: `location: what is wrong`, with serde's phrases in
/// the validator's words ("Field required"). Clients such as Claude Code recognise some refusals by
/// these words (a refused `system` role, a document or image block) and retry without what was refused.
pub(crate) fn anthropic_message(e: &ApiError) -> String {
    let mut message = e.message.clone();
    let mut location = e.param.as_deref().map(dotted);
    if let Some(rest) = message.strip_prefix("invalid request: ") {
        let rest = rest.to_owned();
        if let Some(field) = rest
            .strip_prefix("missing field `")
            .and_then(|f| f.split('`').next())
        {
            location = Some(match location {
                Some(l) if !l.is_empty() => format!("{l}.{field}"),
                _ => field.to_owned(),
            });
            message = "Field required".to_owned();
        } else {
            message = rest;
        }
    }
    // Anthropic's words for an over-long conversation, on which clients compact and retry.
    if e.code.as_deref() == Some("context_length_exceeded") {
        return format!("prompt is too long: {message}");
    }
    match location {
        Some(l) if !l.is_empty() && !message.starts_with(&l) => format!("{l}: {message}"),
        _ => message,
    }
}

impl AnthropicError {
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            kind: "error",
            error: ErrorDetail {
                kind: error_type(self.0.status),
                message: anthropic_message(&self.0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_anthropics_types() {
        let e = AnthropicError(ApiError::invalid("bad").with_param("messages[0]"));
        let v = serde_json::to_value(e.body()).expect("json");
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["message"], "messages.0: bad");
        let e = ApiError::invalid("Input should be 'user', 'assistant' or 'system'")
            .with_param("messages[3].role");
        assert_eq!(
            anthropic_message(&e),
            "messages.3.role: Input should be 'user', 'assistant' or 'system'"
        );
        let e = ApiError::invalid("invalid request: missing field `model`");
        assert_eq!(anthropic_message(&e), "model: Field required");
        let e =
            ApiError::invalid("invalid request: missing field `content`").with_param("messages[1]");
        assert_eq!(anthropic_message(&e), "messages.1.content: Field required");
        assert_eq!(
            error_type(StatusCode::TOO_MANY_REQUESTS),
            "rate_limit_error"
        );
        assert_eq!(
            error_type(StatusCode::SERVICE_UNAVAILABLE),
            "overloaded_error"
        );
        assert_eq!(error_type(StatusCode::BAD_GATEWAY), "api_error");
    }
}
