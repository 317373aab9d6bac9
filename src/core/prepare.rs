//! One preparation step for every API: each translator makes a neutral [`Plan`] of its request, and
//! [`prepare`] resolves it into the codex crate's request — the login and model check, the effort the
//! model takes, the server's default instructions, the conversation cache key, the reasoning the client
//! cannot send back. The same mistake gets the same error whichever API made it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use codex_client::request::{
    ContentPart, InputItem, Reasoning, ReasoningEffort, ReasoningSummary, Role, TextControls, Tool,
    ToolChoice,
};
use codex_client::{ModelInfo, ResponsesRequest};

use super::app::{App, Defaults};
use super::error::ApiError;

/// What a request asks for, in no API's words.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The model as the client named it (the server's default in place of an empty name): errors name it.
    pub(crate) requested: String,
    /// The name to look up in the catalog, after the API's own mapping (`--model-map`, Ollama's `:latest`);
    /// an effort suffix (`-high`, `:high`) is still on it.
    pub(crate) target: String,
    /// `None`: the server's default instructions.
    pub(crate) instructions: Option<String>,
    pub(crate) input: Vec<InputItem>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: Option<ToolChoice>,
    pub(crate) parallel_tool_calls: bool,
    pub(crate) text: Option<TextControls>,
    pub(crate) effort: Want,
    pub(crate) summary: Summary,
    /// The client's own conversation key (`prompt_cache_key`, `user`, `metadata.user_id`).
    pub(crate) cache_key: Option<String>,
    /// The `x-session-id` header: the conversation key when the body names none.
    pub(crate) session: Option<String>,
    /// Put back the encrypted reasoning of earlier turns, which chat-style clients drop.
    pub(crate) restore_reasoning: bool,
    pub(crate) service_tier: Option<String>,
    pub(crate) client_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) client_headers: Vec<(String, String)>,
}

/// Which reasoning summary to ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Summary {
    /// The server's (`--reasoning-summary`).
    #[default]
    Default,
    /// The server's, when the client shows reasoning; none when nobody will see it.
    IfShown(bool),
    /// As the request says.
    Exactly(Option<ReasoningSummary>),
}

/// A plan resolved: the request to send, and the catalog slug it names.
pub(crate) struct PreparedTurn {
    pub(crate) request: ResponsesRequest,
    pub(crate) model: String,
}

/// The client's own conversation id, the `x-session-id` header, when it sends one.
pub(crate) fn session_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The one way a plan becomes the codex request.
pub(crate) async fn prepare(app: &App, mut plan: Plan) -> Result<PreparedTurn, ApiError> {
    let (slug, named) = split_model(&plan.target);
    let slug = slug.to_owned();
    let catalog = check_model(app, &plan.requested, &slug).await?;
    let effort = choose_effort(app, &catalog, &slug, named, plan.effort)?;
    if plan.restore_reasoning {
        plan.input = app.reasoning.restore(std::mem::take(&mut plan.input));
    }
    Ok(PreparedTurn {
        request: plan.build(&app.defaults, &slug, effort),
        model: slug,
    })
}

impl Plan {
    /// The request, once the catalog has settled the model and its effort.
    fn build(
        self,
        defaults: &Defaults,
        slug: &str,
        effort: Option<ReasoningEffort>,
    ) -> ResponsesRequest {
        let instructions = self
            .instructions
            .unwrap_or_else(|| defaults.instructions.clone());
        let cache_key = self
            .cache_key
            .or(self.session)
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| derived_cache_key(slug, &instructions, &self.input));
        let summary = match self.summary {
            Summary::Default => defaults.reasoning_summary,
            Summary::IfShown(shown) => defaults.reasoning_summary.filter(|_| shown),
            Summary::Exactly(s) => s,
        };
        let mut req = ResponsesRequest::new(slug, instructions, self.input);
        req.prompt_cache_key = Some(cache_key);
        req.tools = self.tools;
        req.tool_choice = self.tool_choice;
        req.parallel_tool_calls = self.parallel_tool_calls;
        req.reasoning = Some(Reasoning { effort, summary });
        req.text = self.text;
        req.service_tier = self.service_tier;
        req.client_metadata = self.client_metadata;
        req.client_headers = self.client_headers;
        req
    }

    /// The request without a catalog (tests): the effort as asked, no model check.
    #[cfg(test)]
    pub(crate) fn offline(self, defaults: &Defaults) -> PreparedTurn {
        let (slug, named) = split_model(&self.target);
        let slug = slug.to_owned();
        let effort = match (named, self.effort) {
            (_, Want::Exact(e)) | (Some(e), _) | (None, Want::Near(e)) => Some(e),
            (None, Want::Default) => defaults.reasoning_effort,
            (None, Want::Least) => None,
        };
        PreparedTurn {
            request: self.build(defaults, &slug, effort),
            model: slug,
        }
    }
}

