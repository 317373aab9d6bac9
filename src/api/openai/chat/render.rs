//! The chat completion on the wire: one `chat.completion` object, or `chat.completion.chunk`s over SSE
//! ending in `data: [DONE]`.

use super::wire::{
    AssistantMessage, ChatUsage, Choice, Chunk, ChunkChoice, Completion, CompletionDetails, Delta,
    FunctionCall, FunctionDelta, PromptDetails, ToolCall, ToolCallDelta,
};
use crate::core::error::ApiError;
use crate::core::piece::{FinishReason, Gather, Piece, Render};
use codex_client::Usage;

/// Who the answer is: its id, creation time and model.
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) model: String,
}

impl From<Usage> for ChatUsage {
    fn from(u: Usage) -> Self {
        ChatUsage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: if u.total_tokens > 0 {
                u.total_tokens
            } else {
                u.input_tokens + u.output_tokens
            },
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.input_tokens_details.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: u.output_tokens_details.reasoning_tokens,
            },
        }
    }
}

/// Builds the whole `chat.completion`.
pub(crate) struct Whole {
    pub(crate) meta: Meta,
    content: String,
    reasoning: String,
    calls: Vec<ToolCall>,
}

impl Whole {
    pub(crate) fn new(meta: Meta) -> Whole {
        Whole {
            meta,
            content: String::new(),
            reasoning: String::new(),
            calls: Vec::new(),
        }
    }
}

impl Gather for Whole {
    type Output = Completion;

    fn piece(&mut self, p: Piece<'_>) {
        match p {
            Piece::Content(t) => self.content.push_str(t),
            Piece::Reasoning(t) => self.reasoning.push_str(t),
            Piece::ToolCallStart { id, name, .. } => self.calls.push(ToolCall {
                id: id.to_owned(),
                kind: "function",
                function: FunctionCall {
                    name: name.to_owned(),
                    arguments: String::new(),
                },
            }),
            Piece::ToolCallArgs { index, args } => {
                if let Some(c) = self.calls.get_mut(index as usize) {
                    c.function.arguments.push_str(args);
                }
            }
            Piece::Finish { .. } | Piece::ReasoningDone { .. } | Piece::ToolCallDone { .. } => {}
        }
    }

    fn finish(self, reason: FinishReason, usage: Option<Usage>) -> Completion {
        let Whole {
            meta,
            content,
            reasoning,
            calls,
        } = self;
        Completion {
            id: meta.id,
            object: "chat.completion",
            created: meta.created,
            model: meta.model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: (!content.is_empty() || calls.is_empty()).then_some(content),
                    refusal: None,
                    reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                    tool_calls: calls,
                },
                finish_reason: reason.as_str(),
                logprobs: None,
            }],
            usage: usage.map(ChatUsage::from),
        }
    }
}

/// Writes chunks for one completion.
pub(crate) struct Framer {
    pub(crate) meta: Meta,
    pub(crate) include_usage: bool,
}

impl Framer {
    fn frame(&self, buf: &mut Vec<u8>, choices: &[ChunkChoice<'_>], usage: Option<ChatUsage>) {
        let chunk = Chunk {
            id: &self.meta.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            choices,
            usage,
        };
        // One chunk is a few hundred bytes: reserve once instead of growing from nothing.
        buf.reserve(384);
        buf.extend_from_slice(b"data: ");
        // Serialising plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &chunk);
        buf.extend_from_slice(b"\n\n");
    }

    fn delta(&self, buf: &mut Vec<u8>, delta: Delta<'_>, finish: Option<&'static str>) {
        self.frame(
            buf,
            &[ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            None,
        );
    }

    fn piece(&self, buf: &mut Vec<u8>, p: Piece<'_>) {
        let call = |index, id, kind, name, arguments| Delta {
            tool_calls: Some([ToolCallDelta {
                index,
                id,
                kind,
                function: FunctionDelta { name, arguments },
            }]),
            ..Delta::default()
        };
        match p {
            Piece::Content(t) => self.delta(
                buf,
                Delta {
                    content: Some(t),
                    ..Delta::default()
                },
                None,
            ),
            Piece::Reasoning(t) => self.delta(
                buf,
                Delta {
                    reasoning_content: Some(t),
                    ..Delta::default()
                },
                None,
            ),
            Piece::ToolCallStart { index, id, name } => self.delta(
                buf,
                call(index, Some(id), Some("function"), Some(name), Some("")),
                None,
            ),
            Piece::ToolCallArgs { index, args } => {
                self.delta(buf, call(index, None, None, None, Some(args)), None)
            }
            Piece::Finish { reason, usage } => {
                self.delta(buf, Delta::default(), Some(reason.as_str()));
                if self.include_usage {
                    self.frame(buf, &[], Some(usage.unwrap_or_default().into()));
                }
                buf.extend_from_slice(b"data: [DONE]\n\n");
            }
            Piece::ReasoningDone { .. } | Piece::ToolCallDone { .. } => {}
        }
    }
}

impl Render for Framer {
    const CONTENT_TYPE: &'static str = "text/event-stream";

    /// The role chunk goes out at once, before the first delta.
    fn head(&mut self, out: &mut Vec<u8>) {
        self.delta(
            out,
            Delta {
                role: Some("assistant"),
                content: Some(""),
                ..Delta::default()
            },
            None,
        );
    }

    fn piece(&mut self, p: Piece<'_>, out: &mut Vec<u8>) {
        Framer::piece(self, out, p)
    }

    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        error_frame(out, err)
    }
}

fn error_frame(buf: &mut Vec<u8>, err: &ApiError) {
    buf.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut *buf, &err.body());
    buf.extend_from_slice(b"\n\n");
}
