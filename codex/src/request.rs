//! The body of `POST /responses`, typed so that only fields the backend accepts can be sent: there is no
//! map to put an unknown field in. `store: false` and `stream: true`, which the backend requires, are not
//! fields at all but constants of the serialisation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod controls;
pub use controls::{
    CustomToolFormat, FunctionChoice, Reasoning, ReasoningEffort, ReasoningSummary, TextControls,
    TextFormat, Tool, ToolChoice, ToolChoiceMode, WebSearchOptions,
};

#[derive(Debug, Clone, Serialize)]
/// The neutral request the front ends build. It is not sent as it is: `render` turns it into the body
/// the model's catalog entry asks for (classic or Responses Lite), as the codex CLI would send it.
pub struct ResponsesRequest {
    pub model: String,
    /// The client's system text (or the server's default). Sent as the leading `developer` message, as
    /// the codex CLI 0.171 sends its base prompt: there is no top-level `instructions`.
    pub instructions: String,
    pub input: Vec<InputItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    #[serde(serialize_with = "always_false")]
    store: (),
    #[serde(serialize_with = "always_true")]
    stream: (),
    pub include: Vec<String>,
    /// Also sent as the `session-id` header: the backend keys cache affinity on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextControls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Filled by the client (installation id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<serde_json::Map<String, Value>>,
    /// The client's own `x-codex-*` headers (the codex CLI's turn state, for one), sent on beside the
    /// ones codex-serve sets; where both name a header, codex-serve's wins (see `headers::for_responses`).
    #[serde(skip)]
    pub client_headers: Vec<(String, String)>,
}

impl ResponsesRequest {
    /// A copy with only `input[n..]`: the items before are not copied.
    pub(crate) fn clone_from_item(&self, n: usize) -> ResponsesRequest {
        ResponsesRequest {
            model: self.model.clone(),
            instructions: self.instructions.clone(),
            input: self.input.get(n..).unwrap_or_default().to_vec(),
            tools: self.tools.clone(),
            tool_choice: self.tool_choice.clone(),
            parallel_tool_calls: self.parallel_tool_calls,
            reasoning: self.reasoning.clone(),
            store: (),
            stream: (),
            include: self.include.clone(),
            prompt_cache_key: self.prompt_cache_key.clone(),
            text: self.text.clone(),
            service_tier: self.service_tier.clone(),
            client_metadata: self.client_metadata.clone(),
            client_headers: self.client_headers.clone(),
        }
    }
}

fn always_false<S: serde::Serializer>(_: &(), s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(false)
}

fn always_true<S: serde::Serializer>(_: &(), s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(true)
}

impl ResponsesRequest {
    pub fn new(
        model: impl Into<String>,
        instructions: impl Into<String>,
        input: Vec<InputItem>,
    ) -> Self {
        ResponsesRequest {
            model: model.into(),
            instructions: instructions.into(),
            input,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: true,
            reasoning: None,
            store: (),
            stream: (),
            include: Vec::new(),
            prompt_cache_key: None,
            text: None,
            service_tier: None,
            client_metadata: None,
            client_headers: Vec::new(),
        }
    }
}

impl ResponsesRequest {
    /// Whether `other` asks the same of the model as `self`, its input aside: model, instructions,
    /// tools, reasoning, text controls and every other field the backend reads. The condition for
    /// continuing a response on the backend's side (`previous_response_id`). Per-request bookkeeping
    /// (client metadata and `x-codex-*` headers: turn ids, trace context) is left out, as the codex CLI
    /// leaves its client metadata out of the same comparison. The destructuring is exhaustive so a new
    /// field must be placed on one side or the other.
    pub fn same_shape(&self, other: &ResponsesRequest) -> bool {
        let ResponsesRequest {
            model,
            instructions,
            input: _,
            tools,
            tool_choice,
            parallel_tool_calls,
            reasoning,
            store: (),
            stream: (),
            include,
            prompt_cache_key,
            text,
            service_tier,
            client_metadata: _,
            client_headers: _,
        } = self;
        *model == other.model
            && *instructions == other.instructions
            && *tools == other.tools
            && *tool_choice == other.tool_choice
            && *parallel_tool_calls == other.parallel_tool_calls
            && *reasoning == other.reasoning
            && *include == other.include
            && *prompt_cache_key == other.prompt_cache_key
            && *text == other.text
            && *service_tier == other.service_tier
    }
}

