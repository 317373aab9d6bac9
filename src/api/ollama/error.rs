//! Ollama's error shape, `{"error": "..."}`, with the status of the underlying error.

use serde::Serialize;

use crate::core::error::ApiError;

#[derive(Debug)]
pub(crate) struct OllamaError(pub ApiError);

impl From<ApiError> for OllamaError {
    fn from(e: ApiError) -> Self {
        OllamaError(e)
    }
}

impl From<codex_client::CodexError> for OllamaError {
    fn from(e: codex_client::CodexError) -> Self {
        OllamaError(e.into())
    }
}

#[derive(Serialize)]
pub(crate) struct ErrorLine {
    pub(crate) error: String,
}

impl OllamaError {
    pub(crate) fn line(&self) -> ErrorLine {
        ErrorLine {
            error: self.0.message_with_param(),
        }
    }

    /// Ollama's answer for a model it does not have.
    pub(crate) fn model_not_found(name: &str) -> OllamaError {
        OllamaError(
            ApiError::new(
                http::StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("model '{name}' not found"),
            )
            .with_code("model_not_found"),
        )
    }
}
