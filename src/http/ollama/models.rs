//! `GET /api/version`, `GET /api/tags`, `POST /api/show`: the account's model catalog as Ollama lists it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use codex_client::ModelInfo;
use serde_json::{Map, Value};

use crate::api::ollama::error::OllamaError;
use crate::api::ollama::resolve_model;
use crate::api::ollama::wire::{Details, Show, ShowRequest, TagModel, Tags, Version};
use crate::core::app::App;
use crate::core::error::ApiError;
use crate::core::json::parse_json;

/// What the catalog says the model can do, in Ollama's words. Every model takes text and function
/// tools; thinking and vision are as the catalog has them.
pub fn capabilities(m: &ModelInfo) -> Vec<&'static str> {
    let mut caps = vec!["completion", "tools"];
    if m.reasons() {
        caps.push("thinking");
    }
    if m.takes_images() {
        caps.push("vision");
    }
    caps
}

/// The Ollama version whose API this server speaks (`--ollama-version`): clients gate features on it.
pub async fn version(State(app): State<Arc<App>>) -> Json<Version> {
    Json(Version {
        version: app.ollama_version.clone(),
    })
}

/// `GET /api/ps`: the models loaded in memory. Nothing is loaded here (the backend runs the models), so
/// the list is always empty, in Ollama's shape.
pub async fn ps() -> Json<serde_json::Value> {
    Json(serde_json::json!({"models": []}))
}

/// Listed models as `slug:latest`, like a pulled model; with `--list-effort-variants`, `slug:EFFORT` too.
pub async fn tags(State(app): State<Arc<App>>) -> Json<Tags> {
    let (models, _) = app.codex.models().await;
    let mut out = Vec::new();
    for m in models.iter().filter(|m| m.listed()) {
        let efforts = if app.list_effort_variants {
            &m.supported_reasoning_levels[..]
        } else {
            &[]
        };
        let tags = std::iter::once("latest").chain(efforts.iter().map(|e| e.as_str()));
        for tag in tags {
            let name = format!("{}:{tag}", m.slug);
            out.push(TagModel {
                model: name.clone(),
                name,
                details: Details::default(),
                capabilities: capabilities(m),
            });
        }
    }
    Json(Tags { models: out })
}

pub async fn show(State(app): State<Arc<App>>, body: Bytes) -> Result<Json<Show>, OllamaError> {
    let req: ShowRequest = parse_json(&body)?;
    let name = req
        .model
        .or(req.name)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("model is required").with_param("model"))?;
    let (slug, effort) = resolve_model(&name);
    let (models, _) = app.codex.models().await;
    let m = models
        .iter()
        .find(|m| m.slug == slug && effort.is_none_or(|e| m.allows(e)))
        .ok_or_else(|| OllamaError::model_not_found(&name))?;
    let mut info = Map::new();
    // Ollama's clients look for `<architecture>.context_length`; "codex" names the backend, not a
    // network architecture.
    info.insert("general.architecture".into(), Value::from("codex"));
    info.insert("general.basename".into(), Value::from(m.slug.clone()));
    if let Some(n) = m.context_length() {
        info.insert("codex.context_length".into(), Value::from(n));
    }
    Ok(Json(Show {
        details: Details::default(),
        model_info: info,
        capabilities: capabilities(m),
    }))
}
