//! `GET /models` and `GET wham/accounts/check`: the catalog and the account's workspace.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::{ETAG, HOST, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::log::Scheme;
use crate::server::{authorize, json_response, Answer};
use crate::Shared;

const MODELS_ETAG: &str = "\"codex-mock-models-1\"";

/// One catalog entry in the backend's shape (the fields that shape requests; the codex CLI's own
/// catalog carries more, e.g. its prompt, and the test can serve that one with `set_models`).
fn model(slug: &str, priority: u32, lite: bool, efforts: &[&str], modalities: &[&str]) -> Value {
    let levels: Vec<Value> = efforts
        .iter()
        .map(|effort| {
            let description = match *effort {
                "low" => "Fast responses with lighter reasoning",
                "medium" => "Balances speed and reasoning depth",
                "high" => "Greater reasoning depth for complex problems",
                "xhigh" => "Extra high reasoning depth for complex problems",
                _ => "Maximum reasoning depth for the hardest problems",
            };
            json!({"effort": effort, "description": description})
        })
        .collect();
    let (default_level, minimal) = if lite {
        ("low", "0.166.0")
    } else {
        ("medium", "0.124.0")
    };
    json!({
        "slug": slug,
        "display_name": slug,
        "visibility": "list",
        "supported_in_api": true,
        "priority": priority,
        "minimal_client_version": minimal,
        "default_reasoning_level": default_level,
        "supported_reasoning_levels": levels,
        "supports_reasoning_summaries": true,
        "default_reasoning_summary": "none",
        "support_verbosity": true,
        "default_verbosity": "low",
        "supports_parallel_tool_calls": !lite,
        "supports_image_detail_original": true,
        "use_responses_lite": lite,
        "prefer_websockets": true,
        "context_window": 272_000,
        "max_context_window": 272_000,
        "input_modalities": modalities,
    })
}

/// The catalog served unless a test replaced it: one classic model, one Responses Lite model, and a
/// text-only Lite model so that clients can see a model without vision.
fn default_catalog() -> Value {
    let models = [
        model(
            "gpt-5.5",
            0,
            false,
            &["low", "medium", "high", "xhigh"],
            &["text", "image"],
        ),
        model(
            "gpt-6.2-sol",
            1,
            true,
            &["low", "medium", "high", "xhigh", "max", "ultra"],
            &["text", "image"],
        ),
        model("gpt-5.6-luna", 2, true, &["medium", "high"], &["text"]),
    ];
    json!({ "models": models })
}

/// `0.171.0` → `(0, 171, 0)`; anything unparsable sorts first.
fn version_key(version: &str) -> (u64, u64, u64) {
    let mut parts = version
        .split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

#[derive(Deserialize)]
pub(crate) struct ModelsQuery {
    client_version: Option<String>,
}

/// Like the backend, models whose `minimal_client_version` is above `?client_version=` are left out.
pub(crate) async fn models(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<ModelsQuery>,
    headers: HeaderMap,
) -> Answer {
    authorize(&shared, &headers)?;
    let mut resp = if headers.get(IF_NONE_MATCH).is_some_and(|v| v == MODELS_ETAG) {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp
    } else {
        let mut catalog = shared
            .state()
            .models
            .clone()
            .unwrap_or_else(default_catalog);
        if let (Some(client), Some(list)) = (
            query.client_version.as_deref(),
            catalog.get_mut("models").and_then(Value::as_array_mut),
        ) {
            let client = version_key(client);
            list.retain(|m| {
                m.get("minimal_client_version")
                    .and_then(Value::as_str)
                    .is_none_or(|min| version_key(min) <= client)
            });
        }
        json_response(200, &catalog)
    };
    let etag = HeaderValue::from_static(MODELS_ETAG);
    resp.headers_mut().insert(ETAG, etag);
    Ok(resp)
}

/// `GET wham/accounts/check`: the caller's account (its `chatgpt-account-id`) and where its workspace
/// lives. Personal (the default): the origin the request came to, with `NO_CONSTRAINT`. Routed
/// ([`crate::MockCodex::set_routing`]): the mock's second origin, `https://127.0.0.1:PORT`, with the
/// override value, so Responses must then arrive with that `host` and
/// `x-openai-account-routing-override`.
pub(crate) async fn accounts_check(
    State(shared): State<Arc<Shared>>,
    Extension(scheme): Extension<Scheme>,
    headers: HeaderMap,
) -> Answer {
    authorize(&shared, &headers)?;
    let account = headers
        .get("chatgpt-account-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let routing = shared.state().routing.clone();
    // A personal account lives on the default host: the origin the client asked on.
    let asked_on = headers.get(HOST).and_then(|v| v.to_str().ok()).map_or_else(
        || shared.base_origin().to_owned(),
        |host| format!("{}://{host}", scheme.0),
    );
    let (structure, origin, value) = match routing {
        Some(value) => ("workspace", shared.routed_origin().to_owned(), value),
        None => ("personal", asked_on, "NO_CONSTRAINT".to_owned()),
    };
    Ok(json_response(
        200,
        &json!({
            "accounts": [{
                "id": account,
                "plan_type": "plus",
                "structure": structure,
                "workspace_backend_origin": origin,
                "account_routing_override": value,
                "name": null,
                "profile_picture_url": null,
            }],
            "account_ordering": [account],
            "default_account_id": account,
        }),
    ))
}
