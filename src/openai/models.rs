//! `GET /v1/models` and `GET /v1/models/{id}` from the account's catalog.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use codex_client::ModelInfo;
use serde::Serialize;

use crate::app::App;
use crate::http::error::ApiError;
use crate::upstream::split_model;

#[derive(Serialize)]
pub struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize)]
pub struct Model {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
}

fn model(id: String) -> Model {
    // The catalog has no creation dates; a fixed epoch keeps the field honest and stable.
    Model {
        id,
        object: "model",
        created: 0,
        owned_by: "openai",
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
    let (models, _) = app.codex.models().await;
    let data = models
        .iter()
        .filter(|m| m.listed())
        .flat_map(|m| names(m, app.list_effort_variants))
        .map(model)
        .collect();
    Json(ModelList {
        object: "list",
        data,
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
        .any(|m| m.slug == slug && effort.is_none_or(|e| m.allows(e)));
    if known {
        Ok(Json(model(id)))
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
