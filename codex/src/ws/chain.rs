//! Incremental turns on one upstream WebSocket.
//!
//! Over a WebSocket the backend keeps the last response that completed on that socket: a request may
//! then send only its new items with that response's `previous_response_id`. That is only right when
//! the new request really continues it: the same shape (model, instructions, tools, reasoning, text…;
//! [`ResponsesRequest::same_shape`]) and an input that starts with exactly the items the backend holds,
//! the last request's input followed by its response's output items. Exactness is the rule, as in the
//! codex CLI's own check: items are compared as typed input items (what would be sent), never as text,
//! so an edited earlier message, a dropped reasoning item or another tool list always sends the whole
//! input on a fresh chain. Pure: no I/O, the pool keeps one [`Chain`] per socket.
//!
//! Chat-completions and Anthropic clients resend the whole conversation each turn; codex-serve turns
//! their history back into the same typed items the backend produced (the reasoning cache puts the
//! encrypted reasoning back in front of its turn, an assistant message is its `output_text`), so their
//! second turn matches too. Item ids take no part: codex-serve derives the ids it sends from the
//! conversation, the position and the item (reference/PARITY.md), so equal items at equal positions
//! get equal ids, and the backend's own output ids are never in a client's history.

use serde::Deserialize;
use serde_json::Value;

use crate::events::{ResponseEvent, StreamEvent};
use crate::render::{function_names, gets_functions_namespace};
use crate::request::{replay_output, InputItem, ResponsesRequest};

/// What the backend holds on one socket after a response completed there.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The request as it was sent, with `input` extended by the response's output items: the shape to
    /// compare and the prefix a continuation must start with.
    held: ResponsesRequest,
    response_id: String,
    /// Whether the model renders in the Lite shape: decides which calls gain the `functions` namespace.
    lite: bool,
}

/// How the next request goes out on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Send {
    /// The whole input, on a fresh chain.
    Full,
    /// Only `input[held..]`, with `previous_response_id`.
    Continue {
        previous_response_id: String,
        held: usize,
    },
}

impl Send {
    /// The number of input items the backend already holds (`render::render_from`'s `held`).
    pub(crate) fn held(&self) -> Option<usize> {
        match self {
            Send::Full => None,
            Send::Continue { held, .. } => Some(*held),
        }
    }

    pub(crate) fn previous_response_id(&self) -> Option<&str> {
        match self {
            Send::Full => None,
            Send::Continue {
                previous_response_id,
                ..
            } => Some(previous_response_id),
        }
    }
}

impl Chain {
    /// How `req` is sent on a socket whose backend holds `chain` (`None`: a new socket, or one whose
    /// last response did not complete).
    pub(crate) fn plan(chain: Option<&Chain>, req: &ResponsesRequest, lite: bool) -> Send {
        let Some(chain) = chain else {
            return Send::Full;
        };
        if chain.lite != lite || !chain.held.same_shape(req) {
            return Send::Full;
        }
        let held = &chain.held.input;
        // An empty remainder is a continuation too: after a prewarm (`generate: false`) the first turn
        // sends no items at all, as the codex CLI's does.
        if req.input.len() < held.len() {
            return Send::Full;
        }
        let functions = function_names(&req.tools);
        if !req
            .input
            .iter()
            .zip(held)
            .all(|(new, old)| same_item(new, old, lite, &functions))
        {
            return Send::Full;
        }
        Send::Continue {
            previous_response_id: chain.response_id.clone(),
            held: held.len(),
        }
    }

    /// Items the backend holds (input and output).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held.input.len()
    }
}

/// Two items that are the same item on the wire. Equal typed items are; so are two calls of the same
/// client function for a Lite model where one names the `functions` namespace and the other leaves it
/// to `render` (the backend's own output names it, a chat client's history cannot).
fn same_item(new: &InputItem, old: &InputItem, lite: bool, functions: &[String]) -> bool {
    if new == old {
        return true;
    }
    let normal = |item: &InputItem| -> Option<InputItem> {
        if !gets_functions_namespace(item, lite, functions) {
            return None;
        }
        let mut item = item.clone();
        if let InputItem::FunctionCall { namespace, .. }
        | InputItem::CustomToolCall { namespace, .. } = &mut item
        {
            *namespace = Some(crate::render::FUNCTIONS_NAMESPACE.into());
        }
        Some(item)
    };
    match (normal(new), normal(old)) {
        (None, None) => false,
        (a, b) => a.as_ref().unwrap_or(new) == b.as_ref().unwrap_or(old),
    }
}

/// One turn on a socket, watched while its events go by: what the backend will hold once it completes.
#[derive(Debug)]
pub(crate) struct Turn {
    /// The request as sent, full input (whatever part of it went on the wire).
    request: ResponsesRequest,
    lite: bool,
    outputs: Vec<InputItem>,
    /// An output item that cannot be replayed: no later request can start with it.
    unmatchable: bool,
    outcome: Option<Result<String, ()>>,
}

#[derive(Deserialize)]
struct ItemDone {
    item: Value,
}

impl Turn {
    pub(crate) fn new(request: ResponsesRequest, lite: bool) -> Turn {
        Turn {
            request,
            lite,
            outputs: Vec::new(),
            unmatchable: false,
            outcome: None,
        }
    }

    /// The request as sent, whole.
    pub(crate) fn request(&self) -> &ResponsesRequest {
        &self.request
    }

    pub(crate) fn into_request(self) -> ResponsesRequest {
        self.request
    }

    /// Notes one event of the turn's answer.
    pub(crate) fn observe(&mut self, ev: &StreamEvent) {
        if self.outcome.is_some() {
            return;
        }
        match &ev.event {
            ResponseEvent::OutputItemDone { .. } => {
                // The typed event keeps only what the fold needs; the replayed item needs every
                // field (namespace, status, action…), so it comes from the event's JSON.
                let item = serde_json::from_str::<ItemDone>(&ev.data)
                    .ok()
                    .and_then(|d| replay_output(&d.item));
                match item {
                    Some(item) => self.outputs.push(item),
                    None => self.unmatchable = true,
                }
            }
            ResponseEvent::Completed { response } => {
                self.outcome = Some(response.id.clone().filter(|id| !id.is_empty()).ok_or(()));
            }
            // A response that did not complete leaves nothing to continue from.
            ResponseEvent::Incomplete { .. }
            | ResponseEvent::Failed { .. }
            | ResponseEvent::Error { .. } => self.outcome = Some(Err(())),
            _ => {}
        }
    }

    /// What the socket's backend holds after this turn: `None` unless the response completed with an
    /// id and every output item can be replayed (then the next request goes in full).
    pub(crate) fn finish(self) -> Option<Chain> {
        let Some(Ok(response_id)) = self.outcome else {
            return None;
        };
        if self.unmatchable {
            return None;
        }
        let mut held = self.request;
        held.input.extend(self.outputs);
        Some(Chain {
            held,
            response_id,
            lite: self.lite,
        })
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
