//! The Responses API's turn: one response in flight, whatever carries it (SSE, one object, a WebSocket;
//! see `answer` for how the driver runs it). It makes each backend event schema-valid (see `render`),
//! tracks the output, and on a clean finish keeps the conversation for `previous_response_id`. Events
//! are JSON values here on purpose: this route promises OpenAI's event objects, including fields
//! codex-serve does not interpret. It keeps no reasoning for the next turn: a Responses client sends
//! its reasoning items back itself.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use codex_client::request::InputItem;
use codex_client::{ResponseEvent, StreamEvent};
use serde_json::{json, Value};

use super::wire::{Conversation, CreateResponse, Echo, Lookup};
use crate::core::app::App;
use crate::core::error::ApiError;
use crate::core::exchange::Exchange;
use crate::core::prepare::{prepare, PreparedTurn};
use crate::core::response_store::replay_item;
use crate::core::unix_now;

/// One response in flight: the backend's events in, OpenAI's events out.
pub(crate) struct ResponseTurn {
    pub(super) app: Arc<App>,
    pub(super) echo: Echo,
    pub(super) model: String,
    pub(super) created_at: i64,
    pub(super) id: Option<String>,
    pub(super) seq: u64,
    /// The conversation so far, to keep when this turn finishes cleanly; `None` with `store: false`
    /// outside a WebSocket.
    pub(super) history: Option<Conversation>,
    /// Keep the finished conversation in the store (`store` was not false).
    pub(super) store: bool,
    /// The finished response's id and conversation, for the socket that ran it.
    pub(super) finished: Option<(String, Arc<Vec<InputItem>>)>,
    pub(super) output: BTreeMap<u32, Value>,
    /// Item ids and function names by output index, for events that leave them out.
    pub(super) item_ids: HashMap<u32, String>,
    pub(super) names: HashMap<u32, String>,
    pub(super) last_index: u32,
    /// The backend's own error code and message of a `response.failed`, before mapping to the schema.
    pub(super) failure: Option<(String, String)>,
    /// Prompt and completion tokens of the finished response, for the request log.
    pub(super) tokens: Option<(u64, u64)>,
    /// The terminal event was seen.
    pub(super) done: bool,
    /// The final response object of a completed or incomplete turn, for an answer sent whole.
    pub(super) response: Option<Value>,
}

impl ResponseTurn {
    /// Checks, translates and sends the request: the turn, and the exchange whose events it answers.
    /// The backend's first event is read before this returns, so that its wait counts as the
    /// backend's (time to first byte), not codex-serve's.
    pub(crate) async fn start(
        app: Arc<App>,
        mut req: CreateResponse,
        session: Option<&str>,
        socket_last: Option<&(String, Arc<Vec<InputItem>>)>,
    ) -> Result<(ResponseTurn, Exchange), ApiError> {
        app.fill_model(&mut req.model);
        let on_socket = socket_last.is_some();
        let lookup = Lookup {
            app: &app,
            socket_last: socket_last
                .filter(|(id, _)| !id.is_empty())
                .map(|(id, items)| (id.as_str(), items)),
        };
        let mut prepared = req.translate(&lookup, session)?;
        let PreparedTurn { request, model } = prepare(&app, prepared.plan).await?;
        let sent = request.reasoning.as_ref();
        prepared.echo.reasoning = json!({
            "effort": sent.and_then(|r| r.effort).map(|e| e.as_str()),
            "summary": sent.and_then(|r| r.summary),
        });
        let history = (prepared.remember || on_socket).then_some(prepared.conversation);
        let exchange = if prepared.generate {
            Exchange::open(&app, request).await?
        } else {
            // The client's prewarm (`generate: false`) prewarms its conversation's upstream socket
            // too, in the background: the answer here needs nothing from the backend.
            let (app, request) = (app.clone(), request);
            tokio::spawn(async move {
                if let Err(e) = app.codex.prewarm(request).await {
                    tracing::debug!(error = %e, "the upstream prewarm failed");
                }
            });
            Exchange::local(no_generation())
        };
        let turn = ResponseTurn {
            app,
            echo: prepared.echo,
            model,
            created_at: unix_now(),
            id: None,
            seq: 0,
            history,
            store: prepared.remember,
            finished: None,
            output: BTreeMap::new(),
            item_ids: HashMap::new(),
            names: HashMap::new(),
            last_index: 0,
            failure: None,
            tokens: None,
            done: false,
            response: None,
        };
        Ok((turn, exchange))
    }

    /// One backend event as OpenAI's: schema-valid, or `None` for what is no Responses API event.
    pub(crate) fn event(&mut self, ev: &StreamEvent) -> Option<Value> {
        let mut value = ev.value().filter(Value::is_object)?;
        // The backend's own `codex.*` events (rate limits, metadata) are not Responses API events.
        if value["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("codex."))
        {
            return None;
        }
        let terminal = ev.event.is_terminal();
        self.normalize(&mut value);
        if terminal {
            self.done = true;
            let usage = &value["response"]["usage"];
            self.tokens = usage["input_tokens"]
                .as_u64()
                .zip(usage["output_tokens"].as_u64());
            if matches!(ev.event, ResponseEvent::Completed { .. }) {
                self.remember(&value);
            }
        }
        Some(value)
    }

    /// The response id and conversation of a turn that completed, once.
    pub(crate) fn take_finished(&mut self) -> Option<(String, Arc<Vec<InputItem>>)> {
        self.finished.take()
    }

    /// The catalog slug the turn runs on.
    pub(crate) fn model(&self) -> &str {
        &self.model
    }

    /// Prompt and completion tokens, once the response finished.
    pub(crate) fn tokens(&self) -> Option<(u64, u64)> {
        self.tokens
    }

    /// The sequence number the next event (or an error of ours) gets.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.seq
    }

    pub(super) fn id(&mut self, from_backend: Option<&str>) -> String {
        if self.id.is_none() {
            self.id = Some(
                from_backend
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("resp_{}", uuid::Uuid::new_v4().simple())),
            );
        }
        self.id.clone().unwrap_or_default()
    }

    pub(super) fn remember(&mut self, completed: &Value) {
        let Some(conversation) = self.history.take() else {
            return;
        };
        let Some(response) = completed.get("response") else {
            return;
        };
        let Some(id) = response.get("id").and_then(Value::as_str) else {
            return;
        };
        let output = response.get("output").and_then(Value::as_array);
        let replayed = output.into_iter().flatten().filter_map(replay_item);
        let history = Arc::new(conversation.with_output(replayed));
        if self.store {
            self.app
                .responses
                .put(id.to_owned(), response.clone(), history.clone());
        }
        self.finished = Some((id.to_owned(), history));
    }
}

/// The events of a request that asks for no generation: created, then completed with no output and
/// no usage. The turn fills in the rest of each response object as for any other.
fn no_generation() -> Vec<StreamEvent> {
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let usage = json!({"input_tokens": 0, "output_tokens": 0, "total_tokens": 0});
    [
        json!({"type": "response.created", "response": {"id": id, "status": "in_progress"}}),
        json!({"type": "response.completed", "response": {"id": id, "status": "completed", "output": [], "usage": usage}}),
    ]
    .into_iter()
    .filter_map(|v| StreamEvent::parse(v.to_string()).ok())
    .collect()
}
