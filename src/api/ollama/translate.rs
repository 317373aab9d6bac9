//! An Ollama chat or generate request as the neutral plan.

use codex_client::request::{InputItem, Tool};

use super::error::OllamaError;
use super::request::{Format, ThinkPlan};
use crate::core::error::ApiError;
use crate::core::prepare::{Plan, Summary};

/// Everything a chat or generate request decides about the upstream request.
pub(crate) struct Spec<'a> {
    pub(crate) model: &'a str,
    pub(crate) instructions: Vec<String>,
    pub(crate) input: Vec<InputItem>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) format: Option<&'a Format>,
    pub(crate) plan: ThinkPlan,
    pub(crate) session: Option<String>,
}

impl Spec<'_> {
    /// The neutral plan, after the checks that are Ollama's own.
    pub(crate) fn plan(self) -> Result<Plan, OllamaError> {
        if self.model.trim().is_empty() {
            return Err(ApiError::invalid("model is required")
                .with_param("model")
                .into());
        }
        if self.input.is_empty() {
            return Err(ApiError::invalid(
                "`messages` holds only system messages: add at least one user message",
            )
            .with_param("messages")
            .into());
        }
        let instructions = self.instructions.join("\n\n");
        Ok(Plan {
            requested: self.model.to_owned(),
            // `:latest` is Ollama's default tag: the plain model.
            target: self
                .model
                .trim()
                .strip_suffix(":latest")
                .unwrap_or(self.model.trim())
                .to_owned(),
            instructions: Some(instructions).filter(|i| !i.trim().is_empty()),
            input: self.input,
            tools: self.tools,
            parallel_tool_calls: true,
            text: self.format.map(Format::to_text).transpose()?.flatten(),
            effort: self.plan.want,
            // Summaries nobody will see are not asked for.
            summary: Summary::IfShown(self.plan.show),
            session: self.session,
            restore_reasoning: true,
            ..Plan::default()
        })
    }
}
