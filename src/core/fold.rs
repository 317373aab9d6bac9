//! Folding the Responses event stream into the pieces every front end's answer is made of: text,
//! reasoning, tool calls and the finish.
//!
//! One folder serves every protocol (OpenAI chat, Ollama, Anthropic) and both kinds of answer: streaming
//! writes each `Piece` the moment it appears; non-streaming collects the same pieces into one message.
//! Deltas are forwarded as they arrive; an item whose deltas never came (the backend may send only
//! `output_item.done`) is sent whole when it is done.

use std::collections::HashMap;

use codex_client::events::{MessageContent, ResponseObject};
use codex_client::{OutputItem, ResponseEvent};

use super::piece::{Failure, FinishReason, Piece};

#[derive(Default)]
struct CallState {
    index: u32,
    started: bool,
    args_sent: usize,
}

#[derive(Default)]
pub(crate) struct Folder {
    /// Function calls by output index (or item id when the index is missing).
    calls: HashMap<String, CallState>,
    next_call_index: u32,
    /// Items whose text arrived as deltas, by output index or item id.
    streamed_text: HashMap<String, ()>,
    streamed_reasoning: bool,
    pub(crate) response_id: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) created_at: Option<i64>,
    done: bool,
    /// Reused to look keys up, so that a delta for an item already noted allocates nothing.
    scratch: String,
}

fn key(output_index: Option<u32>, item_id: Option<&str>) -> String {
    let mut k = String::new();
    write_key(&mut k, output_index, item_id);
    k
}

fn write_key(out: &mut String, output_index: Option<u32>, item_id: Option<&str>) {
    use std::fmt::Write as _;
    match (output_index, item_id) {
        (Some(i), _) => {
            let _ = write!(out, "#{i}");
        }
        (None, Some(id)) => out.push_str(id),
        (None, None) => out.push_str("#?"),
    }
}

impl Folder {
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds one event; `emit` is called with each piece it yields. A failure ends the fold.
    pub(crate) fn push<'a>(
        &mut self,
        ev: &'a ResponseEvent,
        emit: &mut dyn FnMut(Piece<'_>),
    ) -> Result<(), Failure> {
        match ev {
            ResponseEvent::Created { response } => self.note_response(response),
            ResponseEvent::OutputTextDelta {
                item_id,
                output_index,
                delta,
            } => {
                self.mark_streamed(*output_index, item_id.as_deref());
                if !delta.is_empty() {
                    emit(Piece::Content(delta));
                }
            }
            ResponseEvent::RefusalDelta {
                output_index,
                delta,
            } => {
                self.mark_streamed(*output_index, None);
                emit(Piece::Content(delta));
            }
            ResponseEvent::ReasoningSummaryPartAdded { summary_index } => {
                // A new summary section: keep sections apart like the codex CLI shows them.
                if summary_index.unwrap_or(0) > 0 && self.streamed_reasoning {
                    emit(Piece::Reasoning("\n\n"));
                }
            }
            ResponseEvent::ReasoningSummaryTextDelta { delta, .. }
            | ResponseEvent::ReasoningTextDelta { delta } => {
                self.streamed_reasoning = true;
                emit(Piece::Reasoning(delta));
            }
            ResponseEvent::OutputItemAdded { output_index, item } => {
                if let OutputItem::FunctionCall {
                    id, call_id, name, ..
                } = item
                {
                    let st = self.call(key(*output_index, id.as_deref()));
                    if !st.started {
                        st.started = true;
                        let index = st.index;
                        emit(Piece::ToolCallStart {
                            index,
                            id: call_id,
                            name,
                        });
                    }
                }
            }
            ResponseEvent::FunctionCallArgumentsDelta {
                item_id,
                output_index,
                delta,
            } => {
                let st = self.call(key(*output_index, item_id.as_deref()));
                // A delta for a call whose `added` we never saw cannot name the function yet; its
                // arguments go out whole with the name at `output_item.done`.
                if st.started {
                    st.args_sent += delta.len();
                    let index = st.index;
                    emit(Piece::ToolCallArgs { index, args: delta });
                }
            }
            ResponseEvent::OutputItemDone { output_index, item } => {
                self.item_done(*output_index, item, emit)
            }
            ResponseEvent::Completed { response } => {
                self.note_response(response);
                self.done = true;
                let reason = if self.next_call_index > 0 {
                    FinishReason::ToolCalls
                } else {
                    FinishReason::Stop
                };
                emit(Piece::Finish {
                    reason,
                    usage: response.usage,
                });
            }
            ResponseEvent::Incomplete { response } => {
                self.note_response(response);
                self.done = true;
                let reason = match response
                    .incomplete_details
                    .as_ref()
                    .and_then(|d| d.reason.as_deref())
                {
                    Some("content_filter") => FinishReason::ContentFilter,
                    _ => FinishReason::Length,
                };
                emit(Piece::Finish {
                    reason,
                    usage: response.usage,
                });
            }
            ResponseEvent::Failed { response } => {
                self.done = true;
                let err = response.error.clone().unwrap_or_default();
                return Err(Failure {
                    code: err.code.unwrap_or_else(|| "response_failed".into()),
                    message: err
                        .message
                        .unwrap_or_else(|| "the Codex backend reported a failed response".into()),
                });
            }
            ResponseEvent::Error { code, message } => {
                self.done = true;
                return Err(Failure {
                    code: code.clone().unwrap_or_else(|| "upstream_error".into()),
                    message: message
                        .clone()
                        .unwrap_or_else(|| "the Codex backend reported an error".into()),
                });
            }
            ResponseEvent::InProgress {}
            | ResponseEvent::RateLimits { .. }
            | ResponseEvent::Other => {}
        }
        Ok(())
    }

