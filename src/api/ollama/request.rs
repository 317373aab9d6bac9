//! Ollama request bodies, typed, and their translation into the backend's Responses request.
//!
//! Only the fields named here are read. Sampling `options` (temperature, num_predict, stop, …),
//! `keep_alive`, `template`, `raw` and `context` are accepted and ignored: the backend takes none of them.

use base64::Engine as _;
use codex_client::request::{
    ContentPart, InputItem, ReasoningEffort, Role, TextControls, TextFormat, Tool,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::core::prepare::Want;

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).with_param(param)
}

/// `POST /api/chat`.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    #[serde(default)]
    pub messages: Option<Vec<Message>>,
    /// Streaming unless `false`.
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub tools: Option<Vec<ToolDef>>,
    #[serde(default)]
    pub think: Option<Think>,
    #[serde(default)]
    pub keep_alive: Option<Value>,
}

/// `POST /api/generate`.
#[derive(Debug, Deserialize)]
pub struct GenerateRequest {
    pub model: String,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub images: Option<Vec<String>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub think: Option<Think>,
    #[serde(default)]
    pub keep_alive: Option<Value>,
}

/// `POST /api/show`: `model`, or the older `name`.
#[derive(Debug, Deserialize)]
pub struct ShowRequest {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    /// Base64 image data (a `data:` URL is taken too).
    #[serde(default)]
    pub images: Option<Vec<String>>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    pub tool_name: Option<String>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallIn {
    #[serde(default)]
    pub id: Option<String>,
    pub function: FunctionCallIn,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCallIn {
    pub name: String,
    /// An object in Ollama's API; a JSON string is taken too.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct ToolDef {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub function: FunctionDef,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// `"json"`, a JSON schema, or `""` for none.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Format {
    Named(String),
    Schema(Map<String, Value>),
}

/// `true`/`false`, or a level: `"low"`, `"medium"`, `"high"`, `"max"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Think {
    On(bool),
    Level(String),
}

/// What the client asked of the model's reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinkPlan {
    /// Return reasoning summaries in `thinking`.
    pub show: bool,
    pub want: Want,
}

impl ThinkPlan {
    /// Ollama thinks by default on models that can: unset is `true`.
    pub fn of(think: Option<&Think>) -> Result<ThinkPlan, ApiError> {
        let (show, want) = match think {
            None | Some(Think::On(true)) => (true, Want::Default),
            Some(Think::On(false)) => (false, Want::Least),
            Some(Think::Level(l)) => {
                let effort = match l.as_str() {
                    "low" => ReasoningEffort::Low,
                    "medium" => ReasoningEffort::Medium,
                    "high" => ReasoningEffort::High,
                    "max" => ReasoningEffort::Xhigh,
                    other => {
                        return Err(bad(
                            "think",
                            format!("invalid think value {other:?}: use true, false, \"low\", \"medium\", \"high\" or \"max\""),
                        ))
                    }
                };
                (true, Want::Near(effort))
            }
        };
        Ok(ThinkPlan { show, want })
    }
}

impl Format {
    pub fn to_text(&self) -> Result<Option<TextControls>, ApiError> {
        let format = match self {
            Format::Named(s) if s.is_empty() => return Ok(None),
            Format::Named(s) if s == "json" => TextFormat::JsonObject,
            Format::Named(other) => {
                return Err(bad(
                    "format",
                    format!("invalid format {other:?}: use \"json\" or a JSON schema"),
                ))
            }
            Format::Schema(schema) => TextFormat::JsonSchema {
                name: "response".to_owned(),
                schema: Value::Object(schema.clone()),
                strict: None,
                description: None,
            },
        };
        Ok(Some(TextControls {
            verbosity: None,
            format: Some(format),
        }))
    }
}

/// A base64 image as the data URL the backend takes, its type read from its first bytes.
pub fn image_url(data: &str, param: &str) -> Result<String, ApiError> {
    let data = data.trim();
    if data.starts_with("data:image/") {
        return Ok(data.to_owned());
    }
    // 16 base64 characters are 12 bytes: enough for every signature below.
    let head = data.get(..16.min(data.len())).unwrap_or("");
    let head = head.get(..head.len() - head.len() % 4).unwrap_or("");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(head)
        .map_err(|_| bad(param, "an image must be base64-encoded image data"))?;
    let mime = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        return Err(bad(
            param,
            "the Codex backend takes PNG, JPEG, GIF and WebP images; this one is none of them",
        ));
    };
    Ok(format!("data:{mime};base64,{data}"))
}

