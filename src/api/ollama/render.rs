//! Ollama's answers: NDJSON lines (streaming, the default) or one JSON object (`"stream": false`). A
//! failure after the first line is an `{"error": ...}` line, which Ollama's clients raise as an error;
//! the stream then ends without a `done` line.

use std::time::Instant;

use codex_client::Usage;
use serde_json::Value;

use super::error::ErrorLine;
use super::wire::{AssistantMessage, ChatLine, GenerateLine, Metrics, ToolCall, ToolCallFunction};
use crate::core::error::ApiError;
use crate::core::piece::{arguments_object, FinishReason, Gather, Piece, Render};

/// The answer to a request with nothing to answer, which loads (or, with `keep_alive: 0`, unloads) the
/// model in Ollama: there is nothing to load here, so it is done at once.
pub(crate) fn loaded_line(model: &str, keep_alive: Option<&Value>, generate: bool) -> Value {
    let unload = keep_alive.is_some_and(|k| k.as_f64() == Some(0.0) || k.as_str() == Some("0"));
    let reason = if unload { "unload" } else { "load" };
    let created_at = now_rfc3339();
    let body = if generate {
        serde_json::to_value(GenerateLine {
            model,
            created_at: &created_at,
            response: "",
            thinking: None,
            done: true,
            done_reason: Some(reason),
            metrics: Metrics::default(),
        })
    } else {
        serde_json::to_value(ChatLine {
            model,
            created_at: &created_at,
            message: AssistantMessage {
                role: "assistant",
                ..AssistantMessage::default()
            },
            done: true,
            done_reason: Some(reason),
            metrics: Metrics::default(),
        })
    };
    body.unwrap_or(Value::Null)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One answer being written: who asked, what it showed, when output began, the calls so far.
pub(crate) struct Answer {
    model: String,
    generate: bool,
    show_thinking: bool,
    started: Instant,
    first_output: Option<Instant>,
    /// Tool calls by the fold's index: id and name until done.
    calls: Vec<(String, String)>,
}

impl Answer {
    pub(crate) fn new(
        model: String,
        generate: bool,
        show_thinking: bool,
        started: Instant,
    ) -> Answer {
        Answer {
            model,
            generate,
            show_thinking,
            started,
            first_output: None,
            calls: Vec::new(),
        }
    }

    fn metrics(&self, usage: Option<Usage>) -> Metrics {
        let end = Instant::now();
        let first = self.first_output.unwrap_or(end);
        Metrics {
            total_duration: Some(nanos(end - self.started)),
            prompt_eval_count: usage.map(|u| u.input_tokens),
            prompt_eval_duration: Some(nanos(first - self.started)),
            eval_count: usage.map(|u| u.output_tokens),
            eval_duration: Some(nanos(end - first)),
        }
    }

    fn done_reason(reason: FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop | FinishReason::ToolCalls => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
        }
    }

    fn tool_call(&self, index: u32, arguments: &str) -> Option<ToolCall> {
        let (id, name) = self.calls.get(index as usize)?;
        Some(ToolCall {
            id: id.clone(),
            function: ToolCallFunction {
                index,
                name: name.clone(),
                arguments: arguments_object(name, arguments),
            },
        })
    }

    /// One line (or the whole answer): text, reasoning, calls, and the end when `finish` is given.
    fn write(
        &self,
        buf: &mut Vec<u8>,
        content: &str,
        thinking: Option<&str>,
        calls: &[ToolCall],
        finish: Option<(FinishReason, Option<Usage>)>,
    ) {
        let created_at = now_rfc3339();
        let thinking = thinking.filter(|t| self.show_thinking && !t.is_empty());
        let (done_reason, metrics) = match finish {
            Some((r, usage)) => (Some(Self::done_reason(r)), self.metrics(usage)),
            None => (None, Metrics::default()),
        };
        let done = finish.is_some();
        let res = if self.generate {
            serde_json::to_writer(
                &mut *buf,
                &GenerateLine {
                    model: &self.model,
                    created_at: &created_at,
                    response: content,
                    thinking,
                    done,
                    done_reason,
                    metrics,
                },
            )
        } else {
            serde_json::to_writer(
                &mut *buf,
                &ChatLine {
                    model: &self.model,
                    created_at: &created_at,
                    message: AssistantMessage {
                        role: "assistant",
                        content,
                        thinking,
                        tool_calls: calls,
                    },
                    done,
                    done_reason,
                    metrics,
                },
            )
        };
        // Serialising plain structs into a Vec cannot fail.
        debug_assert!(res.is_ok());
        buf.push(b'\n');
    }

    /// Notes when output began, and the id and name of each tool call as it starts.
    fn note(&mut self, p: &Piece<'_>) {
        if self.first_output.is_none()
            && matches!(
                p,
                Piece::Content(_) | Piece::Reasoning(_) | Piece::ToolCallStart { .. }
            )
        {
            self.first_output = Some(Instant::now());
        }
        if let Piece::ToolCallStart { index, id, name } = p {
            let i = *index as usize;
            if self.calls.len() <= i {
                self.calls.resize(i + 1, (String::new(), String::new()));
            }
            self.calls[i] = ((*id).to_owned(), (*name).to_owned());
        }
    }

    /// The NDJSON line for one piece, if it makes one.
    fn line(&mut self, buf: &mut Vec<u8>, p: Piece<'_>) {
        self.note(&p);
        match p {
            Piece::Content(t) => self.write(buf, t, None, &[], None),
            Piece::Reasoning(t) if self.show_thinking => self.write(buf, "", Some(t), &[], None),
            Piece::ToolCallDone { index, arguments } if !self.generate => {
                if let Some(call) = self.tool_call(index, arguments) {
                    self.write(buf, "", None, &[call], None);
                }
            }
            Piece::Finish { reason, usage } => {
                self.write(buf, "", None, &[], Some((reason, usage)))
            }
            _ => {}
        }
    }
}

