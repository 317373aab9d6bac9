//! `POST /v1/chat/completions` on the wire: the request as read (an allowlist: fields not named here are
//! ignored) and the answer as written, one `chat.completion` or `chat.completion.chunk`s.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct ChatCompletionRequest {
    pub(crate) model: String,
    pub(crate) messages: Vec<ChatMessage>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub(crate) tools: Option<Vec<ChatTool>>,
    #[serde(default)]
    pub(crate) tool_choice: Option<Value>,
    #[serde(default)]
    pub(crate) parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub(crate) reasoning_effort: Option<String>,
    #[serde(default)]
    pub(crate) response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub(crate) verbosity: Option<String>,
    #[serde(default)]
    pub(crate) prompt_cache_key: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) service_tier: Option<String>,
    // Refused rather than silently wrong.
    #[serde(default)]
    pub(crate) n: Option<u32>,
    #[serde(default)]
    pub(crate) logprobs: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "MessageIn")]
pub(crate) enum ChatMessage {
    System {
        content: MessageContent,
    },
    Developer {
        content: MessageContent,
    },
    User {
        content: MessageContent,
    },
    Assistant {
        #[serde(default)]
        content: Option<MessageContent>,
        #[serde(default)]
        refusal: Option<String>,
        #[serde(default)]
        tool_calls: Vec<AssistantToolCall>,
    },
    Tool {
        content: MessageContent,
        tool_call_id: String,
    },
}

/// A message as read: one flat struct, filled in one pass, then checked for its role. A `role`-tagged
/// enum would make serde buffer every message, its long content included, before it knows the variant;
/// a chat client resends the whole history on every turn.
#[derive(Deserialize)]
struct MessageIn {
    role: RoleIn,
    #[serde(default)]
    content: Option<MessageContent>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<AssistantToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleIn {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

impl TryFrom<MessageIn> for ChatMessage {
    type Error = String;

    fn try_from(m: MessageIn) -> Result<ChatMessage, String> {
        let required = |c: Option<MessageContent>| c.ok_or("missing field `content`");
        Ok(match m.role {
            RoleIn::System => ChatMessage::System {
                content: required(m.content)?,
            },
            RoleIn::Developer => ChatMessage::Developer {
                content: required(m.content)?,
            },
            RoleIn::User => ChatMessage::User {
                content: required(m.content)?,
            },
            RoleIn::Assistant => ChatMessage::Assistant {
                content: m.content,
                refusal: m.refusal,
                tool_calls: m.tool_calls.unwrap_or_default(),
            },
            RoleIn::Tool => ChatMessage::Tool {
                content: required(m.content)?,
                tool_call_id: m.tool_call_id.ok_or("missing field `tool_call_id`")?,
            },
        })
    }
}

/// A string or an array of parts, told apart by the JSON type as it is read (an untagged enum would
/// buffer the value and try each variant).
#[derive(Debug)]
pub(crate) enum MessageContent {
    Text(String),
    Parts(Vec<ContentPartIn>),
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MessageContent, D::Error> {
        struct Content;
        impl<'de> serde::de::Visitor<'de> for Content {
            type Value = MessageContent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(s.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<MessageContent, A::Error> {
                let parts = Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(MessageContent::Parts(parts))
            }
        }
        d.deserialize_any(Content)
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ContentPartIn {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    Refusal { refusal: String },
    InputAudio {},
    File {},
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageUrl {
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) detail: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssistantToolCall {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) function: Option<FunctionCallIn>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCallIn {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ChatTool {
    Function { function: FunctionDef },
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionDef {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Option<Value>,
    #[serde(default)]
    pub(crate) strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Deserialize)]
pub(crate) struct JsonSchemaFormat {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) schema: Option<Value>,
    #[serde(default)]
    pub(crate) strict: Option<bool>,
}

// The answer.

#[derive(Serialize)]
pub(crate) struct ChatUsage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
    pub(crate) prompt_tokens_details: PromptDetails,
    pub(crate) completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
pub(crate) struct PromptDetails {
    pub(crate) cached_tokens: u64,
}

#[derive(Serialize)]
pub(crate) struct CompletionDetails {
    pub(crate) reasoning_tokens: u64,
}

#[derive(Serialize)]
pub(crate) struct Completion {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: i64,
    pub(crate) model: String,
    pub(crate) choices: [Choice; 1],
    pub(crate) usage: Option<ChatUsage>,
}

#[derive(Serialize)]
pub(crate) struct Choice {
    pub(crate) index: u32,
    pub(crate) message: AssistantMessage,
    pub(crate) finish_reason: &'static str,
    pub(crate) logprobs: Option<()>,
}

#[derive(Serialize)]
pub(crate) struct AssistantMessage {
    pub(crate) role: &'static str,
    pub(crate) content: Option<String>,
    pub(crate) refusal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall>,
}

#[derive(Serialize)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) function: FunctionCall,
}

#[derive(Serialize)]
pub(crate) struct FunctionCall {
    pub(crate) name: String,
    pub(crate) arguments: String,
}

#[derive(Serialize)]
pub(crate) struct Chunk<'a> {
    pub(crate) id: &'a str,
    pub(crate) object: &'static str,
    pub(crate) created: i64,
    pub(crate) model: &'a str,
    pub(crate) choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<ChatUsage>,
}

#[derive(Serialize)]
pub(crate) struct ChunkChoice<'a> {
    pub(crate) index: u32,
    pub(crate) delta: Delta<'a>,
    pub(crate) finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
pub(crate) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
pub(crate) struct ToolCallDelta<'a> {
    pub(crate) index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    pub(crate) function: FunctionDelta<'a>,
}

#[derive(Serialize)]
pub(crate) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arguments: Option<&'a str>,
}