/// The model name split into the catalog slug and an effort suffix (`gpt-6.2-sol-high`,
/// `gpt-6.2-sol:high`).
pub(crate) fn split_model(model: &str) -> (&str, Option<ReasoningEffort>) {
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
pub(crate) fn effort_rank(e: ReasoningEffort) -> i32 {
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
pub(crate) fn nearest_effort(
    want: ReasoningEffort,
    allowed: &[ReasoningEffort],
) -> ReasoningEffort {
    let target = effort_rank(want);
    allowed
        .iter()
        .copied()
        .min_by_key(|e| ((effort_rank(*e) - target).abs(), -effort_rank(*e)))
        .unwrap_or(want)
}

/// What a client asked of the model's reasoning, before the catalog says what the model takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Want {
    /// An effort the request names in a field of its own (`reasoning_effort`, `reasoning.effort`): sent
    /// as asked, ahead of one in the model name, and refused if the catalog says the model does not take it.
    Exact(ReasoningEffort),
    /// The server's default effort (`--reasoning-effort`, else the backend's).
    #[default]
    Default,
    /// As little reasoning as the model allows.
    Least,
    /// A level: the model's nearest effort.
    Near(ReasoningEffort),
}

/// The effort to send: an effort named in the model name is taken as asked (and refused if the catalog
/// says the model does not take it); a wish is fitted to what the catalog lists.
pub(crate) fn choose_effort(
    app: &App,
    catalog: &[ModelInfo],
    slug: &str,
    named: Option<ReasoningEffort>,
    want: Want,
) -> Result<Option<ReasoningEffort>, ApiError> {
    let levels = catalog
        .iter()
        .find(|m| m.slug == slug)
        .map(|m| m.supported_reasoning_levels.clone())
        .unwrap_or_default();
    let effort = match (named, want) {
        (_, Want::Exact(e)) => Some(e),
        (Some(e), _) => Some(e),
        (None, Want::Default) => app.defaults.reasoning_effort,
        (None, Want::Least) => {
            (!levels.is_empty()).then(|| nearest_effort(ReasoningEffort::None, &levels))
        }
        (None, Want::Near(e)) => Some(nearest_effort(e, &levels)),
    };
    if let Some(e) = effort {
        check_effort(catalog, slug, e)?;
    }
    Ok(effort)
}

/// Refuses an effort the catalog says the model does not take, listing the ones it does.
fn check_effort(
    catalog: &[ModelInfo],
    model: &str,
    effort: ReasoningEffort,
) -> Result<(), ApiError> {
    let Some(info) = catalog.iter().find(|m| m.slug == model) else {
        return Ok(());
    };
    if info.allows(effort) {
        return Ok(());
    }
    let allowed: Vec<&str> = info
        .supported_reasoning_levels
        .iter()
        .map(|e| e.as_str())
        .collect();
    Err(ApiError::invalid(format!(
        "model '{model}' does not take reasoning effort '{}'; it takes: {}",
        effort.as_str(),
        allowed.join(", ")
    ))
    .with_param("reasoning_effort")
    .with_code("unsupported_reasoning_effort"))
}

/// The one refusal of a model the login lacks, whichever API asked: 404 `model_not_found`, naming the
/// model as the client wrote it (and what `--model-map` made of it, when that differs). Gives the
/// catalog it checked against, read once for the request.
pub(crate) async fn check_model(
    app: &App,
    requested: &str,
    slug: &str,
) -> Result<Arc<Vec<ModelInfo>>, ApiError> {
    // A login that cannot be used is the error to report, before the catalog falls back to the
    // built-in list and hides why.
    let creds = app.codex.auth().credentials().await?;
    let (catalog, source) = app.codex.models_for(&creds).await;
    // A model the backend hides because the client version is too old is named as such, not as unknown.
    app.codex.version_gate(&catalog, slug)?;
    // Unknown only when the catalog came from the backend and lacks the model; with the built-in list
    // (backend unreachable) the backend is left to decide.
    if source == codex_client::CatalogSource::Fallback || catalog.iter().any(|m| m.slug == slug) {
        return Ok(catalog);
    }
    let (base, _) = split_model(requested);
    let how = if slug == requested || slug == base {
        String::new()
    } else {
        format!(": it maps to '{slug}', which this Codex login does not offer (change that with --model-map)")
    };
    Err(ApiError::new(
        http::StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("model '{requested}' not found{how}"),
    )
    .with_param("model")
    .with_code("model_not_found"))
}

/// A conversation's cache key when the client gives none: stable across the turns of one conversation
/// because it only covers what does not change as the conversation grows (model, instructions, the first
/// user message).
pub(crate) fn derived_cache_key(model: &str, instructions: &str, input: &[InputItem]) -> String {
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
}
