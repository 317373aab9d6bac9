//! An Anthropic Messages request as the neutral plan: content blocks become input items, thinking
//! settings an effort wish, tool choices the backend's.

use codex_client::request::{
    ContentPart, FunctionChoice, InputItem, ReasoningEffort, Role, SummaryText, TextControls,
    TextFormat, Tool, ToolChoice, ToolChoiceMode, ToolOutput,
};
use serde_json::Value;

use super::wire::{
    Block, ContentBlock, ImageSource, JsonOutputFormat, MessagesRequest, TextOrBlocks,
    ToolChoiceParam, ToolParam,
};
use crate::core::error::{bad, ApiError};
use crate::core::prepare::{Plan, Summary, Want};

/// How thinking blocks are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Thinking {
    /// No thinking blocks (thinking not enabled).
    Off,
    /// Thinking blocks with the reasoning summary.
    Summarized,
    /// Thinking blocks with empty text and the signature (`display: "omitted"`).
    Omitted,
}

/// The signature of a thinking block carries the backend's encrypted reasoning, so that a client which
/// replays its thinking blocks (as Anthropic requires in a tool loop) gives the backend its reasoning back.
/// Other signatures (Anthropic's own) mean nothing to the Codex backend and are dropped.
pub(crate) const SIGNATURE_PREFIX: &str = "codex-serve.reasoning.v1:";

pub(crate) fn signature(encrypted_content: &str) -> String {
    format!("{SIGNATURE_PREFIX}{encrypted_content}")
}

pub(crate) fn encrypted_content(signature: &str) -> Option<&str> {
    signature
        .strip_prefix(SIGNATURE_PREFIX)
        .filter(|e| !e.is_empty())
}

/// What a translated request leaves for the handler to decide with the catalog.
pub(crate) struct Translated {
    pub(crate) instructions: String,
    pub(crate) input: Vec<InputItem>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: Option<ToolChoice>,
    pub(crate) parallel_tool_calls: bool,
    pub(crate) text: Option<TextControls>,
    pub(crate) thinking: Thinking,
    pub(crate) want: Want,
    pub(crate) cache_key: Option<String>,
    pub(crate) priority: bool,
}

impl Translated {
    /// The neutral plan: `requested` as the client named the model, `target` what `--model-map` makes of it.
    pub(crate) fn into_plan(
        self,
        requested: String,
        target: String,
        session: Option<String>,
    ) -> Plan {
        Plan {
            requested,
            target,
            instructions: Some(self.instructions).filter(|i| !i.trim().is_empty()),
            input: self.input,
            tools: self.tools,
            tool_choice: self.tool_choice,
            parallel_tool_calls: self.parallel_tool_calls,
            text: self.text,
            effort: self.want,
            // Summaries are asked for only when they will be shown.
            summary: Summary::IfShown(self.thinking == Thinking::Summarized),
            cache_key: self.cache_key,
            session,
            restore_reasoning: true,
            service_tier: self.priority.then(|| "priority".to_owned()),
            ..Plan::default()
        }
    }
}

/// `budget_tokens` as an effort: Claude Code's "think" (4k) is low, "think hard" (10k) medium,
/// "ultrathink" (32k) high, anything larger the most there is.
pub(crate) fn budget_effort(budget: u64) -> ReasoningEffort {
    match budget {
        0..4096 => ReasoningEffort::Low,
        4096..16384 => ReasoningEffort::Medium,
        16384..=32768 => ReasoningEffort::High,
        _ => ReasoningEffort::Xhigh,
    }
}

fn effort_word(e: &str) -> Result<ReasoningEffort, ApiError> {
    Ok(match e {
        "low" => ReasoningEffort::Low,
        "medium" => ReasoningEffort::Medium,
        "high" => ReasoningEffort::High,
        "xhigh" | "max" => ReasoningEffort::Xhigh,
        other => {
            return Err(bad(
                "output_config.effort",
                format!(
                    "Input should be 'low', 'medium', 'high', 'xhigh' or 'max' (got '{other}')"
                ),
            ))
        }
    })
}

