//! `GET /v1/models` and `GET /v1/models/{id}` from the account's catalog.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use codex_client::request::ReasoningEffort;
use codex_client::{CatalogSource, ModelInfo};
use serde::Serialize;

use crate::core::app::App;
use crate::core::error::ApiError;
use crate::core::prepare::split_model;

#[derive(Serialize)]
pub struct ModelList {
    object: &'static str,
    data: Vec<Model>,
    /// Where the catalog came from (`backend`, `disk_cache`, `stale_cache`, `cli_cache`, `fallback`).
    catalog_source: CatalogSource,
}

/// OpenAI's model object, plus what the catalog says about the model (clients that size their context
/// or offer an effort picker read these).
#[derive(Serialize)]
pub struct Model {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_context_window: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasoning_efforts: Vec<ReasoningEffort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_reasoning_effort: Option<ReasoningEffort>,
}

fn model(id: String, info: Option<&ModelInfo>) -> Model {
    // The catalog has no creation dates; a fixed epoch keeps the field honest and stable.
    Model {
        id,
        object: "model",
        created: 0,
        owned_by: "openai",
        context_window: info.and_then(ModelInfo::context_length),
        max_context_window: info.and_then(|m| m.max_context_window),
        reasoning_efforts: info
            .map(|m| m.supported_reasoning_levels.clone())
            .unwrap_or_default(),
        default_reasoning_effort: info.and_then(|m| m.default_reasoning_level),
    }
}

fn names(m: &ModelInfo, variants: bool) -> impl Iterator<Item = String> + '_ {
    let efforts = if variants {
        &m.supported_reasoning_levels[..]
    } else {
        &[]
    };
    std::iter::once(m.slug.clone())
        .chain(efforts.iter().map(|e| format!("{}-{}", m.slug, e.as_str())))
}

pub async fn list(State(app): State<Arc<App>>) -> Json<ModelList> {
    let (models, source) = app.codex.models().await;
    let data = models
        .iter()
        .filter(|m| m.listed())
        .flat_map(|m| names(m, app.list_effort_variants).map(move |id| model(id, Some(m))))
        .collect();
    Json(ModelList {
        object: "list",
        data,
        catalog_source: source,
    })
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Model>, ApiError> {
    let (models, _) = app.codex.models().await;
    let (slug, effort) = split_model(&id);
    let known = models
        .iter()
        .find(|m| m.slug == slug && effort.is_none_or(|e| m.allows(e)));
    if let Some(info) = known {
        Ok(Json(model(id, Some(info))))
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model '{id}' does not exist or this Codex login cannot use it"),
        )
        .with_param("model")
        .with_code("model_not_found"))
    }
}
