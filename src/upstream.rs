//! What every front end (OpenAI, Ollama, Anthropic) shares on the way to the Codex backend: the server's
//! defaults, model names with an effort suffix, the conversation cache key, and one exchange with the
//! backend that holds its upstream slot and can still fail with a proper HTTP status until output began.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use codex_client::request::{ContentPart, InputItem, ReasoningEffort, ReasoningSummary, Role};
use codex_client::{CodexError, ResponseEvent, ResponseStream, ResponsesRequest};
use futures_util::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use crate::app::App;
use crate::fold::{Failure, Folder};
use crate::http::error::ApiError;

/// Server-wide settings that shape every translated request.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub instructions: String,
    pub reasoning_effort: Option<ReasoningEffort>,
    pub reasoning_summary: Option<ReasoningSummary>,
}

/// The model name split into the catalog slug and an effort suffix (`gpt-6.2-sol-high`,
/// `gpt-6.2-sol:high`).
pub fn split_model(model: &str) -> (&str, Option<ReasoningEffort>) {
    if let Some((base, suffix)) = model.rsplit_once(':') {
        if let Some(e) = ReasoningEffort::parse(suffix) {
            return (base, Some(e));
        }
    }
    if let Some((base, suffix)) = model.rsplit_once('-') {
        // "none" and "minimal" are not used as name suffixes: too easy to confuse with real names.
        if let Some(e) = ReasoningEffort::parse(suffix).filter(|e| {
            matches!(
                e,
                ReasoningEffort::Low
                    | ReasoningEffort::Medium
                    | ReasoningEffort::High
                    | ReasoningEffort::Xhigh
                    | ReasoningEffort::Max
                    | ReasoningEffort::Ultra
            )
        }) {
            return (base, Some(e));
        }
    }
    (model, None)
}

/// Efforts in increasing order of thought, for picking the nearest one a model takes.
pub fn effort_rank(e: ReasoningEffort) -> i32 {
    match e {
        ReasoningEffort::None => 0,
        ReasoningEffort::Minimal => 1,
        ReasoningEffort::Low => 2,
        ReasoningEffort::Medium => 3,
        ReasoningEffort::High => 4,
        ReasoningEffort::Xhigh => 5,
        ReasoningEffort::Max => 6,
        ReasoningEffort::Ultra => 7,
    }
}

/// The effort of `allowed` closest to `want` (the higher one on a tie); `want` when `allowed` is empty.
pub fn nearest_effort(want: ReasoningEffort, allowed: &[ReasoningEffort]) -> ReasoningEffort {
    let target = effort_rank(want);
    allowed
        .iter()
        .copied()
        .min_by_key(|e| ((effort_rank(*e) - target).abs(), -effort_rank(*e)))
        .unwrap_or(want)
}

/// What a client asked of the model's reasoning, before the catalog says what the model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The server's default effort (`--reasoning-effort`, else the backend's).
    Default,
    /// As little reasoning as the model allows.
    Least,
    /// A level: the model's nearest effort.
    Near(ReasoningEffort),
}

/// The effort to send: an effort named in the model name is taken as asked (and refused if the catalog
/// says the model does not take it); a wish is fitted to what the catalog lists.
pub async fn choose_effort(
    app: &App,
    slug: &str,
    named: Option<ReasoningEffort>,
    want: Want,
) -> Result<Option<ReasoningEffort>, ApiError> {
    let levels = app
        .codex
        .models()
        .await
        .0
        .iter()
        .find(|m| m.slug == slug)
        .map(|m| m.supported_reasoning_levels.clone())
        .unwrap_or_default();
    let effort = match (named, want) {
        (Some(e), _) => Some(e),
        (None, Want::Default) => app.defaults.reasoning_effort,
        (None, Want::Least) => {
            (!levels.is_empty()).then(|| nearest_effort(ReasoningEffort::None, &levels))
        }
        (None, Want::Near(e)) => Some(nearest_effort(e, &levels)),
    };
    if let Some(e) = effort {
        app.check_effort(slug, e).await?;
    }
    Ok(effort)
}

/// False only when the catalog came from the backend and does not have the model; with the built-in
/// list (backend unreachable) the backend is left to decide.
pub async fn known_model(app: &App, slug: &str) -> bool {
    let (models, source) = app.codex.models().await;
    source == codex_client::CatalogSource::Fallback || models.iter().any(|m| m.slug == slug)
}

/// The one refusal of a model the login lacks, whichever API asked: 404 `model_not_found`, naming the
/// model as the client wrote it (and what `--model-map` made of it, when that differs).
pub async fn check_model(app: &App, requested: &str, slug: &str) -> Result<(), ApiError> {
    if known_model(app, slug).await {
        return Ok(());
    }
    let (base, _) = split_model(requested);
    let how = if slug == requested || slug == base {
        String::new()
    } else {
        format!(": it maps to '{slug}', which this Codex login does not offer (change that with --model-map)")
    };
    Err(ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("model '{requested}' not found{how}"),
    )
    .with_param("model")
    .with_code("model_not_found"))
}