    /// Notes that this item's text arrived as deltas (once; every later delta only looks it up).
    fn mark_streamed(&mut self, output_index: Option<u32>, item_id: Option<&str>) {
        self.scratch.clear();
        write_key(&mut self.scratch, output_index, item_id);
        if !self.streamed_text.contains_key(self.scratch.as_str()) {
            self.streamed_text.insert(self.scratch.clone(), ());
        }
    }

    fn note_response(&mut self, r: &ResponseObject) {
        if self.response_id.is_none() {
            self.response_id.clone_from(&r.id);
        }
        if self.model.is_none() {
            self.model.clone_from(&r.model);
        }
        if self.created_at.is_none() {
            self.created_at = r.created_at;
        }
    }

    fn call(&mut self, k: String) -> &mut CallState {
        let next = &mut self.next_call_index;
        self.calls.entry(k).or_insert_with(|| {
            let st = CallState {
                index: *next,
                ..CallState::default()
            };
            *next += 1;
            st
        })
    }

    fn item_done(
        &mut self,
        output_index: Option<u32>,
        item: &OutputItem,
        emit: &mut dyn FnMut(Piece<'_>),
    ) {
        match item {
            OutputItem::Message { id, content } => {
                let streamed = self
                    .streamed_text
                    .contains_key(&key(output_index, id.as_deref()))
                    || self.streamed_text.contains_key(&key(None, id.as_deref()))
                    || (output_index.is_none() && self.streamed_text.contains_key("#?"));
                if !streamed {
                    for c in content {
                        match c {
                            MessageContent::OutputText { text } if !text.is_empty() => {
                                emit(Piece::Content(text))
                            }
                            MessageContent::Refusal { refusal } if !refusal.is_empty() => {
                                emit(Piece::Content(refusal))
                            }
                            _ => {}
                        }
                    }
                }
            }
            OutputItem::Reasoning {
                summary,
                encrypted_content,
                ..
            } => {
                if !self.streamed_reasoning {
                    let mut first = true;
                    for part in summary.iter().filter(|p| !p.text.is_empty()) {
                        if !first {
                            emit(Piece::Reasoning("\n\n"));
                        }
                        first = false;
                        emit(Piece::Reasoning(&part.text));
                    }
                }
                // The next reasoning item streams afresh.
                self.streamed_reasoning = false;
                emit(Piece::ReasoningDone {
                    encrypted_content: encrypted_content.as_deref(),
                });
            }
            OutputItem::FunctionCall {
                id,
                call_id,
                name,
                arguments,
            } => {
                let st = self.call(key(output_index, id.as_deref()));
                let index = st.index;
                if !st.started {
                    st.started = true;
                    emit(Piece::ToolCallStart {
                        index,
                        id: call_id,
                        name,
                    });
                }
                // Whatever the deltas did not carry (all of it, when none came).
                let sent = st.args_sent;
                if let Some(rest) = arguments.get(sent..).filter(|r| !r.is_empty()) {
                    st.args_sent = arguments.len();
                    emit(Piece::ToolCallArgs { index, args: rest });
                }
                emit(Piece::ToolCallDone { index, arguments });
            }
            OutputItem::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[serde_json::Value]) -> (Vec<String>, Result<(), String>) {
        let mut f = Folder::default();
        let mut out = Vec::new();
        for e in events {
            let ev: ResponseEvent = serde_json::from_value(e.clone()).expect("event");
            let mut emit = |p: Piece<'_>| out.push(format!("{p:?}"));
            if let Err(fail) = f.push(&ev, &mut emit) {
                return (out, Err(fail.code));
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn text_only_in_done_items_is_still_sent() {
        let (out, res) = run(&[
            serde_json::json!({"type":"response.output_item.done","item":{"type":"message","role":"assistant","id":"m","content":[{"type":"output_text","text":"done"}]}}),
            serde_json::json!({"type":"response.completed","response":{"id":"r"}}),
        ]);
        assert!(res.is_ok());
        assert_eq!(out[0], "Content(\"done\")");
        assert!(out[1].starts_with("Finish { reason: Stop"));
    }

    #[test]
    fn deltas_are_not_repeated_at_done_and_calls_get_indices() {
        let (out, _) = run(&[
            serde_json::json!({"type":"response.output_text.delta","output_index":0,"delta":"a"}),
            serde_json::json!({"type":"response.output_item.done","output_index":0,"item":{"type":"message","content":[{"type":"output_text","text":"a"}]}}),
            serde_json::json!({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","call_id":"c1","name":"f","arguments":""}}),
            serde_json::json!({"type":"response.function_call_arguments.delta","output_index":1,"delta":"{\"x\""}),
            serde_json::json!({"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"x\":1}"}}),
            serde_json::json!({"type":"response.output_item.done","output_index":2,"item":{"type":"function_call","call_id":"c2","name":"g","arguments":"{}"}}),
            serde_json::json!({"type":"response.output_item.done","output_index":3,"item":{"type":"web_search_call","id":"w"}}),
            serde_json::json!({"type":"response.completed","response":{"id":"r"}}),
        ]);
        assert_eq!(
            out,
            vec![
                "Content(\"a\")",
                "ToolCallStart { index: 0, id: \"c1\", name: \"f\" }",
                "ToolCallArgs { index: 0, args: \"{\\\"x\\\"\" }",
                "ToolCallArgs { index: 0, args: \":1}\" }",
                "ToolCallDone { index: 0, arguments: \"{\\\"x\\\":1}\" }",
                "ToolCallStart { index: 1, id: \"c2\", name: \"g\" }",
                "ToolCallArgs { index: 1, args: \"{}\" }",
                "ToolCallDone { index: 1, arguments: \"{}\" }",
                "Finish { reason: ToolCalls, usage: None }",
            ]
        );
    }

    #[test]
    fn reasoning_items_end_with_their_encrypted_content() {
        let (out, _) = run(&[
            serde_json::json!({"type":"response.reasoning_summary_text.delta","summary_index":0,"delta":"hm"}),
            serde_json::json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","summary":[{"type":"summary_text","text":"hm"}],"encrypted_content":"ENC"}}),
            serde_json::json!({"type":"response.output_item.done","output_index":1,"item":{"type":"reasoning","summary":[{"type":"summary_text","text":"whole"}]}}),
        ]);
        assert_eq!(
            out,
            vec![
                "Reasoning(\"hm\")",
                "ReasoningDone { encrypted_content: Some(\"ENC\") }",
                "Reasoning(\"whole\")",
                "ReasoningDone { encrypted_content: None }",
            ]
        );
    }

    #[test]
    fn failures_and_incomplete() {
        let (_, res) = run(&[
            serde_json::json!({"type":"response.failed","response":{"error":{"code":"context_length_exceeded","message":"too long"}}}),
        ]);
        assert_eq!(res, Err("context_length_exceeded".into()));
        let (out, _) = run(&[
            serde_json::json!({"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}),
        ]);
        assert!(out[0].starts_with("Finish { reason: Length"));
    }
}

#[cfg(test)]
mod fuzz {
    //! Any sequence of backend events folds without panicking, finishes at most once, and never both
    //! finishes and fails.
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn event() -> impl Strategy<Value = serde_json::Value> {
        let idx = proptest::option::of(0u32..4);
        let text = "\\PC{0,6}";
        prop_oneof![
            Just(json!({"type":"response.created","response":{"id":"r"}})),
            (idx.clone(), text).prop_map(|(i, d)| json!({"type":"response.output_text.delta","output_index":i,"delta":d})),
            (text, proptest::option::of(0u32..3)).prop_map(|(d, s)| json!({"type":"response.reasoning_summary_text.delta","delta":d,"summary_index":s})),
            proptest::option::of(0u32..3).prop_map(|s| json!({"type":"response.reasoning_summary_part.added","summary_index":s})),
            (idx.clone(), text).prop_map(|(i, n)| json!({"type":"response.output_item.added","output_index":i,"item":{"type":"function_call","call_id":format!("c{n}"),"name":n,"arguments":""}})),
            (idx.clone(), text).prop_map(|(i, d)| json!({"type":"response.function_call_arguments.delta","output_index":i,"delta":d})),
            (idx.clone(), text, text).prop_map(|(i, n, a)| json!({"type":"response.output_item.done","output_index":i,"item":{"type":"function_call","call_id":format!("c{n}"),"name":n,"arguments":a}})),
            (idx.clone(), text).prop_map(|(i, t)| json!({"type":"response.output_item.done","output_index":i,"item":{"type":"message","content":[{"type":"output_text","text":t}]}})),
            (idx, text).prop_map(|(i, t)| json!({"type":"response.output_item.done","output_index":i,"item":{"type":"reasoning","summary":[{"type":"summary_text","text":t}]}})),
            Just(json!({"type":"response.output_item.done","item":{"type":"web_search_call"}})),
            Just(json!({"type":"response.completed","response":{"id":"r"}})),
            Just(json!({"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}})),
            Just(json!({"type":"response.failed","response":{"error":{"code":"x","message":"y"}}})),
            Just(json!({"type":"error","code":"x"})),
            Just(json!({"type":"response.something_new"})),
        ]
    }

    proptest! {
        #[test]
        fn any_event_sequence_folds_safely(events in proptest::collection::vec(event(), 0..24)) {
            let mut f = Folder::default();
            let mut finishes = 0;
            let mut failed = false;
            let mut last_args: HashMap<u32, usize> = HashMap::new();
            for e in &events {
                if f.is_done() {
                    break;
                }
                let ev: ResponseEvent = serde_json::from_value(e.clone()).expect("event");
                let mut emit = |p: Piece<'_>| match p {
                    Piece::Finish { .. } => finishes += 1,
                    Piece::ToolCallArgs { index, args } => *last_args.entry(index).or_default() += args.len(),
                    _ => {}
                };
                if f.push(&ev, &mut emit).is_err() {
                    failed = true;
                }
            }
            prop_assert!(finishes <= 1);
            prop_assert!(!(failed && finishes > 0));
        }
    }
}