fn user_parts(
    text: String,
    images: Option<Vec<String>>,
    param: &str,
) -> Result<Vec<ContentPart>, ApiError> {
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(ContentPart::InputText { text });
    }
    for (i, img) in images.unwrap_or_default().iter().enumerate() {
        parts.push(ContentPart::InputImage {
            image_url: image_url(img, &format!("{param}.images[{i}]"))?,
            detail: None,
        });
    }
    Ok(parts)
}

fn arguments_text(args: Option<Value>) -> String {
    match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
    }
}

/// The conversation: leading system messages as instructions, the rest as input items.
pub struct Conversation {
    pub instructions: Vec<String>,
    pub input: Vec<InputItem>,
}

/// Ollama's tool calls may carry no id; the backend pairs calls and results by id. Calls without one get
/// an id from their place in the history (stable as the conversation grows, so the prompt cache holds),
/// and results without one answer the oldest open call of their tool (or the oldest open call).
pub fn conversation(messages: Vec<Message>) -> Result<Conversation, ApiError> {
    let mut instructions = Vec::new();
    let mut input = Vec::with_capacity(messages.len());
    let mut open_calls: Vec<(String, String)> = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        let here = format!("messages[{i}]");
        let text = m.content.unwrap_or_default();
        match m.role.to_ascii_lowercase().as_str() {
            "system" if input.is_empty() => instructions.push(text),
            "system" | "developer" => input.push(InputItem::text(Role::Developer, text)),
            "user" => {
                let parts = user_parts(text, m.images, &here)?;
                if !parts.is_empty() {
                    input.push(InputItem::Message {
                        role: Role::User,
                        content: parts,
                    });
                }
            }
            "assistant" => {
                if !text.is_empty() {
                    input.push(InputItem::text(Role::Assistant, text));
                }
                for (j, call) in m.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    let id = call
                        .id
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| format!("call_ollama_{i}_{j}"));
                    open_calls.push((id.clone(), call.function.name.clone()));
                    input.push(InputItem::FunctionCall {
                        call_id: id,
                        name: call.function.name,
                        arguments: arguments_text(call.function.arguments),
                        namespace: None,
                    });
                }
            }
            "tool" => {
                let pick = match (&m.tool_call_id, &m.tool_name) {
                    (Some(id), _) if !id.is_empty() => open_calls.iter().position(|(c, _)| c == id),
                    (_, Some(name)) => open_calls
                        .iter()
                        .position(|(_, n)| n == name)
                        .or(if open_calls.is_empty() { None } else { Some(0) }),
                    _ => (!open_calls.is_empty()).then_some(0),
                };
                let call_id = match (pick, m.tool_call_id.filter(|id| !id.is_empty())) {
                    (Some(p), _) => open_calls.remove(p).0,
                    (None, Some(id)) => id,
                    (None, None) => {
                        // A result with no call to answer: keep what it says, as the user's words.
                        let name = m.tool_name.as_deref().unwrap_or("a tool");
                        input.push(InputItem::text(
                            Role::User,
                            format!("Result of {name}:\n{text}"),
                        ));
                        continue;
                    }
                };
                input.push(InputItem::FunctionCallOutput {
                    call_id,
                    output: text.into(),
                });
            }
            other => {
                return Err(bad(
                    &format!("{here}.role"),
                    format!("unknown role {other:?}: use system, user, assistant or tool"),
                ))
            }
        }
    }
    Ok(Conversation {
        instructions,
        input,
    })
}

/// `/api/generate`'s prompt and images as the one user message.
pub fn prompt_input(
    prompt: String,
    images: Option<Vec<String>>,
) -> Result<Vec<InputItem>, ApiError> {
    let parts = user_parts(prompt, images, "prompt")?;
    Ok(if parts.is_empty() {
        Vec::new()
    } else {
        vec![InputItem::Message {
            role: Role::User,
            content: parts,
        }]
    })
}

