//! A chat completion request ([`super::wire`]) as the neutral plan.
//!
//! Fields are read from an allowlist: anything not named in the wire types is ignored, and the upstream
//! body is the typed `ResponsesRequest`, so nothing unknown can reach the backend.

use codex_client::request::{
    ContentPart, FunctionChoice, InputItem, ReasoningEffort, Role, TextControls, TextFormat, Tool,
    ToolChoice, ToolChoiceMode,
};
use std::sync::Arc;

use serde_json::Value;

use super::wire::{
    ChatCompletionRequest, ChatMessage, ChatTool, ContentPartIn, MessageContent, ResponseFormat,
};
use crate::core::error::ApiError;
use crate::core::prepare::{Plan, Summary, Want};
use crate::core::resent::Settled;

impl MessageContent {
    fn into_parts(
        self,
        role: &str,
        out: &mut Vec<ContentPart>,
        assistant: bool,
    ) -> Result<(), ApiError> {
        match self {
            MessageContent::Text(text) => out.push(text_part(text, assistant)),
            MessageContent::Parts(parts) => {
                for p in parts {
                    match p {
                        ContentPartIn::Text { text } => out.push(text_part(text, assistant)),
                        ContentPartIn::Refusal { refusal } if assistant => {
                            out.push(text_part(refusal, true))
                        }
                        ContentPartIn::ImageUrl { image_url } if !assistant => {
                            out.push(ContentPart::InputImage {
                                image_url: image_url.url.into(),
                                detail: image_url.detail,
                            })
                        }
                        other => {
                            let kind = match other {
                                ContentPartIn::ImageUrl { .. } => "image_url",
                                ContentPartIn::Refusal { .. } => "refusal",
                                ContentPartIn::InputAudio {} => "input_audio",
                                ContentPartIn::File {} => "file",
                                ContentPartIn::Text { .. } => "text",
                            };
                            return Err(ApiError::invalid(format!(
                                "content part of type '{kind}' is not supported in a {role} message by the Codex backend"
                            ))
                            .with_code("unsupported_content_part"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Plain text of the message (system/developer/tool messages), text parts joined.
    fn into_text(self, role: &str) -> Result<String, ApiError> {
        match self {
            MessageContent::Text(t) => Ok(t),
            MessageContent::Parts(parts) => {
                let mut text = String::new();
                for p in parts {
                    match p {
                        ContentPartIn::Text { text: t } => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(&t);
                        }
                        _ => {
                            return Err(ApiError::invalid(format!(
                                "a {role} message can only hold text parts"
                            ))
                            .with_code("unsupported_content_part"))
                        }
                    }
                }
                Ok(text)
            }
        }
    }
}

fn text_part(text: String, assistant: bool) -> ContentPart {
    if assistant {
        ContentPart::OutputText { text: text.into() }
    } else {
        ContentPart::InputText { text: text.into() }
    }
}

impl ChatCompletionRequest {
    /// Checks and translates; `session` is the client's own conversation id (the `X-Session-Id` header).
    #[cfg(test)]
    pub(crate) fn translate(self, session: Option<&str>) -> Result<Plan, ApiError> {
        self.translate_after(session, None, false)
            .map(|(plan, _)| plan)
    }

    /// Checks and translates the request's messages after `earlier`, the messages an earlier body
    /// settled (its `messages` were cut out of this one, [`crate::core::resent`]); with `keep`, also
    /// what this body's messages settle, for the next body.
    pub(crate) fn translate_after(
        self,
        session: Option<&str>,
        earlier: Option<Arc<Settled>>,
        keep: bool,
    ) -> Result<(Plan, Option<Settled>), ApiError> {
        if self.model.trim().is_empty() {
            return Err(ApiError::invalid("`model` must not be empty").with_param("model"));
        }
        if self.messages.is_empty() && earlier.is_none() {
            return Err(
                ApiError::invalid("`messages` must hold at least one message")
                    .with_param("messages"),
            );
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(
                ApiError::invalid("the Codex backend returns one choice: `n` must be 1")
                    .with_param("n"),
            );
        }
        if self.logprobs == Some(true) {
            return Err(
                ApiError::invalid("the Codex backend does not return log probabilities")
                    .with_param("logprobs"),
            );
        }

        let effort = match &self.reasoning_effort {
            Some(e) => Want::Exact(ReasoningEffort::parse(e).ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown reasoning_effort '{e}': use one of none, minimal, low, medium, high, xhigh"
                ))
                .with_param("reasoning_effort")
            })?),
            None => Want::Default,
        };

        let mut read = Reader::after(earlier.as_deref());
        for msg in self.messages {
            read.push(msg)?;
        }
        let Reader {
            instructions,
            seen_conversation,
            input: own,
        } = read;
        let own_len = own.len();
        let input = match &earlier {
            Some(e) => {
                let mut all = e.items();
                all.extend(own);
                all
            }
            None => own,
        };
        let settled = keep.then(|| {
            Settled::after(
                earlier,
                &input,
                own_len,
                instructions.clone(),
                seen_conversation,
            )
        });
        if input.is_empty() {
            return Err(ApiError::invalid(
                "`messages` holds only system messages: add at least one user message",
            )
            .with_param("messages"));
        }
        let instructions = instructions.join("\n\n");
        let tools = self
            .tools
            .unwrap_or_default()
            .into_iter()
            .map(|ChatTool::Function { function: f }| Tool::Function {
                name: f.name,
                description: f.description,
                parameters: f.parameters,
                strict: f.strict,
            })
            .collect();
        let tool_choice = self.tool_choice.map(tool_choice).transpose()?;
        let format = self.response_format.map(|f| match f {
            ResponseFormat::Text => TextFormat::Text,
            ResponseFormat::JsonObject => TextFormat::JsonObject,
            ResponseFormat::JsonSchema { json_schema: s } => TextFormat::JsonSchema {
                name: s.name,
                schema: s
                    .schema
                    .unwrap_or_else(|| serde_json::json!({"type": "object"})),
                strict: s.strict,
                description: s.description,
            },
        });
        let text = (format.is_some() || self.verbosity.is_some()).then_some(TextControls {
            verbosity: self.verbosity,
            format,
        });
        let plan = Plan {
            target: self.model.clone(),
            requested: self.model,
            instructions: Some(instructions).filter(|i| !i.trim().is_empty()),
            input,
            tools,
            tool_choice,
            parallel_tool_calls: self.parallel_tool_calls.unwrap_or(true),
            text,
            effort,
            summary: Summary::Default,
            cache_key: self.prompt_cache_key.or(self.user),
            session: session.map(str::to_owned),
            restore_reasoning: true,
            service_tier: self.service_tier.filter(|t| t == "priority" || t == "flex"),
            ..Plan::default()
        };
        Ok((plan, settled))
    }
}

/// Messages translated one by one.
struct Reader {
    instructions: Arc<Vec<String>>,
    seen_conversation: bool,
    input: Vec<InputItem>,
}

impl Reader {
    fn after(earlier: Option<&Settled>) -> Reader {
        Reader {
            instructions: earlier.map(|e| e.instructions.clone()).unwrap_or_default(),
            seen_conversation: earlier.is_some_and(|e| e.seen_conversation),
            input: Vec::new(),
        }
    }

    fn push(&mut self, msg: ChatMessage) -> Result<(), ApiError> {
        match msg {
            // Leading system text is the backend's `instructions`; later system messages become
            // developer guidance, since the backend rejects `system` items in `input`.
            ChatMessage::System { content } if !self.seen_conversation => {
                Arc::make_mut(&mut self.instructions).push(content.into_text("system")?)
            }
            ChatMessage::System { content } | ChatMessage::Developer { content } => {
                self.input.push(InputItem::text(
                    Role::Developer,
                    content.into_text("developer")?,
                ));
            }
            ChatMessage::User { content } => {
                self.seen_conversation = true;
                let mut parts = Vec::new();
                content.into_parts("user", &mut parts, false)?;
                self.input.push(InputItem::Message {
                    role: Role::User,
                    content: parts,
                });
            }
            ChatMessage::Assistant {
                content,
                refusal,
                tool_calls,
            } => {
                self.seen_conversation = true;
                let mut parts = Vec::new();
                if let Some(c) = content {
                    c.into_parts("assistant", &mut parts, true)?;
                }
                if let Some(r) = refusal {
                    parts.push(ContentPart::OutputText { text: r.into() });
                }
                parts.retain(|p| !matches!(p, ContentPart::OutputText { text } if text.is_empty()));
                if !parts.is_empty() {
                    self.input.push(InputItem::Message {
                        role: Role::Assistant,
                        content: parts,
                    });
                }
                for call in tool_calls {
                    let f = call.function.ok_or_else(|| {
                        ApiError::invalid("an assistant tool call needs `function`")
                            .with_param("messages")
                    })?;
                    self.input.push(InputItem::FunctionCall {
                        call_id: call.id,
                        name: f.name,
                        arguments: f.arguments.into(),
                        namespace: None,
                    });
                }
            }
            ChatMessage::Tool {
                content,
                tool_call_id,
            } => {
                self.seen_conversation = true;
                self.input.push(InputItem::FunctionCallOutput {
                    call_id: tool_call_id,
                    output: content.into_text("tool")?.into(),
                });
            }
        }
        Ok(())
    }
}

pub(crate) fn tool_choice(v: Value) -> Result<ToolChoice, ApiError> {
    let bad = || {
        ApiError::invalid("`tool_choice` must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}")
            .with_param("tool_choice")
    };
    match &v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Mode(ToolChoiceMode::Auto)),
            "none" => Ok(ToolChoice::Mode(ToolChoiceMode::None)),
            "required" => Ok(ToolChoice::Mode(ToolChoiceMode::Required)),
            _ => Err(bad()),
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            Ok(ToolChoice::Function(FunctionChoice {
                name: name.to_owned(),
            }))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
