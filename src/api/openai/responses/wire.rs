//! `POST /v1/responses` request bodies (and WebSocket `response.create` frames), typed, and what their
//! translation leaves besides the plan.

use codex_client::request::InputItem;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::core::app::App;
use crate::core::prepare::Plan;

#[derive(Debug, Deserialize)]
pub(crate) struct CreateResponse {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) input: Option<Value>,
    #[serde(default)]
    pub(crate) instructions: Option<String>,
    #[serde(default)]
    pub(crate) tools: Vec<Value>,
    #[serde(default)]
    pub(crate) tool_choice: Option<Value>,
    #[serde(default)]
    pub(crate) parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub(crate) reasoning: Option<ReasoningIn>,
    #[serde(default)]
    pub(crate) text: Option<TextIn>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) prompt_cache_key: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) service_tier: Option<String>,
    #[serde(default)]
    pub(crate) previous_response_id: Option<String>,
    /// `false`: do not keep this response for `previous_response_id`.
    #[serde(default)]
    pub(crate) store: Option<bool>,
    /// `false` (the codex CLI's WebSocket prewarm): no generation, only the request's context; answered
    /// here as a completed empty response, so it never costs one.
    #[serde(default)]
    pub(crate) generate: Option<bool>,
    /// The client's own metadata (the codex CLI's installation and turn ids), passed on.
    #[serde(default)]
    pub(crate) client_metadata: Option<serde_json::Map<String, Value>>,
    /// The client's `x-codex-*` headers, set by the handler (not part of the body).
    #[serde(skip)]
    pub(crate) client_headers: Vec<(String, String)>,
}

/// Where an earlier response's conversation is found: the socket's own last response first (kept
/// whatever `store` said, as the backend does over WebSocket), then the store.
pub(crate) struct Lookup<'a> {
    pub(crate) app: &'a App,
    pub(crate) socket_last: Option<(&'a str, &'a Arc<Vec<InputItem>>)>,
}

impl Lookup<'_> {
    pub(crate) fn conversation(&self, id: &str) -> Option<Arc<Vec<InputItem>>> {
        match self.socket_last {
            Some((last, items)) if last == id => Some(items.clone()),
            _ => self.app.responses.get(id).map(|s| s.items.clone()),
        }
    }
}

/// The conversation a turn extends, kept whole once the turn finishes: the client's leading system
/// messages (sent upstream as instructions this time, replayed as developer items), the earlier
/// conversation (shared with the store, not copied before the request goes out), and the new items.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub(crate) prefix: Vec<InputItem>,
    pub(crate) earlier: Option<Arc<Vec<InputItem>>>,
    pub(crate) new: Vec<InputItem>,
}

impl Conversation {
    /// The whole conversation, then `output`.
    pub(crate) fn with_output(self, output: impl Iterator<Item = InputItem>) -> Vec<InputItem> {
        let earlier = self.earlier.as_deref().map_or(&[][..], Vec::as_slice);
        let mut all = Vec::with_capacity(self.prefix.len() + earlier.len() + self.new.len());
        all.extend(self.prefix);
        all.extend(earlier.iter().cloned());
        all.extend(self.new);
        all.extend(output);
        all
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReasoningIn {
    #[serde(default)]
    pub(crate) effort: Option<String>,
    #[serde(default)]
    pub(crate) summary: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TextIn {
    #[serde(default)]
    pub(crate) format: Option<Value>,
    #[serde(default)]
    pub(crate) verbosity: Option<String>,
}

/// The translated request, and what the response object should echo back.
pub(crate) struct Prepared {
    pub(crate) plan: Plan,
    /// Keep the finished response for `previous_response_id`.
    pub(crate) remember: bool,
    /// `false`: answer locally with a completed empty response (`generate: false`).
    pub(crate) generate: bool,
    /// The conversation as a continuation replays it.
    pub(crate) conversation: Conversation,
    pub(crate) echo: Echo,
}

/// Request fields a Responses client expects to find again in the response object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Echo {
    pub(crate) instructions: Option<String>,
    pub(crate) tools: Value,
    pub(crate) tool_choice: Value,
    pub(crate) parallel_tool_calls: bool,
    pub(crate) reasoning: Value,
    pub(crate) text: Value,
    pub(crate) previous_response_id: Option<String>,
    pub(crate) store: bool,
    pub(crate) service_tier: Option<String>,
    pub(crate) prompt_cache_key: Option<String>,
}
