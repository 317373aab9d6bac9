//! Ollama answer shapes: chat and generate lines (one per NDJSON line, or the whole answer), tool calls,
//! model listings.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize, Default)]
pub struct AssistantMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tool_calls: &'a [ToolCall],
}

#[derive(Serialize, Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    pub function: ToolCallFunction,
}

#[derive(Serialize, Debug, Clone)]
pub struct ToolCallFunction {
    pub index: u32,
    pub name: String,
    /// Always an object, as Ollama's clients expect.
    pub arguments: Map<String, Value>,
}

/// The counts and timings of a finished answer. Counts are the backend's; durations (nanoseconds) are
/// measured here: until the first output, from there to the end, and in all.
#[derive(Serialize, Default, Clone, Copy)]
pub struct Metrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_duration: Option<u64>,
}

/// One `/api/chat` line, or the whole answer.
#[derive(Serialize)]
pub struct ChatLine<'a> {
    pub model: &'a str,
    pub created_at: &'a str,
    pub message: AssistantMessage<'a>,
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<&'static str>,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// One `/api/generate` line, or the whole answer.
#[derive(Serialize)]
pub struct GenerateLine<'a> {
    pub model: &'a str,
    pub created_at: &'a str,
    pub response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<&'static str>,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Fields Ollama fills from a model file. A remote model has none of them; they stay empty rather than
/// made up.
#[derive(Serialize, Default)]
pub struct Details {
    pub parent_model: &'static str,
    pub format: &'static str,
    pub family: &'static str,
    pub families: Option<Vec<String>>,
    pub parameter_size: &'static str,
    pub quantization_level: &'static str,
}

/// One model of `/api/tags`. There is no file behind it, so no `size`, `digest` or `modified_at`.
#[derive(Serialize)]
pub struct TagModel {
    pub name: String,
    pub model: String,
    pub details: Details,
    pub capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct Tags {
    pub models: Vec<TagModel>,
}

#[derive(Serialize)]
pub struct Show {
    pub details: Details,
    pub model_info: Map<String, Value>,
    pub capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct Version {
    pub version: String,
}