fn image(source: ImageSource, param: &str) -> Result<ContentPart, ApiError> {
    let image_url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
        ImageSource::File { .. } => {
            return Err(bad(
                param,
                "Could not process image: images from the Files API are not supported by the Codex backend; send them as base64 or a URL",
            ))
        }
    };
    Ok(ContentPart::InputImage {
        image_url,
        detail: None,
    })
}

/// A block this server does not know: a text document becomes text; server-tool blocks in an
/// assistant turn (results the client got elsewhere) are dropped; anything else is refused by name.
fn other_block(v: &Value, assistant: bool, param: &str) -> Result<Option<String>, ApiError> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    let source = v.get("source");
    let source_kind = source.and_then(|s| s.get("type")).and_then(Value::as_str);
    match kind {
        "document" if source_kind == Some("text") => Ok(Some(
            source
                .and_then(|s| s.get("data"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )),
        // Worded as Anthropic words a model without PDF support, so that clients strip documents and retry.
        "document" => Err(bad(
            &format!("{param}.document"),
            "This model does not support PDF input: the Codex backend takes text and images; send the document's text",
        )),
        "server_tool_use" | "mcp_tool_use" if assistant => Ok(None),
        k if assistant && k.ends_with("_tool_result") => Ok(None),
        "text" | "image" | "tool_use" | "tool_result" | "thinking" | "redacted_thinking" => {
            Err(bad(param, format!("malformed {kind} block")))
        }
        "" => Err(bad(param, "a content block needs a `type`")),
        other => Err(bad(
            param,
            format!("content blocks of type '{other}' are not supported by the Codex backend"),
        )
        .with_code("unsupported_content_block")),
    }
}

fn tool_output(
    content: Option<TextOrBlocks>,
    is_error: bool,
    param: &str,
) -> Result<ToolOutput, ApiError> {
    let prefix = if is_error { "Error: " } else { "" };
    let blocks = match content {
        None => return Ok(ToolOutput::Text(prefix.trim_end().to_owned())),
        Some(TextOrBlocks::Text(t)) => return Ok(ToolOutput::Text(format!("{prefix}{t}"))),
        Some(TextOrBlocks::Blocks(b)) => b,
    };
    let mut parts = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        let here = format!("{param}.content[{i}]");
        match b {
            Block::Known(ContentBlock::Text { text }) => {
                parts.push(ContentPart::InputText { text })
            }
            Block::Known(ContentBlock::Image { source }) => parts.push(image(source, &here)?),
            Block::Known(_) => {
                return Err(bad(&here, "a tool_result holds text and image blocks only"))
            }
            Block::Other(v) => {
                if let Some(text) = other_block(&v, false, &here)? {
                    parts.push(ContentPart::InputText { text });
                }
            }
        }
    }
    // Text alone reads best as one string.
    if parts
        .iter()
        .all(|p| matches!(p, ContentPart::InputText { .. }))
    {
        let text: Vec<String> = parts
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::InputText { text } => Some(text),
                _ => None,
            })
            .collect();
        return Ok(ToolOutput::Text(format!("{prefix}{}", text.join("\n"))));
    }
    if is_error {
        parts.insert(
            0,
            ContentPart::InputText {
                text: prefix.trim_end().to_owned(),
            },
        );
    }
    Ok(ToolOutput::Parts(parts))
}

