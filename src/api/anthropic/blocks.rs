//! One block machine turns the folder's pieces into Anthropic's content blocks (text, thinking,
//! tool_use), each opened, filled and closed in turn; a whole message applies the same block events.

use codex_client::Usage;
use serde::Serialize;
use serde_json::{Map, Value};

use super::translate::{signature, Thinking};
use crate::core::piece::{arguments_object, FinishReason, Piece};

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutBlock {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Map<String, Value>,
    },
}

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub(crate) enum BlockDelta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
}

/// What happens to the content blocks, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BlockEvent {
    Start(u32, OutBlock),
    Delta(u32, BlockDelta),
    Stop(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text(u32),
    Thinking(u32),
    Tool { block: u32, call: u32 },
}

/// Turns pieces into block events: one block open at a time, closed when something else begins.
pub(crate) struct Blocks {
    thinking: Thinking,
    open: Open,
    next: u32,
}

impl Blocks {
    pub(crate) fn new(thinking: Thinking) -> Blocks {
        Blocks {
            thinking,
            open: Open::None,
            next: 0,
        }
    }

    fn close(&mut self, out: &mut Vec<BlockEvent>) {
        match std::mem::replace(&mut self.open, Open::None) {
            Open::None => {}
            Open::Text(i) | Open::Thinking(i) | Open::Tool { block: i, .. } => {
                out.push(BlockEvent::Stop(i))
            }
        }
    }

    fn start(&mut self, block: OutBlock, out: &mut Vec<BlockEvent>) -> u32 {
        self.close(out);
        let i = self.next;
        self.next += 1;
        out.push(BlockEvent::Start(i, block));
        i
    }

    fn thinking_block(&mut self, out: &mut Vec<BlockEvent>) -> u32 {
        if let Open::Thinking(i) = self.open {
            return i;
        }
        let i = self.start(
            OutBlock::Thinking {
                thinking: String::new(),
                signature: String::new(),
            },
            out,
        );
        self.open = Open::Thinking(i);
        i
    }

    /// Feeds one piece; returns the finish when it is the end.
    pub(crate) fn piece(
        &mut self,
        p: Piece<'_>,
        out: &mut Vec<BlockEvent>,
    ) -> Option<(FinishReason, Option<Usage>)> {
        match p {
            Piece::Content(t) => {
                let i = match self.open {
                    Open::Text(i) => i,
                    _ => {
                        let i = self.start(
                            OutBlock::Text {
                                text: String::new(),
                            },
                            out,
                        );
                        self.open = Open::Text(i);
                        i
                    }
                };
                out.push(BlockEvent::Delta(
                    i,
                    BlockDelta::Text { text: t.to_owned() },
                ));
            }
            Piece::Reasoning(t) => {
                if self.thinking == Thinking::Summarized {
                    let i = self.thinking_block(out);
                    out.push(BlockEvent::Delta(
                        i,
                        BlockDelta::Thinking {
                            thinking: t.to_owned(),
                        },
                    ));
                }
            }
            Piece::ReasoningDone { encrypted_content } => {
                let shown = self.thinking != Thinking::Off;
                let open = matches!(self.open, Open::Thinking(_));
                if shown && (open || encrypted_content.is_some()) {
                    let i = self.thinking_block(out);
                    if let Some(enc) = encrypted_content {
                        out.push(BlockEvent::Delta(
                            i,
                            BlockDelta::Signature {
                                signature: signature(enc),
                            },
                        ));
                    }
                    self.close(out);
                }
            }
            Piece::ToolCallStart { index, id, name } => {
                let block = self.start(
                    OutBlock::ToolUse {
                        id: id.to_owned(),
                        name: name.to_owned(),
                        input: Map::new(),
                    },
                    out,
                );
                self.open = Open::Tool { block, call: index };
            }
            Piece::ToolCallArgs { index, args } => {
                if let Open::Tool { block, call } = self.open {
                    if call == index {
                        out.push(BlockEvent::Delta(
                            block,
                            BlockDelta::InputJson {
                                partial_json: args.to_owned(),
                            },
                        ));
                    }
                }
            }
            Piece::ToolCallDone { index, .. } => {
                if matches!(self.open, Open::Tool { call, .. } if call == index) {
                    self.close(out);
                }
            }
            Piece::Finish { reason, usage } => {
                self.close(out);
                return Some((reason, usage));
            }
        }
        None
    }
}

