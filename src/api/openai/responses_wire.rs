//! `POST /v1/responses` request bodies (and WebSocket `response.create` frames), typed, and what their
//! translation leaves besides the plan.

use codex_client::request::InputItem;
use serde::Deserialize;
use serde_json::Value;

use crate::core::app::App;
use crate::core::prepare::Plan;

#[derive(Debug, Deserialize)]
pub struct CreateResponse {
    pub model: String,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Vec<Value>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<ReasoningIn>,
    #[serde(default)]
    pub text: Option<TextIn>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// `false`: do not keep this response for `previous_response_id`.
    #[serde(default)]
    pub store: Option<bool>,
    /// `false` (the codex CLI's WebSocket prewarm): no generation, only the request's context; answered
    /// here as a completed empty response, so it never costs one.
    #[serde(default)]
    pub generate: Option<bool>,
    /// The client's own metadata (the codex CLI's installation and turn ids), passed on.
    #[serde(default)]
    pub client_metadata: Option<serde_json::Map<String, Value>>,
    /// The client's `x-codex-*` headers, set by the handler (not part of the body).
    #[serde(skip)]
    pub client_headers: Vec<(String, String)>,
}

/// Where an earlier response's conversation is found: the socket's own last response first (kept
/// whatever `store` said, as the backend does over WebSocket), then the store.
pub struct Lookup<'a> {
    pub app: &'a App,
    pub socket_last: Option<(&'a str, &'a [InputItem])>,
}

impl Lookup<'_> {
    pub fn conversation(&self, id: &str) -> Option<Vec<InputItem>> {
        match self.socket_last {
            Some((last, items)) if last == id => Some(items.to_vec()),
            _ => self.app.responses.get(id).map(|s| s.items.as_ref().clone()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningIn {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TextIn {
    #[serde(default)]
    pub format: Option<Value>,
    #[serde(default)]
    pub verbosity: Option<String>,
}

/// The translated request, and what the response object should echo back.
pub struct Prepared {
    pub plan: Plan,
    /// Keep the finished response for `previous_response_id`.
    pub remember: bool,
    /// `false`: answer locally with a completed empty response (`generate: false`).
    pub generate: bool,
    /// The client's leading system messages, as developer items: part of the conversation a continuation
    /// replays, though they went upstream as instructions this time.
    pub history_prefix: Vec<InputItem>,
    pub echo: Echo,
}

/// Request fields a Responses client expects to find again in the response object.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub instructions: Option<String>,
    pub tools: Value,
    pub tool_choice: Value,
    pub parallel_tool_calls: bool,
    pub reasoning: Value,
    pub text: Value,
    pub previous_response_id: Option<String>,
    pub store: bool,
    pub service_tier: Option<String>,
    pub prompt_cache_key: Option<String>,
}