/// One message's blocks, in order, as input items.
fn message_items(
    role: &str,
    content: TextOrBlocks,
    param: &str,
    out: &mut Vec<InputItem>,
) -> Result<(), ApiError> {
    let assistant = match role {
        "user" => false,
        "assistant" => true,
        // Claude Code's `mid-conversation-system` beta: guidance at its place in the conversation, which
        // the backend takes as a developer message there.
        "system" => {
            let text = system_text(Some(content))
                .map_err(|e| bad(&format!("{param}.content"), e.message))?;
            if !text.is_empty() {
                out.push(InputItem::text(Role::Developer, text));
            }
            return Ok(());
        }
        _ => {
            return Err(bad(
                &format!("{param}.role"),
                "Input should be 'user', 'assistant' or 'system'",
            ))
        }
    };
    let (msg_role, text_part): (Role, fn(String) -> ContentPart) = if assistant {
        (Role::Assistant, |text| ContentPart::OutputText { text })
    } else {
        (Role::User, |text| ContentPart::InputText { text })
    };
    let blocks = match content {
        TextOrBlocks::Text(t) => {
            if !t.is_empty() {
                out.push(InputItem::Message {
                    role: msg_role,
                    content: vec![text_part(t)],
                });
            }
            return Ok(());
        }
        TextOrBlocks::Blocks(b) => b,
    };
    let mut parts: Vec<ContentPart> = Vec::new();
    let flush = |parts: &mut Vec<ContentPart>, out: &mut Vec<InputItem>| {
        if !parts.is_empty() {
            out.push(InputItem::Message {
                role: msg_role,
                content: std::mem::take(parts),
            });
        }
    };
    for (i, b) in blocks.into_iter().enumerate() {
        let here = format!("{param}.content[{i}]");
        match b {
            Block::Known(ContentBlock::Text { text }) => {
                if !text.is_empty() {
                    parts.push(text_part(text));
                }
            }
            Block::Known(ContentBlock::Image { source }) if !assistant => {
                parts.push(image(source, &here)?)
            }
            Block::Known(ContentBlock::ToolUse { id, name, input }) if assistant => {
                flush(&mut parts, out);
                let arguments = match input {
                    Value::Null => "{}".to_owned(),
                    v => v.to_string(),
                };
                out.push(InputItem::FunctionCall {
                    call_id: id,
                    name,
                    arguments,
                    namespace: None,
                });
            }
            Block::Known(ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            }) if !assistant => {
                flush(&mut parts, out);
                out.push(InputItem::FunctionCallOutput {
                    call_id: tool_use_id,
                    output: tool_output(content, is_error == Some(true), &here)?,
                });
            }
            Block::Known(ContentBlock::Thinking {
                thinking,
                signature,
            }) if assistant => {
                // Only our own signatures carry reasoning the backend can resume from.
                if let Some(enc) = encrypted_content(&signature) {
                    flush(&mut parts, out);
                    out.push(InputItem::Reasoning {
                        summary: if thinking.is_empty() {
                            Vec::new()
                        } else {
                            vec![SummaryText { text: thinking }]
                        },
                        encrypted_content: Some(enc.to_owned()),
                    });
                }
            }
            Block::Known(ContentBlock::RedactedThinking { .. }) if assistant => {}
            Block::Known(other) => {
                let kind = match other {
                    ContentBlock::Text { .. } => "text",
                    ContentBlock::Image { .. } => "image",
                    ContentBlock::ToolUse { .. } => "tool_use",
                    ContentBlock::ToolResult { .. } => "tool_result",
                    ContentBlock::Thinking { .. } => "thinking",
                    ContentBlock::RedactedThinking { .. } => "redacted_thinking",
                };
                return Err(bad(
                    &here,
                    format!("a {role} message cannot hold a {kind} block"),
                ));
            }
            Block::Other(v) => {
                if let Some(text) = other_block(&v, assistant, &here)? {
                    parts.push(text_part(text));
                }
            }
        }
    }
    flush(&mut parts, out);
    Ok(())
}

fn system_text(system: Option<TextOrBlocks>) -> Result<String, ApiError> {
    match system {
        None => Ok(String::new()),
        Some(TextOrBlocks::Text(t)) => Ok(t),
        Some(TextOrBlocks::Blocks(blocks)) => {
            let mut texts = Vec::new();
            for (i, b) in blocks.into_iter().enumerate() {
                match b {
                    Block::Known(ContentBlock::Text { text }) => texts.push(text),
                    _ => {
                        return Err(bad(
                            &format!("system[{i}].type"),
                            "Input tag found using 'type' does not match the expected tag: 'text' (a system prompt holds text blocks only)",
                        ))
                    }
                }
            }
            Ok(texts.join("\n\n"))
        }
    }
}

