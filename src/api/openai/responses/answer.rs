//! The Responses turn as the core driver runs it: its events framed for their transport (SSE, or one
//! WebSocket text frame each), or collected into the one response object of a request that does not
//! stream.

use std::marker::PhantomData;

use codex_client::{CodexError, StreamEvent};
use serde_json::{json, Value};

use super::render::error_object;
use super::turn::ResponseTurn;
use crate::core::app::App;
use crate::core::driver::{Answer, Chunk, Collect};
use crate::core::error::ApiError;

/// How a transport carries the turn's events and its failure.
pub(crate) trait Framing: Send + 'static {
    type Out: Chunk;
    fn event(ev: &Value, out: &mut Self::Out);
    /// A failure after the turn began; `sequence_number` is the one the next event would have had.
    fn error(err: &ApiError, sequence_number: u64, out: &mut Self::Out);
}

/// Server-sent events: `event: <type>` and the object as `data`.
pub(crate) struct Sse;

/// The `content-type` of [`Sse`].
pub(crate) const SSE_CONTENT_TYPE: &str = "text/event-stream";

impl Framing for Sse {
    type Out = Vec<u8>;

    fn event(ev: &Value, out: &mut Vec<u8>) {
        let kind = ev.get("type").and_then(Value::as_str).unwrap_or("message");
        out.extend_from_slice(format!("event: {kind}\ndata: {ev}\n\n").as_bytes());
    }

    fn error(err: &ApiError, sequence_number: u64, out: &mut Vec<u8>) {
        // OpenAI's error event is flat; OpenResponses nests the same fields under `error`.
        let mut ev = error_object(err);
        ev["error"] = error_object(err);
        ev["type"] = Value::String("error".into());
        ev["sequence_number"] = Value::from(sequence_number);
        out.extend_from_slice(format!("event: error\ndata: {ev}\n\n").as_bytes());
    }
}

/// WebSocket mode: each event is one text frame.
pub(crate) struct Frames;

impl Framing for Frames {
    type Out = Vec<String>;

    fn event(ev: &Value, out: &mut Vec<String>) {
        out.push(ev.to_string());
    }

    fn error(err: &ApiError, sequence_number: u64, out: &mut Vec<String>) {
        out.push(socket_error(err, Some(sequence_number)));
    }
}

/// The WebSocket error frame, for a failed turn and for a frame refused before any turn began.
pub(crate) fn socket_error(err: &ApiError, sequence_number: Option<u64>) -> String {
    let mut error = error_object(err);
    // OpenResponses' WebSocket error frame requires a code: the error type when there is no finer one.
    if error["code"].is_null() {
        error["code"] = Value::String(err.kind.into());
    }
    let mut frame = json!({"type": "error", "status": err.status.as_u16(), "error": error});
    if let Some(n) = sequence_number {
        frame["sequence_number"] = Value::from(n);
    }
    frame.to_string()
}

/// The turn, streamed in framing `F`.
pub(crate) struct Streamed<F> {
    pub(crate) turn: ResponseTurn,
    framing: PhantomData<fn() -> F>,
}

impl<F: Framing> Streamed<F> {
    pub(crate) fn new(turn: ResponseTurn) -> Streamed<F> {
        Streamed {
            turn,
            framing: PhantomData,
        }
    }
}

impl<F: Framing> Answer for Streamed<F> {
    type Out = F::Out;

    fn event(&mut self, _app: &App, ev: &StreamEvent, out: &mut F::Out) -> Result<(), ApiError> {
        if let Some(ev) = self.turn.event(ev) {
            F::event(&ev, out);
        }
        Ok(())
    }

    fn error(&mut self, err: &ApiError, out: &mut F::Out) {
        F::error(err, self.turn.next_sequence(), out);
    }

    fn is_done(&self) -> bool {
        self.turn.done
    }
}

/// The whole response: the final object of a completed or incomplete response; a failed one is an
/// error with the backend's own code.
impl Collect for ResponseTurn {
    type Output = Value;

    fn event(&mut self, _app: &App, ev: &StreamEvent) -> Result<(), ApiError> {
        let Some(mut ev) = ResponseTurn::event(self, ev) else {
            return Ok(());
        };
        match ev.get("type").and_then(Value::as_str) {
            Some("response.completed" | "response.incomplete") => {
                self.response = Some(
                    ev.get_mut("response")
                        .map(Value::take)
                        .unwrap_or(Value::Null),
                );
                Ok(())
            }
            Some("response.failed") => {
                let (code, message) = self.failure.clone().unwrap_or_else(|| {
                    (
                        "response_failed".into(),
                        "the Codex backend reported a failed response".into(),
                    )
                });
                Err(CodexError::Failed { code, message }.into())
            }
            Some("error") => Err(CodexError::Failed {
                code: ev["code"].as_str().unwrap_or("upstream_error").to_owned(),
                message: ev["message"]
                    .as_str()
                    .unwrap_or("the Codex backend reported an error")
                    .to_owned(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn finish(self) -> Result<Value, ApiError> {
        self.response.ok_or_else(|| CodexError::StreamClosed.into())
    }
}
