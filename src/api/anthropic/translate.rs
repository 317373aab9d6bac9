//! An Anthropic Messages request as the neutral plan: content blocks become input items, thinking
//! settings an effort wish, tool choices the backend's.

use codex_client::request::{
    FunctionChoice, ReasoningEffort, TextControls, TextFormat, Tool, ToolChoice, ToolChoiceMode,
};

use super::wire::{JsonOutputFormat, MessagesRequest, ToolChoiceParam, ToolParam};
use crate::core::error::{bad, ApiError};
use crate::core::prepare::{Plan, Summary, Want};

mod content;

use content::{message_items, system_text};

/// How thinking blocks are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Thinking {
    /// No thinking blocks (thinking not enabled).
    Off,
    /// Thinking blocks with the reasoning summary.
    Summarized,
    /// Thinking blocks with empty text and the signature (`display: "omitted"`).
    Omitted,
}

/// The signature of a thinking block carries the backend's encrypted reasoning, so that a client which
/// replays its thinking blocks (as Anthropic requires in a tool loop) gives the backend its reasoning back.
/// Other signatures (Anthropic's own) mean nothing to the Codex backend and are dropped.
pub(crate) const SIGNATURE_PREFIX: &str = "codex-serve.reasoning.v1:";

pub(crate) fn signature(encrypted_content: &str) -> String {
    format!("{SIGNATURE_PREFIX}{encrypted_content}")
}

pub(crate) fn encrypted_content(signature: &str) -> Option<&str> {
    signature
        .strip_prefix(SIGNATURE_PREFIX)
        .filter(|e| !e.is_empty())
}

/// A Messages request as the neutral plan, and how its thinking is to be shown. The plan's `requested`,
/// `target` and `session` are the handler's to fill: they need the model map and the headers.
pub(crate) struct Translated {
    pub(crate) plan: Plan,
    pub(crate) thinking: Thinking,
}

/// `budget_tokens` as an effort: Claude Code's "think" (4k) is low, "think hard" (10k) medium,
/// "ultrathink" (32k) high, anything larger the most there is.
pub(crate) fn budget_effort(budget: u64) -> ReasoningEffort {
    match budget {
        0..4096 => ReasoningEffort::Low,
        4096..16384 => ReasoningEffort::Medium,
        16384..=32768 => ReasoningEffort::High,
        _ => ReasoningEffort::Xhigh,
    }
}

fn effort_word(e: &str) -> Result<ReasoningEffort, ApiError> {
    Ok(match e {
        "low" => ReasoningEffort::Low,
        "medium" => ReasoningEffort::Medium,
        "high" => ReasoningEffort::High,
        "xhigh" | "max" => ReasoningEffort::Xhigh,
        other => {
            return Err(bad(
                "output_config.effort",
                format!(
                    "Input should be 'low', 'medium', 'high', 'xhigh' or 'max' (got '{other}')"
                ),
            ))
        }
    })
}

fn tools(list: Option<Vec<ToolParam>>) -> Result<Vec<Tool>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| match t.kind.as_deref() {
            None | Some("custom") => Ok(Tool::Function {
                name: t.name,
                description: t.description,
                parameters: t.input_schema.filter(|s| !s.is_null()),
                strict: t.strict,
            }),
            // The backend searches the web itself; its answer comes back as text.
            Some(k) if k.starts_with("web_search_") => Ok(Tool::web_search()),
            Some(other) => Err(bad(
                &format!("tools[{i}].type"),
                format!("tools of type '{other}' are not supported by the Codex backend: define it as a custom tool with an input_schema"),
            )),
        })
        .collect()
}

fn json_format(f: JsonOutputFormat, param: &str) -> Result<TextFormat, ApiError> {
    if f.kind != "json_schema" {
        return Err(bad(param, "the output format's type must be json_schema"));
    }
    Ok(TextFormat::JsonSchema {
        name: "output".to_owned(),
        schema: f
            .schema
            .unwrap_or_else(|| serde_json::json!({"type": "object"})),
        strict: None,
        description: None,
    })
}

impl MessagesRequest {
    pub(crate) fn translate(self) -> Result<Translated, ApiError> {
        if self.messages.is_empty() {
            return Err(bad("messages", "at least one message is required"));
        }
        let instructions = system_text(self.system)?;
        let mut input = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.into_iter().enumerate() {
            message_items(&m.role, m.content, &format!("messages[{i}]"), &mut input)?;
        }
        if input.is_empty() {
            return Err(bad("messages", "the messages hold no content"));
        }

        let (thinking, mut want) = match &self.thinking {
            None => (Thinking::Off, Want::Default),
            Some(t) => {
                let display = match t.display.as_deref() {
                    None | Some("summarized") => Thinking::Summarized,
                    Some("omitted") => Thinking::Omitted,
                    Some(other) => {
                        return Err(bad(
                            "thinking.display",
                            format!("Input should be 'summarized' or 'omitted' (got '{other}')"),
                        ))
                    }
                };
                match t.kind.as_str() {
                    "disabled" => (Thinking::Off, Want::Default),
                    "enabled" => (
                        display,
                        t.budget_tokens
                            .map_or(Want::Default, |b| Want::Near(budget_effort(b))),
                    ),
                    "adaptive" | "between_tools" => (display, Want::Default),
                    other => {
                        return Err(bad(
                            "thinking.type",
                            format!(
                            "Input tag '{other}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
                        ),
                        ))
                    }
                }
            }
        };
        let mut format = None;
        if let Some(oc) = self.output_config {
            if let Some(e) = oc.effort.as_deref() {
                want = Want::Near(effort_word(e)?);
            }
            if let Some(f) = oc.format {
                format = Some(json_format(f, "output_config.format")?);
            }
        }
        if format.is_none() {
            if let Some(f) = self.output_format {
                format = Some(json_format(f, "output_format")?);
            }
        }

        let (tool_choice, no_parallel) = match self.tool_choice {
            None => (None, false),
            Some(ToolChoiceParam::Auto {
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Mode(ToolChoiceMode::Auto)),
                d == Some(true),
            ),
            Some(ToolChoiceParam::Any {
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Mode(ToolChoiceMode::Required)),
                d == Some(true),
            ),
            Some(ToolChoiceParam::Tool {
                name,
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Function(FunctionChoice { name })),
                d == Some(true),
            ),
            Some(ToolChoiceParam::None) => (Some(ToolChoice::Mode(ToolChoiceMode::None)), false),
        };

        let plan = Plan {
            instructions: Some(instructions).filter(|i| !i.trim().is_empty()),
            input,
            tools: tools(self.tools)?,
            tool_choice,
            parallel_tool_calls: !no_parallel,
            text: format.map(|f| TextControls {
                verbosity: None,
                format: Some(f),
            }),
            effort: want,
            // Summaries are asked for only when they will be shown.
            summary: Summary::IfShown(thinking == Thinking::Summarized),
            cache_key: self
                .metadata
                .and_then(|m| m.user_id)
                .filter(|u| !u.is_empty()),
            restore_reasoning: true,
            service_tier: (self.speed.as_deref() == Some("fast")).then(|| "priority".to_owned()),
            ..Plan::default()
        };
        Ok(Translated { plan, thinking })
    }
}

#[cfg(test)]
mod tests;
