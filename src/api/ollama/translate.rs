//! An Ollama chat or generate request ([`super::wire`]) as the neutral plan: the conversation, images,
//! tools, `think` and `format`, then the checks that are Ollama's own.

use base64::Engine as _;
use codex_client::request::{
    ContentPart, InputItem, ReasoningEffort, Role, TextControls, TextFormat, Tool,
};
use serde_json::Value;

use super::error::OllamaError;
use super::wire::{Format, Message, Think, ToolDef};
use crate::core::error::{bad, ApiError};
use crate::core::prepare::{Plan, Summary, Want};

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

/// What the client asked of the model's reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ThinkPlan {
    /// Return reasoning summaries in `thinking`.
    pub(crate) show: bool,
    pub(crate) want: Want,
}

impl ThinkPlan {
    /// Ollama thinks by default on models that can: unset is `true`.
    pub(crate) fn of(think: Option<&Think>) -> Result<ThinkPlan, ApiError> {
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
    pub(crate) fn to_text(&self) -> Result<Option<TextControls>, ApiError> {
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
pub(crate) fn image_url(data: &str, param: &str) -> Result<String, ApiError> {
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
        parts.push(ContentPart::InputText { text: text.into() });
    }
    for (i, img) in images.unwrap_or_default().iter().enumerate() {
        parts.push(ContentPart::InputImage {
            image_url: image_url(img, &format!("{param}.images[{i}]"))?.into(),
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
pub(crate) struct Conversation {
    pub(crate) instructions: Vec<String>,
    pub(crate) input: Vec<InputItem>,
}

/// Ollama's tool calls may carry no id; the backend pairs calls and results by id. Calls without one get
/// an id from their place in the history (stable as the conversation grows, so the prompt cache holds),
/// and results without one answer the oldest open call of their tool (or the oldest open call).
pub(crate) fn conversation(messages: Vec<Message>) -> Result<Conversation, ApiError> {
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
                        arguments: arguments_text(call.function.arguments).into(),
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
pub(crate) fn prompt_input(
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

pub(crate) fn tools(defs: Option<Vec<ToolDef>>) -> Result<Vec<Tool>, ApiError> {
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
mod tests;
