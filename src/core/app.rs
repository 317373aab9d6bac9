//! What every handler shares.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use codex_client::request::{ReasoningEffort, ReasoningSummary};
use codex_client::CodexClient;
use http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::core::error::ApiError;
use crate::core::model_map::ModelMap;
use crate::core::reasoning_cache::ReasoningCache;
use crate::core::resent::{Resent, Settled};
use crate::core::response_store::ResponseStore;

/// Server-wide settings that shape every translated request.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) instructions: String,
    pub(crate) reasoning_effort: Option<ReasoningEffort>,
    pub(crate) reasoning_summary: Option<ReasoningSummary>,
}

pub(crate) struct App {
    pub(crate) codex: CodexClient,
    pub(crate) defaults: Defaults,
    /// List `model-effort` names in `/v1/models` too (`--list-effort-variants`).
    pub(crate) list_effort_variants: bool,
    /// Encrypted reasoning to replay in front of the assistant turns chat clients send back.
    pub(crate) reasoning: ReasoningCache,
    /// Bounds the requests in flight to the backend, and the queue waiting for one.
    pub(crate) upstream_limit: UpstreamLimit,
    /// Finished `/v1/responses` answers, for `previous_response_id`.
    pub(crate) responses: ResponseStore,
    /// Recent large chat bodies, so that the history the next one resends is not read again.
    pub(crate) chat_bodies: Resent<Settled>,
    /// Largest request body (and WebSocket message).
    pub(crate) max_body_bytes: usize,
    /// How long a request's body may take to arrive once its headers have (`--body-read-timeout`).
    pub(crate) body_read_timeout: Duration,
    /// The Ollama version `/api/version` reports (`--ollama-version`).
    pub(crate) ollama_version: String,
    /// Claude model names to Codex models, for the Anthropic API (`--model-map`).
    pub(crate) model_map: ModelMap,
    /// The model for requests that leave `model` empty (`--model`, or the codex CLI's `model`).
    pub(crate) default_model: Option<String>,
}

pub(crate) struct UpstreamLimit {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiter for as long as it waits, whichever way the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl UpstreamLimit {
    pub(crate) fn new(max_in_flight: usize, max_waiting: usize) -> Self {
        UpstreamLimit {
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A slot for one upstream request, held until its answer is fully streamed. When every slot is busy
    /// and the queue is full, a 503 the client can retry.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "codex-serve is at its limit of concurrent requests to the Codex backend (--max-upstream) and its queue is full; retry shortly",
            )
            .with_code("server_busy");
            err.retry_after = Some(Duration::from_secs(1));
            return Err(err);
        }
        self.slots.clone().acquire_owned().await.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "shutting down",
            )
        })
    }
}

impl App {
    /// Puts the default model in place of an empty one; without a default the request's check refuses it.
    pub(crate) fn fill_model(&self, model: &mut String) {
        if model.trim().is_empty() {
            if let Some(m) = &self.default_model {
                model.clone_from(m);
            }
        }
    }
}