pub fn tools(defs: Option<Vec<ToolDef>>) -> Result<Vec<Tool>, ApiError> {
    defs.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| match t.kind.as_deref() {
            None | Some("function") => Ok(Tool::Function {
                name: t.function.name,
                description: t.function.description,
                parameters: t.function.parameters.filter(|p| !p.is_null()),
                strict: None,
            }),
            Some(other) => Err(bad(
                &format!("tools[{i}].type"),
                format!("tools of type {other:?} are not supported: use \"function\""),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(v: Value) -> Vec<Message> {
        serde_json::from_value(v).expect("messages")
    }

    #[test]
    fn images_get_their_type_from_their_bytes() {
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000");
        assert!(image_url(&png, "i")
            .expect("png")
            .starts_with("data:image/png;base64,"));
        let jpg = base64::engine::general_purpose::STANDARD.encode(b"\xff\xd8\xff\xe0rest");
        assert!(image_url(&jpg, "i")
            .expect("jpg")
            .starts_with("data:image/jpeg;base64,"));
        let webp = base64::engine::general_purpose::STANDARD.encode(b"RIFF\0\0\0\0WEBPVP8 ");
        assert!(image_url(&webp, "i")
            .expect("webp")
            .starts_with("data:image/webp"));
        assert!(image_url("data:image/gif;base64,R0lG", "i").is_ok());
        let txt = base64::engine::general_purpose::STANDARD.encode(b"hello world, not an image");
        assert_eq!(
            image_url(&txt, "i").err().and_then(|e| e.param),
            Some("i".into())
        );
        assert!(image_url("!!!!", "i").is_err());
        assert!(image_url("", "i").is_err());
    }

    #[test]
    fn tool_results_find_their_calls() {
        let c = conversation(msgs(json!([
            {"role":"system","content":"be brief"},
            {"role":"user","content":"weather in Oslo and Rome?"},
            {"role":"assistant","content":"","tool_calls":[
                {"function":{"name":"weather","arguments":{"city":"Oslo"}}},
                {"id":"own","function":{"name":"time","arguments":"{}"}}]},
            {"role":"tool","tool_name":"time","content":"noon"},
            {"role":"tool","content":"-3 C"},
            {"role":"tool","content":"stray"}
        ])))
        .expect("conversation");
        assert_eq!(c.instructions, ["be brief"]);
        let v = serde_json::to_value(&c.input).expect("json");
        assert_eq!(v[1]["call_id"], "call_ollama_2_0");
        assert_eq!(v[1]["arguments"], "{\"city\":\"Oslo\"}");
        assert_eq!(v[2]["call_id"], "own");
        assert_eq!(v[3]["call_id"], "own");
        assert_eq!(v[3]["output"], "noon");
        assert_eq!(v[4]["call_id"], "call_ollama_2_0");
        assert_eq!(v[5]["role"], "user");
        assert!(conversation(msgs(json!([{"role":"wizard","content":"x"}]))).is_err());
    }

    #[test]
    fn think_and_format() {
        assert_eq!(
            ThinkPlan::of(None).expect("unset"),
            ThinkPlan {
                show: true,
                want: Want::Default
            }
        );
        assert_eq!(
            ThinkPlan::of(Some(&Think::On(false))).expect("false").want,
            Want::Least
        );
        assert_eq!(
            ThinkPlan::of(Some(&Think::Level("max".into())))
                .expect("max")
                .want,
            Want::Near(ReasoningEffort::Xhigh)
        );
        assert!(ThinkPlan::of(Some(&Think::Level("hard".into()))).is_err());
        let f: Format = serde_json::from_value(json!({"type":"object"})).expect("schema");
        let t = f.to_text().expect("ok").expect("some");
        assert!(matches!(t.format, Some(TextFormat::JsonSchema { .. })));
        let f: Format = serde_json::from_value(json!("")).expect("empty");
        assert!(f.to_text().expect("ok").is_none());
        let f: Format = serde_json::from_value(json!("yaml")).expect("named");
        assert!(f.to_text().is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "user",
        "assistant",
        "system",
        "tool",
        "function",
        "json",
        "high",
        "max",
        "iVBORw0KGgo=",
        "/9j/4AAQ",
        "data:image/png;base64,AA",
        "",
        "{}",
        "{\"a\":1}",
    ];
    const KEYS: &[&str] = &[
        "model",
        "messages",
        "role",
        "content",
        "images",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "id",
        "tool_name",
        "tool_call_id",
        "tools",
        "type",
        "parameters",
        "format",
        "think",
        "stream",
        "prompt",
        "system",
        "suffix",
        "keep_alive",
    ];

    proptest! {
        #[test]
        fn any_json_is_translated_or_refused(v in crate::fuzz::json(WORDS, KEYS)) {
            let bytes = serde_json::to_vec(&v).expect("json");
            if let Ok(req) = crate::http::json::parse_json::<ChatRequest>(&bytes) {
                let _ = ThinkPlan::of(req.think.as_ref());
                let _ = req.format.as_ref().map(Format::to_text);
                let _ = tools(req.tools);
                let _ = conversation(req.messages.unwrap_or_default());
            }
            if let Ok(req) = crate::http::json::parse_json::<GenerateRequest>(&bytes) {
                let _ = prompt_input(req.prompt.unwrap_or_default(), req.images);
            }
        }
    }
}
