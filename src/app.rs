//! What every handler shares.

use codex_client::request::ReasoningEffort;
use codex_client::CodexClient;

use crate::http::error::ApiError;
use crate::openai::chat_request::Defaults;
use crate::openai::reasoning_cache::ReasoningCache;

pub struct App {
    pub codex: CodexClient,
    pub defaults: Defaults,
    /// List `model-effort` names in `/v1/models` too (`--list-effort-variants`).
    pub list_effort_variants: bool,
    /// Encrypted reasoning to replay in front of the assistant turns chat clients send back.
    pub reasoning: ReasoningCache,
}

impl App {
    /// Refuses an effort the catalog says the model does not take, listing the ones it does.
    pub async fn check_effort(&self, model: &str, effort: ReasoningEffort) -> Result<(), ApiError> {
        let (models, _) = self.codex.models().await;
        let Some(info) = models.iter().find(|m| m.slug == model) else {
            return Ok(());
        };
        if info.allows(effort) {
            return Ok(());
        }
        let allowed: Vec<&str> = info
            .supported_reasoning_levels
            .iter()
            .map(|e| e.as_str())
            .collect();
        Err(ApiError::invalid(format!(
            "model '{model}' does not take reasoning effort '{}'; it takes: {}",
            effort.as_str(),
            allowed.join(", ")
        ))
        .with_param("reasoning_effort")
        .with_code("unsupported_reasoning_effort"))
    }
}
