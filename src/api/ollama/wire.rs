//! Ollama on the wire: the request bodies as read, and the answer shapes (chat and generate lines, one
//! per NDJSON line or the whole answer; tool calls; model listings).
//!
//! Only the request fields named here are read. Sampling `options` (temperature, num_predict, stop, …),
//! `keep_alive`, `template`, `raw` and `context` are accepted and ignored: the backend takes none of them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// The requests.

/// `POST /api/chat`.
#[derive(Debug, Deserialize)]
pub(crate) struct OllamaChatRequest {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) messages: Option<Vec<Message>>,
    /// Streaming unless `false`.
    #[serde(default)]
    pub(crate) stream: Option<bool>,
    #[serde(default)]
    pub(crate) format: Option<Format>,
    #[serde(default)]
    pub(crate) tools: Option<Vec<ToolDef>>,
    #[serde(default)]
    pub(crate) think: Option<Think>,
    #[serde(default)]
    pub(crate) keep_alive: Option<Value>,
}

/// `POST /api/generate`.
#[derive(Debug, Deserialize)]
pub(crate) struct GenerateRequest {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) prompt: Option<String>,
    #[serde(default)]
    pub(crate) suffix: Option<String>,
    #[serde(default)]
    pub(crate) system: Option<String>,
    #[serde(default)]
    pub(crate) images: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) stream: Option<bool>,
    #[serde(default)]
    pub(crate) format: Option<Format>,
    #[serde(default)]
    pub(crate) think: Option<Think>,
    #[serde(default)]
    pub(crate) keep_alive: Option<Value>,
}

/// `POST /api/show`: `model`, or the older `name`.
#[derive(Debug, Deserialize)]
pub(crate) struct ShowRequest {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) content: Option<String>,
    /// Base64 image data (a `data:` URL is taken too).
    #[serde(default)]
    pub(crate) images: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    pub(crate) tool_name: Option<String>,
    #[serde(default)]
    pub(crate) tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCallIn {
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) function: FunctionCallIn,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCallIn {
    pub(crate) name: String,
    /// An object in Ollama's API; a JSON string is taken too.
    #[serde(default)]
    pub(crate) arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolDef {
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    pub(crate) function: FunctionDef,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionDef {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Option<Value>,
}

/// `"json"`, a JSON schema, or `""` for none.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Format {
    Named(String),
    Schema(Map<String, Value>),
}

/// `true`/`false`, or a level: `"low"`, `"medium"`, `"high"`, `"max"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Think {
    On(bool),
    Level(String),
}

// The answers.

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