impl Render for Answer {
    const CONTENT_TYPE: &'static str = "application/x-ndjson";

    fn piece(&mut self, p: Piece<'_>, out: &mut Vec<u8>) {
        self.line(out, p)
    }

    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        let line = ErrorLine {
            error: err.message_with_param(),
        };
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }

    /// A generate request has no conversation to continue.
    fn remembers(&self) -> bool {
        !self.generate
    }
}

/// The whole answer as one object.
pub(crate) struct Whole {
    answer: Answer,
    content: String,
    thinking: String,
    calls: Vec<ToolCall>,
}

impl Whole {
    pub(crate) fn new(answer: Answer) -> Whole {
        Whole {
            answer,
            content: String::new(),
            thinking: String::new(),
            calls: Vec::new(),
        }
    }
}

impl Gather for Whole {
    /// The JSON object's bytes.
    type Output = Vec<u8>;

    fn piece(&mut self, p: Piece<'_>) {
        self.answer.note(&p);
        match p {
            Piece::Content(t) => self.content.push_str(t),
            Piece::Reasoning(t) => self.thinking.push_str(t),
            Piece::ToolCallDone { index, arguments } => {
                self.calls.extend(self.answer.tool_call(index, arguments))
            }
            _ => {}
        }
    }

    fn finish(mut self, reason: FinishReason, usage: Option<Usage>) -> Vec<u8> {
        if self.answer.generate {
            self.calls.clear();
        }
        let mut buf = Vec::new();
        self.answer.write(
            &mut buf,
            &self.content,
            Some(&self.thinking),
            &self.calls,
            Some((reason, usage)),
        );
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        buf
    }

    fn remembers(&self) -> bool {
        !self.answer.generate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_text_thinking_calls_and_the_end() {
        let mut a = Answer::new("m:latest".into(), false, true, Instant::now());
        let mut buf = Vec::new();
        a.line(&mut buf, Piece::Reasoning("hmm"));
        a.line(&mut buf, Piece::Content("hi"));
        a.line(
            &mut buf,
            Piece::ToolCallStart {
                index: 0,
                id: "call_1",
                name: "f",
            },
        );
        a.line(
            &mut buf,
            Piece::ToolCallArgs {
                index: 0,
                args: "{\"x\"",
            },
        );
        a.line(
            &mut buf,
            Piece::ToolCallDone {
                index: 0,
                arguments: "{\"x\":1}",
            },
        );
        a.line(
            &mut buf,
            Piece::Finish {
                reason: FinishReason::ToolCalls,
                usage: Some(Usage {
                    input_tokens: 7,
                    output_tokens: 3,
                    ..Usage::default()
                }),
            },
        );
        let lines: Vec<Value> = String::from_utf8(buf)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["message"]["thinking"], "hmm");
        assert_eq!(lines[1]["message"]["content"], "hi");
        assert_eq!(lines[1]["done"], false);
        let call = &lines[2]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["function"]["arguments"]["x"], 1);
        assert_eq!(lines[3]["done"], true);
        assert_eq!(lines[3]["done_reason"], "stop");
        assert_eq!(lines[3]["prompt_eval_count"], 7);
        assert_eq!(lines[3]["eval_count"], 3);
        assert!(lines[3]["total_duration"].is_u64());
        assert_eq!(lines[3]["model"], "m:latest");
    }
}