/// An output item of a response (the backend's JSON), as the input item that replays it on a later
/// turn; `None` for items that cannot be replayed (the backend's own shell calls, unknown types). A
/// refusal is replayed as the assistant's text, as chat clients send it back.
pub fn replay_output(item: &Value) -> Option<InputItem> {
    let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
    match item.get("type").and_then(Value::as_str)? {
        "message" => {
            let content: Vec<ContentPart> = item
                .get("content")?
                .as_array()?
                .iter()
                .filter_map(|c| {
                    let field = match c.get("type").and_then(Value::as_str) {
                        Some("output_text") => "text",
                        Some("refusal") => "refusal",
                        _ => return None,
                    };
                    let text = c.get(field).and_then(Value::as_str).unwrap_or("");
                    Some(ContentPart::OutputText { text: text.into() })
                })
                .collect();
            (!content.is_empty()).then_some(InputItem::Message {
                role: Role::Assistant,
                content,
            })
        }
        "compaction" => Some(InputItem::Compaction {
            encrypted_content: s("encrypted_content")?,
        }),
        "function_call" => Some(InputItem::FunctionCall {
            call_id: s("call_id")?,
            name: s("name")?,
            namespace: s("namespace"),
            arguments: s("arguments").unwrap_or_default().into(),
        }),
        "custom_tool_call" => Some(InputItem::CustomToolCall {
            status: s("status"),
            call_id: s("call_id")?,
            name: s("name")?,
            namespace: s("namespace"),
            input: s("input").unwrap_or_default(),
        }),
        "web_search_call" => Some(InputItem::WebSearchCall {
            status: s("status"),
            action: item.get("action").cloned(),
        }),
        "tool_search_call" => Some(InputItem::ToolSearchCall {
            call_id: s("call_id"),
            status: s("status"),
            execution: s("execution"),
            arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
        }),
        "reasoning" => Some(InputItem::Reasoning {
            summary: summary_of(item),
            encrypted_content: s("encrypted_content"),
        }),
        _ => None,
    }
}

/// The summary texts of a reasoning item, as the backend sent them.
pub fn summary_of(item: &Value) -> Vec<SummaryText> {
    item.get("summary")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(|t| SummaryText { text: t.to_owned() })
                .collect()
        })
        .unwrap_or_default()
}

/// The body of `POST /responses/compact`.
#[derive(Debug, Clone, Serialize)]
pub struct CompactRequest {
    pub model: String,
    pub input: Vec<InputItem>,
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    Message {
        role: Role,
        content: Vec<ContentPart>,
    },
    /// Fields in the codex CLI's order: name, (namespace,) arguments, call_id.
    FunctionCall {
        name: String,
        /// The namespace of the tool called, as the backend gave it (`functions` for Lite models).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        arguments: Text,
        call_id: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: ToolOutput,
    },
    /// Tools made available from this point of the conversation: how Responses Lite models receive the
    /// client's tools (there is no top-level `tools` for them). `role` is `developer`.
    AdditionalTools {
        role: Role,
        tools: Vec<Tool>,
    },
    /// An opaque summary of earlier turns produced by compaction, passed back as the backend gave it.
    Compaction {
        encrypted_content: String,
    },
    /// Asks the backend to compact the conversation now (`remote_compaction_v2`): it answers with a
    /// `compaction` output item.
    CompactionTrigger {},
    /// A call of a `custom` (freeform) tool: `input` is the raw text the model wrote.
    CustomToolCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        call_id: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        input: String,
    },
    CustomToolCallOutput {
        call_id: String,
        output: ToolOutput,
    },
    /// The model searching the client's deferred tools; `execution: client` means the client answers
    /// with a `tool_search_output`.
    ToolSearchCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution: Option<String>,
        /// The search the model asked for (`query`, `paths`…), passed on as the backend gave it.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        arguments: Value,
    },
    /// A web search the backend ran, replayed from the client's history.
    WebSearchCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// `{"type": "search", "query": …}`, `open_page`, `find_in_page`: as the backend gave it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<Value>,
    },
    /// An image the backend generated, replayed from the client's history.
    ImageGenerationCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revised_prompt: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    /// The tools a `tool_search_call` found: they become callable from here on.
    ToolSearchOutput {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution: Option<String>,
        tools: Vec<Tool>,
    },
    /// Replayed unchanged from an earlier answer: how reasoning carries across turns with `store: false`.
    Reasoning {
        summary: Vec<SummaryText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
}

