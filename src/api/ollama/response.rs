//! Ollama answer shapes: chat and generate lines (one per NDJSON line, or the whole answer), tool calls,
//! model listings.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize, Default)]
pub(crate) struct AssistantMessage<'a> {
    pub(crate) role: &'static str,
    pub(crate) content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thinking: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) tool_calls: &'a [ToolCall],
}

#[derive(Serialize, Debug, Clone)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) function: ToolCallFunction,
}

#[derive(Serialize, Debug, Clone)]
pub(crate) struct ToolCallFunction {
    pub(crate) index: u32,
    pub(crate) name: String,
    /// Always an object, as Ollama's clients expect.
    pub(crate) arguments: Map<String, Value>,
}

/// The counts and timings of a finished answer. Counts are the backend's; durations (nanoseconds) are
/// measured here: until the first output, from there to the end, and in all.
#[derive(Serialize, Default, Clone, Copy)]
pub(crate) struct Metrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_eval_duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eval_duration: Option<u64>,
}

/// One `/api/chat` line, or the whole answer.
#[derive(Serialize)]
pub(crate) struct ChatLine<'a> {
    pub(crate) model: &'a str,
    pub(crate) created_at: &'a str,
    pub(crate) message: AssistantMessage<'a>,
    pub(crate) done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) done_reason: Option<&'static str>,
    #[serde(flatten)]
    pub(crate) metrics: Metrics,
}

/// One `/api/generate` line, or the whole answer.
#[derive(Serialize)]
pub(crate) struct GenerateLine<'a> {
    pub(crate) model: &'a str,
    pub(crate) created_at: &'a str,
    pub(crate) response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thinking: Option<&'a str>,
    pub(crate) done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) done_reason: Option<&'static str>,
    #[serde(flatten)]
    pub(crate) metrics: Metrics,
}

/// Fields Ollama fills from a model file. A remote model has none of them; they stay empty rather than
/// made up.
#[derive(Serialize, Default)]
pub(crate) struct Details {
    pub(crate) parent_model: &'static str,
    pub(crate) format: &'static str,
    pub(crate) family: &'static str,
    pub(crate) families: Option<Vec<String>>,
    pub(crate) parameter_size: &'static str,
    pub(crate) quantization_level: &'static str,
}

/// One model of `/api/tags`. There is no file behind it, so no `size`, `digest` or `modified_at`.
#[derive(Serialize)]
pub(crate) struct TagModel {
    pub(crate) name: String,
    pub(crate) model: String,
    pub(crate) details: Details,
    pub(crate) capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
pub(crate) struct Tags {
    pub(crate) models: Vec<TagModel>,
}

#[derive(Serialize)]
pub(crate) struct Show {
    pub(crate) details: Details,
    pub(crate) model_info: Map<String, Value>,
    pub(crate) capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
pub(crate) struct Version {
    pub(crate) version: String,
}
