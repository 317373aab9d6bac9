//! The Ollama API: `/api/version`, `/api/tags`, `/api/show`, `/api/chat`, `/api/generate`.
//!
//! Requests become the codex crate's typed Responses request; answers come from the shared event folder,
//! written as Ollama's NDJSON lines (streaming, the default) or one JSON object (`"stream": false`).
//! Errors are Ollama's `{"error": "..."}` with the status Ollama would use.

pub(crate) mod error;
pub(crate) mod known_fields;
pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod wire;

use codex_client::request::ReasoningEffort;

use crate::core::prepare::split_model;

/// An Ollama model name as the catalog slug and an effort: `gpt-6.2-sol`, `gpt-6.2-sol:latest`
/// (Ollama's default tag), `gpt-6.2-sol:high` (a tag naming the effort).
pub(crate) fn resolve_model(name: &str) -> (&str, Option<ReasoningEffort>) {
    let name = name.trim();
    let name = name.strip_suffix(":latest").unwrap_or(name);
    split_model(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_efforts_and_latest_is_the_plain_model() {
        assert_eq!(resolve_model("gpt-5.5:latest"), ("gpt-5.5", None));
        assert_eq!(
            resolve_model("gpt-5.5:high"),
            ("gpt-5.5", Some(ReasoningEffort::High))
        );
        assert_eq!(resolve_model("gpt-6.2-sol"), ("gpt-6.2-sol", None));
    }
}
