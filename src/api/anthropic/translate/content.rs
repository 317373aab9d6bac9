//! A request's content as the backend's input: each message's blocks (text, images, tool calls and
//! results, thinking) in order as input items, and the system prompt as text.

use codex_client::request::{ContentPart, InputItem, Role, SummaryText, ToolOutput};
use serde_json::Value;

use super::encrypted_content;
use crate::api::anthropic::wire::{Block, ContentBlock, ImageSource, TextOrBlocks};
use crate::core::error::{bad, ApiError};

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
        image_url: image_url.into(),
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
        None => return Ok(ToolOutput::Text(prefix.trim_end().to_owned().into())),
        Some(TextOrBlocks::Text(t)) => return Ok(ToolOutput::Text(format!("{prefix}{t}").into())),
        Some(TextOrBlocks::Blocks(b)) => b,
    };
    let mut parts = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        let here = format!("{param}.content[{i}]");
        match b {
            Block::Known(ContentBlock::Text { text }) => {
                parts.push(ContentPart::InputText { text: text.into() })
            }
            Block::Known(ContentBlock::Image { source }) => parts.push(image(source, &here)?),
            Block::Known(_) => {
                return Err(bad(&here, "a tool_result holds text and image blocks only"))
            }
            Block::Other(v) => {
                if let Some(text) = other_block(&v, false, &here)? {
                    parts.push(ContentPart::InputText { text: text.into() });
                }
            }
        }
    }
    // Text alone reads best as one string.
    if parts
        .iter()
        .all(|p| matches!(p, ContentPart::InputText { .. }))
    {
        let text: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::InputText { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        return Ok(ToolOutput::Text(
            format!("{prefix}{}", text.join("\n")).into(),
        ));
    }
    if is_error {
        parts.insert(
            0,
            ContentPart::InputText {
                text: prefix.trim_end().to_owned().into(),
            },
        );
    }
    Ok(ToolOutput::Parts(parts))
}

/// One message's blocks, in order, as input items.
pub(super) fn message_items(
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
        (Role::Assistant, |text| ContentPart::OutputText {
            text: text.into(),
        })
    } else {
        (Role::User, |text| ContentPart::InputText {
            text: text.into(),
        })
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
                    arguments: arguments.into(),
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

pub(super) fn system_text(system: Option<TextOrBlocks>) -> Result<String, ApiError> {
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
