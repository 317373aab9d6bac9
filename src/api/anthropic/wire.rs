//! `POST /v1/messages` (and `/v1/messages/count_tokens`) request bodies, typed.
//!
//! Sampling (`temperature`, `top_p`, `top_k`), `stop_sequences`, `max_tokens`, `service_tier`,
//! `cache_control` and `container` are accepted and not sent: the backend takes none of them.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<MessageParam>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub system: Option<TextOrBlocks>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub tools: Option<Vec<ToolParam>>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoiceParam>,
    #[serde(default)]
    pub thinking: Option<ThinkingParam>,
    #[serde(default)]
    pub output_config: Option<OutputConfig>,
    /// The structured-outputs beta's field, before `output_config.format`.
    #[serde(default)]
    pub output_format: Option<JsonOutputFormat>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// `"fast"` asks for the backend's priority tier.
    #[serde(default)]
    pub speed: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MessageParam {
    pub role: String,
    pub content: TextOrBlocks,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TextOrBlocks {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block this server understands, or any other JSON (to name it in an error, or drop it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Block {
    Known(ContentBlock),
    Other(Value),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<TextOrBlocks>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
    File { file_id: String },
}

#[derive(Debug, Deserialize)]
pub struct ToolParam {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoiceParam {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

/// `enabled` (with `budget_tokens`), `adaptive`, `between_tools` or `disabled`; `display` is `summarized`
/// or `omitted`.
#[derive(Debug, Deserialize)]
pub struct ThinkingParam {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub budget_tokens: Option<u64>,
    #[serde(default)]
    pub display: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OutputConfig {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub format: Option<JsonOutputFormat>,
}

#[derive(Debug, Deserialize)]
pub struct JsonOutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub user_id: Option<String>,
}