impl InputItem {
    pub fn text(role: Role, text: impl Into<String>) -> InputItem {
        let text = text.into();
        let part = match role {
            Role::Assistant => ContentPart::OutputText { text: text.into() },
            Role::User | Role::Developer => ContentPart::InputText { text: text.into() },
        };
        InputItem::Message {
            role,
            content: vec![part],
        }
    }
}

/// The text of an item (a message's, a tool's output, a call's arguments, an image's URL), shared
/// rather than copied: a history handed on from one request to the next (a resent chat history, the
/// items a socket's backend holds) holds the same texts, and two texts that are one are equal at once,
/// without comparing their bytes.
#[derive(Clone, Eq)]
pub struct Text(Arc<str>);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s.into())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.into())
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// A tool's result: plain text, or content parts (text and images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolOutput {
    Text(Text),
    Parts(Vec<ContentPart>),
}

impl From<String> for ToolOutput {
    fn from(s: String) -> Self {
        ToolOutput::Text(s.into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    /// Later guidance; `system` is rejected in `input` by the backend.
    Developer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText {
        text: Text,
    },
    InputImage {
        image_url: Text,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    OutputText {
        text: Text,
    },
    Refusal {
        refusal: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "summary_text")]
pub struct SummaryText {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_a_json_string_shared_by_its_copies_and_equal_by_content() {
        let a = Text::from(r#"sunny "day""#.to_owned());
        let shared = a.clone();
        assert!(Arc::ptr_eq(&a.0, &shared.0), "a copy shares the text");
        let other = Text::from(r#"sunny "day""#);
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        assert_eq!(a, other);
        assert_ne!(a, Text::from("rainy"));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#""sunny \"day\"""#);
        let back: ToolOutput = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ToolOutput::Text(a));
        let parts: ToolOutput =
            serde_json::from_str(r#"[{"type":"input_text","text":"x"}]"#).unwrap();
        assert_eq!(
            parts,
            ToolOutput::Parts(vec![ContentPart::InputText { text: "x".into() }])
        );
    }

    #[test]
    fn store_and_stream_are_fixed_and_items_have_the_backend_shape() {
        let mut req = ResponsesRequest::new(
            "gpt-6.2-sol",
            "be brief",
            vec![
                InputItem::text(Role::Developer, "dev"),
                InputItem::text(Role::User, "hi"),
                InputItem::text(Role::Assistant, "hello"),
                InputItem::Reasoning {
                    summary: vec![SummaryText { text: "s".into() }],
                    encrypted_content: Some("enc".into()),
                },
            ],
        );
        req.tool_choice = Some(ToolChoice::Function(FunctionChoice { name: "f".into() }));
        let v = serde_json::to_value(&req).expect("serialise");
        assert_eq!(v["store"], false);
        assert_eq!(v["stream"], true);
        assert_eq!(v["input"][0]["type"], "message");
        assert_eq!(v["input"][0]["role"], "developer");
        assert_eq!(v["input"][0]["content"][0]["type"], "input_text");
        assert_eq!(v["input"][2]["content"][0]["type"], "output_text");
        assert_eq!(v["input"][3]["summary"][0]["type"], "summary_text");
        assert_eq!(
            v["tool_choice"],
            serde_json::json!({"type":"function","name":"f"})
        );
        assert!(v.get("tools").is_none());
    }
}
