//! `POST /v1/messages` (and `/v1/messages/count_tokens`) request bodies, typed.
//!
//! Sampling (`temperature`, `top_p`, `top_k`), `stop_sequences`, `max_tokens`, `service_tier`,
//! `cache_control` and `container` are accepted and not sent: the backend takes none of them.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest {
    pub(crate) model: String,
    pub(crate) messages: Vec<MessageParam>,
    /// Not used (the backend picks the length), but parsed: a value that is no count is a 400, as at
    /// Anthropic.
    #[allow(dead_code)]
    #[serde(default)]
    pub(crate) max_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) system: Option<TextOrBlocks>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) tools: Option<Vec<ToolParam>>,
    #[serde(default)]
    pub(crate) tool_choice: Option<ToolChoiceParam>,
    #[serde(default)]
    pub(crate) thinking: Option<ThinkingParam>,
    #[serde(default)]
    pub(crate) output_config: Option<OutputConfig>,
    /// The structured-outputs beta's field, before `output_config.format`.
    #[serde(default)]
    pub(crate) output_format: Option<JsonOutputFormat>,
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
    /// `"fast"` asks for the backend's priority tier.
    #[serde(default)]
    pub(crate) speed: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MessageParam {
    pub(crate) role: String,
    pub(crate) content: TextOrBlocks,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TextOrBlocks {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block this server understands, or any other JSON (to name it in an error, or drop it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Block {
    Known(ContentBlock),
    Other(Value),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ContentBlock {
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
    // Its `data` is Anthropic's encryption, which the Codex backend cannot read.
    RedactedThinking {},
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// The id is required as at Anthropic, though files are refused later either way.
    File {
        #[allow(dead_code)]
        file_id: String,
    },
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolParam {
    pub(crate) name: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) input_schema: Option<Value>,
    #[serde(default)]
    pub(crate) strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToolChoiceParam {
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
pub(crate) struct ThinkingParam {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) budget_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) display: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutputConfig {
    #[serde(default)]
    pub(crate) effort: Option<String>,
    #[serde(default)]
    pub(crate) format: Option<JsonOutputFormat>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JsonOutputFormat {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub(crate) user_id: Option<String>,
}