/// Applies block events to build the content of a whole message.
#[derive(Default)]
pub(crate) struct Content {
    pub(crate) blocks: Vec<OutBlock>,
    /// The argument text of each tool_use block so far, by block index.
    json: Vec<String>,
}

impl Content {
    pub(crate) fn apply(&mut self, ev: BlockEvent) {
        match ev {
            BlockEvent::Start(_, b) => {
                self.blocks.push(b);
                self.json.push(String::new());
            }
            BlockEvent::Delta(i, d) => {
                let i = i as usize;
                match (self.blocks.get_mut(i), d) {
                    (Some(OutBlock::Text { text }), BlockDelta::Text { text: t }) => {
                        text.push_str(&t)
                    }
                    (
                        Some(OutBlock::Thinking { thinking, .. }),
                        BlockDelta::Thinking { thinking: t },
                    ) => thinking.push_str(&t),
                    (
                        Some(OutBlock::Thinking { signature, .. }),
                        BlockDelta::Signature { signature: s },
                    ) => *signature = s,
                    (Some(OutBlock::ToolUse { .. }), BlockDelta::InputJson { partial_json }) => {
                        if let Some(j) = self.json.get_mut(i) {
                            j.push_str(&partial_json);
                        }
                    }
                    _ => {}
                }
            }
            BlockEvent::Stop(i) => {
                let i = i as usize;
                if let (Some(OutBlock::ToolUse { name, input, .. }), Some(json)) =
                    (self.blocks.get_mut(i), self.json.get(i))
                {
                    *input = arguments_object(name, json);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(thinking: Thinking, pieces: Vec<Piece<'_>>) -> (Vec<BlockEvent>, Vec<OutBlock>) {
        let mut b = Blocks::new(thinking);
        let mut events = Vec::new();
        for p in pieces {
            b.piece(p, &mut events);
        }
        let mut c = Content::default();
        events.iter().cloned().for_each(|e| c.apply(e));
        (events, c.blocks)
    }

    fn conversation<'a>() -> Vec<Piece<'a>> {
        vec![
            Piece::Reasoning("plan"),
            Piece::ReasoningDone {
                encrypted_content: Some("ENC"),
            },
            Piece::ReasoningDone {
                encrypted_content: Some("ENC2"),
            },
            Piece::Content("Let me "),
            Piece::Content("check."),
            Piece::ToolCallStart {
                index: 0,
                id: "call_1",
                name: "f",
            },
            Piece::ToolCallArgs {
                index: 0,
                args: "{\"a\"",
            },
            Piece::ToolCallArgs {
                index: 0,
                args: ":1}",
            },
            Piece::ToolCallDone {
                index: 0,
                arguments: "{\"a\":1}",
            },
            Piece::Finish {
                reason: FinishReason::ToolCalls,
                usage: None,
            },
        ]
    }

    #[test]
    fn blocks_open_fill_and_close_in_turn() {
        let (events, blocks) = run(Thinking::Summarized, conversation());
        let starts = events
            .iter()
            .filter(|e| matches!(e, BlockEvent::Start(..)))
            .count();
        let stops = events
            .iter()
            .filter(|e| matches!(e, BlockEvent::Stop(..)))
            .count();
        assert_eq!((starts, stops), (4, 4));
        // Never a delta for a block that is not open.
        let mut open = None;
        for e in &events {
            match e {
                BlockEvent::Start(i, _) => {
                    assert_eq!(open, None);
                    open = Some(*i)
                }
                BlockEvent::Delta(i, _) => assert_eq!(open, Some(*i)),
                BlockEvent::Stop(i) => {
                    assert_eq!(open, Some(*i));
                    open = None
                }
            }
        }
        assert_eq!(
            blocks,
            vec![
                OutBlock::Thinking {
                    thinking: "plan".into(),
                    signature: signature("ENC")
                },
                OutBlock::Thinking {
                    thinking: String::new(),
                    signature: signature("ENC2")
                },
                OutBlock::Text {
                    text: "Let me check.".into()
                },
                OutBlock::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                    input: serde_json::from_str("{\"a\":1}").expect("obj")
                },
            ]
        );
    }

    #[test]
    fn thinking_off_or_omitted() {
        let (_, blocks) = run(Thinking::Off, conversation());
        assert_eq!(blocks.len(), 2);
        assert!(matches!(blocks[0], OutBlock::Text { .. }));
        let (_, blocks) = run(Thinking::Omitted, conversation());
        assert_eq!(
            blocks[0],
            OutBlock::Thinking {
                thinking: String::new(),
                signature: signature("ENC")
            }
        );
    }
}