fn tools(list: Option<Vec<ToolParam>>) -> Result<Vec<Tool>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| match t.kind.as_deref() {
            None | Some("custom") => Ok(Tool::Function {
                name: t.name,
                description: t.description,
                parameters: t.input_schema.filter(|s| !s.is_null()),
                strict: t.strict,
            }),
            // The backend searches the web itself; its answer comes back as text.
            Some(k) if k.starts_with("web_search_") => Ok(Tool::web_search()),
            Some(other) => Err(bad(
                &format!("tools[{i}].type"),
                format!("tools of type '{other}' are not supported by the Codex backend: define it as a custom tool with an input_schema"),
            )),
        })
        .collect()
}

fn json_format(f: JsonOutputFormat, param: &str) -> Result<TextFormat, ApiError> {
    if f.kind != "json_schema" {
        return Err(bad(param, "the output format's type must be json_schema"));
    }
    Ok(TextFormat::JsonSchema {
        name: "output".to_owned(),
        schema: f
            .schema
            .unwrap_or_else(|| serde_json::json!({"type": "object"})),
        strict: None,
        description: None,
    })
}

impl MessagesRequest {
    pub(crate) fn translate(self) -> Result<Translated, ApiError> {
        if self.messages.is_empty() {
            return Err(bad("messages", "at least one message is required"));
        }
        let instructions = system_text(self.system)?;
        let mut input = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.into_iter().enumerate() {
            message_items(&m.role, m.content, &format!("messages[{i}]"), &mut input)?;
        }
        if input.is_empty() {
            return Err(bad("messages", "the messages hold no content"));
        }

        let (thinking, mut want) = match &self.thinking {
            None => (Thinking::Off, Want::Default),
            Some(t) => {
                let display = match t.display.as_deref() {
                    None | Some("summarized") => Thinking::Summarized,
                    Some("omitted") => Thinking::Omitted,
                    Some(other) => {
                        return Err(bad(
                            "thinking.display",
                            format!("Input should be 'summarized' or 'omitted' (got '{other}')"),
                        ))
                    }
                };
                match t.kind.as_str() {
                    "disabled" => (Thinking::Off, Want::Default),
                    "enabled" => (
                        display,
                        t.budget_tokens
                            .map_or(Want::Default, |b| Want::Near(budget_effort(b))),
                    ),
                    "adaptive" | "between_tools" => (display, Want::Default),
                    other => {
                        return Err(bad(
                            "thinking.type",
                            format!(
                            "Input tag '{other}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
                        ),
                        ))
                    }
                }
            }
        };
        let mut format = None;
        if let Some(oc) = self.output_config {
            if let Some(e) = oc.effort.as_deref() {
                want = Want::Near(effort_word(e)?);
            }
            if let Some(f) = oc.format {
                format = Some(json_format(f, "output_config.format")?);
            }
        }
        if format.is_none() {
            if let Some(f) = self.output_format {
                format = Some(json_format(f, "output_format")?);
            }
        }

        let (tool_choice, no_parallel) = match self.tool_choice {
            None => (None, false),
            Some(ToolChoiceParam::Auto {
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Mode(ToolChoiceMode::Auto)),
                d == Some(true),
            ),
            Some(ToolChoiceParam::Any {
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Mode(ToolChoiceMode::Required)),
                d == Some(true),
            ),
            Some(ToolChoiceParam::Tool {
                name,
                disable_parallel_tool_use: d,
            }) => (
                Some(ToolChoice::Function(FunctionChoice { name })),
                d == Some(true),
            ),
            Some(ToolChoiceParam::None) => (Some(ToolChoice::Mode(ToolChoiceMode::None)), false),
        };

        Ok(Translated {
            instructions,
            input,
            tools: tools(self.tools)?,
            tool_choice,
            parallel_tool_calls: !no_parallel,
            text: format.map(|f| TextControls {
                verbosity: None,
                format: Some(f),
            }),
            thinking,
            want,
            cache_key: self
                .metadata
                .and_then(|m| m.user_id)
                .filter(|u| !u.is_empty()),
            priority: self.speed.as_deref() == Some("fast"),
        })
    }
}

#[cfg(test)]
mod tests;
