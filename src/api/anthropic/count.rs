//! An estimate of a request's input tokens, for `POST /v1/messages/count_tokens` and the `input_tokens` of
//! `message_start` (before the backend has said).
//!
//! It is an estimate, not a tokenizer's count: about one token per four bytes of UTF-8 text (instructions,
//! messages, tool calls and results, tool definitions as JSON), four more per input item for its framing,
//! and a flat 765 per image (what a 1024×1024 image costs at high detail). The backend's real count,
//! which also covers its own framing, arrives in `usage` with the answer.

use codex_client::request::{ContentPart, InputItem, Tool, ToolOutput};

/// Tokens for one image, whatever its size.
pub(crate) const IMAGE_TOKENS: u64 = 765;
/// Tokens for the framing of one input item (role, separators).
pub(crate) const ITEM_TOKENS: u64 = 4;

#[derive(Default)]
struct Tally {
    bytes: u64,
    images: u64,
    items: u64,
}

impl Tally {
    fn text(&mut self, s: &str) {
        self.bytes += s.len() as u64;
    }

    fn part(&mut self, p: &ContentPart) {
        match p {
            ContentPart::InputText { text } | ContentPart::OutputText { text } => self.text(text),
            ContentPart::Refusal { refusal } => self.text(refusal),
            ContentPart::InputImage { .. } => self.images += 1,
        }
    }
}

pub(crate) fn input_tokens(instructions: &str, input: &[InputItem], tools: &[Tool]) -> u64 {
    let mut t = Tally::default();
    t.text(instructions);
    for item in input {
        t.items += 1;
        match item {
            InputItem::Message { content, .. } => content.iter().for_each(|p| t.part(p)),
            InputItem::FunctionCall {
                name, arguments, ..
            } => {
                t.text(name);
                t.text(arguments);
            }
            InputItem::CustomToolCall { name, input, .. } => {
                t.text(name);
                t.text(input);
            }
            InputItem::FunctionCallOutput { output, .. }
            | InputItem::CustomToolCallOutput { output, .. } => match output {
                ToolOutput::Text(s) => t.text(s),
                ToolOutput::Parts(parts) => parts.iter().for_each(|p| t.part(p)),
            },
            InputItem::Reasoning { summary, .. } => summary.iter().for_each(|s| t.text(&s.text)),
            InputItem::AdditionalTools { tools, .. }
            | InputItem::ToolSearchOutput { tools, .. } => {
                t.text(&serde_json::to_string(tools).unwrap_or_default())
            }
            InputItem::ToolSearchCall { arguments, .. } => t.text(&arguments.to_string()),
            // Opaque to us; the backend counts it.
            InputItem::Compaction { .. }
            | InputItem::CompactionTrigger {}
            | InputItem::WebSearchCall { .. }
            | InputItem::ImageGenerationCall { .. } => {}
        }
    }
    for tool in tools {
        t.text(&serde_json::to_string(tool).unwrap_or_default());
    }
    t.bytes.div_ceil(4) + t.items * ITEM_TOKENS + t.images * IMAGE_TOKENS
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_client::request::Role;

    #[test]
    fn counts_text_items_and_images() {
        let input = vec![
            InputItem::text(Role::User, "a".repeat(40)),
            InputItem::Message {
                role: Role::User,
                content: vec![ContentPart::InputImage {
                    image_url: "data:image/png;base64,AAAA".into(),
                    detail: None,
                }],
            },
        ];
        assert_eq!(
            input_tokens("", &input, &[]),
            10 + 2 * ITEM_TOKENS + IMAGE_TOKENS
        );
        assert_eq!(input_tokens("abcd", &[], &[]), 1);
        let tool = Tool::Function {
            name: "f".into(),
            description: None,
            parameters: None,
            strict: None,
        };
        assert!(input_tokens("", &[], &[tool]) > 0);
    }
}
