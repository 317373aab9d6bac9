//! Anthropic's answers: one `message`, or its events over SSE (`message_start`, `ping`,
//! `content_block_start`/`_delta`/`_stop`, `message_delta`, `message_stop`, and a `ping` whenever the
//! backend is silent for a while).

use std::time::Duration;

use codex_client::Usage;
use serde::Serialize;

use super::blocks::{BlockDelta, BlockEvent, Blocks, Content, OutBlock};
use super::error::{anthropic_message, error_type, ErrorDetail};
use super::translate::Thinking;
use crate::core::error::ApiError;
use crate::core::piece::{FinishReason, Gather, Piece, Render};

/// A `ping` goes out when the backend has sent nothing for this long (it may be reasoning at length
/// with nothing to show), so that clients and proxies see a live connection.
const PING_AFTER: Duration = Duration::from_secs(10);

/// Who the answer is, and the input estimate `message_start` carries until the backend counts it.
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) estimate: u64,
}

#[derive(Serialize)]
pub(crate) struct Message {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: String,
    content: Vec<OutBlock>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<String>,
    pub(crate) usage: MessageUsage,
}

#[derive(Serialize)]
pub(crate) struct MessageUsage {
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    cache_creation_input_tokens: u64,
    pub(crate) cache_read_input_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Serialize)]
struct OutputDetails {
    thinking_tokens: u64,
}

/// The backend counts cached tokens inside `input_tokens`; Anthropic counts them apart.
fn usage(u: Option<Usage>) -> MessageUsage {
    let u = u.unwrap_or_default();
    let cached = u.input_tokens_details.cached_tokens.min(u.input_tokens);
    MessageUsage {
        input_tokens: u.input_tokens - cached,
        output_tokens: u.output_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
        output_tokens_details: Some(OutputDetails {
            thinking_tokens: u.output_tokens_details.reasoning_tokens,
        }),
    }
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message,
    },
    ContentBlockStart {
        index: u32,
        content_block: &'a OutBlock,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: &'a BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: MessageUsage,
    },
    MessageStop,
    Error {
        error: ErrorDetail,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
            Event::Error { .. } => "error",
        }
    }

    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(self.name().as_bytes());
        buf.extend_from_slice(b"\ndata: ");
        // Serialising plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, self);
        buf.extend_from_slice(b"\n\n");
    }
}

fn stop_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Stop => "end_turn",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::Length => "max_tokens",
        FinishReason::ContentFilter => "refusal",
    }
}

fn write_blocks(events: &[BlockEvent], buf: &mut Vec<u8>) {
    for e in events {
        match e {
            BlockEvent::Start(index, block) => Event::ContentBlockStart {
                index: *index,
                content_block: block,
            },
            BlockEvent::Delta(index, delta) => Event::ContentBlockDelta {
                index: *index,
                delta,
            },
            BlockEvent::Stop(index) => Event::ContentBlockStop { index: *index },
        }
        .write(buf);
    }
}

/// The streamed message.
pub(crate) struct Sse {
    meta: Meta,
    blocks: Blocks,
}

impl Sse {
    pub(crate) fn new(meta: Meta, thinking: Thinking) -> Sse {
        Sse {
            meta,
            blocks: Blocks::new(thinking),
        }
    }
}

impl Render for Sse {
    const CONTENT_TYPE: &'static str = "text/event-stream";
    const KEEP_ALIVE: Option<Duration> = Some(PING_AFTER);

    fn head(&mut self, out: &mut Vec<u8>) {
        Event::MessageStart {
            message: Message {
                id: self.meta.id.clone(),
                kind: "message",
                role: "assistant",
                model: self.meta.model.clone(),
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                // The backend counts input only at the end; until then, the estimate.
                usage: MessageUsage {
                    input_tokens: self.meta.estimate,
                    output_tokens: 0,
                    cache_creation_input_tokens: 0,
                    cache_read_input_tokens: 0,
                    output_tokens_details: None,
                },
            },
        }
        .write(out);
        Event::Ping.write(out);
    }

    fn piece(&mut self, p: Piece<'_>, out: &mut Vec<u8>) {
        let mut events = Vec::new();
        let finish = self.blocks.piece(p, &mut events);
        write_blocks(&events, out);
        if let Some((reason, u)) = finish {
            Event::MessageDelta {
                delta: StopDelta {
                    stop_reason: stop_reason(reason),
                    stop_sequence: None,
                },
                usage: usage(u),
            }
            .write(out);
            Event::MessageStop.write(out);
        }
    }

    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        Event::Error {
            error: ErrorDetail {
                kind: error_type(err.status),
                message: anthropic_message(err),
            },
        }
        .write(out);
    }

    fn keep_alive(&mut self, out: &mut Vec<u8>) {
        Event::Ping.write(out);
    }
}

/// The whole message.
pub(crate) struct Whole {
    meta: Meta,
    blocks: Blocks,
    content: Content,
}

impl Whole {
    pub(crate) fn new(meta: Meta, thinking: Thinking) -> Whole {
        Whole {
            meta,
            blocks: Blocks::new(thinking),
            content: Content::default(),
        }
    }
}

impl Gather for Whole {
    type Output = Message;

    fn piece(&mut self, p: Piece<'_>) {
        let mut events = Vec::new();
        self.blocks.piece(p, &mut events);
        events.into_iter().for_each(|e| self.content.apply(e));
    }

    fn finish(self, reason: FinishReason, u: Option<Usage>) -> Message {
        Message {
            id: self.meta.id,
            kind: "message",
            role: "assistant",
            model: self.meta.model,
            content: self.content.blocks,
            stop_reason: Some(stop_reason(reason)),
            stop_sequence: None,
            usage: usage(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_cached_input_apart() {
        let u = usage(Some(Usage {
            input_tokens: 100,
            input_tokens_details: codex_client::events::InputTokensDetails { cached_tokens: 60 },
            output_tokens: 9,
            output_tokens_details: codex_client::events::OutputTokensDetails {
                reasoning_tokens: 4,
            },
            total_tokens: 109,
        }));
        assert_eq!((u.input_tokens, u.cache_read_input_tokens), (40, 60));
        assert_eq!(u.output_tokens_details.map(|d| d.thinking_tokens), Some(4));
    }
}