/// A tool call's arguments as a JSON object, which Ollama's and Anthropic's clients require. Arguments
/// that are not an object (the model's mistake) cannot be one; they are logged and sent as `{}`.
pub fn arguments_object(name: &str, arguments: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(m)) => m,
        _ if arguments.trim().is_empty() => serde_json::Map::new(),
        _ => {
            tracing::warn!(
                tool = name,
                "tool call arguments are not a JSON object; sent as {{}}"
            );
            serde_json::Map::new()
        }
    }
}

/// A conversation's cache key when the client gives none: stable across the turns of one conversation
/// because it only covers what does not change as the conversation grows (model, instructions, the first
/// user message).
pub fn derived_cache_key(model: &str, instructions: &str, input: &[InputItem]) -> String {
    let first_user = input.iter().find_map(|i| match i {
        InputItem::Message {
            role: Role::User,
            content,
        } => Some(content),
        _ => None,
    });
    let mut parts = Vec::with_capacity(2);
    for seed in [0x636f_6465_7873_7276u64, 0x7072_6f6d_7074_6b79] {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        model.hash(&mut h);
        instructions.hash(&mut h);
        if let Some(c) = first_user {
            for p in c {
                match p {
                    ContentPart::InputText { text } => text.hash(&mut h),
                    ContentPart::InputImage { image_url, .. } => image_url.hash(&mut h),
                    _ => {}
                }
            }
        }
        parts.push(h.finish());
    }
    format!("codex-serve-{:016x}{:016x}", parts[0], parts[1])
}

/// A failed response, as the error a client sees.
pub fn failure_error(f: Failure) -> ApiError {
    CodexError::Failed {
        code: f.code,
        message: f.message,
    }
    .into()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One request to the backend, from the moment it produced output: it holds the upstream slot until it
/// is dropped, and yields the events it read while waiting before the rest of the stream.
pub struct Exchange {
    pending: VecDeque<ResponseEvent>,
    stream: ResponseStream,
    _slot: OwnedSemaphorePermit,
}

impl Exchange {
    /// Takes an upstream slot, sends the request and waits for the backend's first output. Until then a
    /// failure (refused request, usage limit, `response.failed`, a cut stream) is an `ApiError` with a
    /// real HTTP status; the lifecycle events read meanwhile are kept for the fold.
    pub async fn begin(app: &App, req: ResponsesRequest) -> Result<Exchange, ApiError> {
        let slot = app.upstream.acquire().await?;
        let mut stream = app.codex.stream(req).await?;
        let mut pending = VecDeque::new();
        loop {
            let ev = match stream.next().await {
                None => return Err(CodexError::StreamClosed.into()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(ev)) => ev.event,
            };
            match ev {
                ResponseEvent::Created { .. }
                | ResponseEvent::InProgress {}
                | ResponseEvent::RateLimits { .. }
                | ResponseEvent::Other => pending.push_back(ev),
                ResponseEvent::Failed { .. } | ResponseEvent::Error { .. } => {
                    let mut f = Folder::default();
                    return Err(match f.push(&ev, &mut |_| {}) {
                        Err(fail) => failure_error(fail),
                        Ok(()) => CodexError::StreamClosed.into(),
                    });
                }
                _ => {
                    pending.push_back(ev);
                    break;
                }
            }
        }
        Ok(Exchange {
            pending,
            stream,
            _slot: slot,
        })
    }

    /// The next backend event; `None` when the stream ended (cleanly or not: the fold tells which).
    pub async fn next(&mut self) -> Option<Result<ResponseEvent, CodexError>> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(Ok(ev));
        }
        match self.stream.next().await? {
            Ok(ev) => Some(Ok(ev.event)),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_effort_prefers_the_closest_then_the_higher() {
        use ReasoningEffort::*;
        assert_eq!(nearest_effort(Xhigh, &[Low, Medium, High]), High);
        assert_eq!(nearest_effort(None, &[Medium, High]), Medium);
        assert_eq!(nearest_effort(Low, &[Minimal, Medium]), Medium);
        assert_eq!(nearest_effort(Low, &[]), Low);
    }

    #[test]
    fn arguments_are_always_an_object() {
        assert_eq!(arguments_object("f", "{\"a\":1}")["a"], 1);
        assert!(arguments_object("f", "").is_empty());
        assert!(arguments_object("f", "[1,2]").is_empty());
        assert!(arguments_object("f", "{broken").is_empty());
    }
}
