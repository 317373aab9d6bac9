//! The catalog routes (`/api/version`, `/api/tags`, `/api/show`) and loading and unloading.

use super::*;
use serde_json::json;

#[tokio::test]
async fn version_tags_and_show_come_from_the_catalog() {
    let s = Server::start().await;
    let r = s.request("GET", "/api/version", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["version"], "0.12.10");
    let r = s.request("HEAD", "/api/version", None).await;
    assert_eq!(r.status, 200);
    let r = s.request("GET", "/", None).await;
    assert_eq!(r.status, 200);

    // Nothing is loaded in memory here: the backend runs the models.
    let r = s.request("GET", "/api/ps", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"models": []}));

    let r = s.request("GET", "/api/tags", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let models = r.json()["models"].as_array().expect("models").clone();
    let names: Vec<&str> = models.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "gpt-5.5:latest",
            "gpt-6.2-sol:latest",
            "gpt-5.6-luna:latest"
        ]
    );
    for m in &models {
        // No file behind a Codex model: nothing made up about one.
        for absent in ["size", "digest", "modified_at"] {
            assert!(m.get(absent).is_none(), "{absent} in {m}");
        }
        assert_eq!(m["model"], m["name"]);
    }
    assert_eq!(
        models[1]["capabilities"],
        json!(["completion", "tools", "thinking", "vision"])
    );
    // The mock lists the mini model as text only.
    assert_eq!(
        models[2]["capabilities"],
        json!(["completion", "tools", "thinking"])
    );

    let r = s
        .post("/api/show", json!({"model": "gpt-6.2-sol:latest"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["capabilities"],
        json!(["completion", "tools", "thinking", "vision"])
    );
    assert_eq!(v["model_info"]["general.architecture"], "codex");
    assert_eq!(v["model_info"]["codex.context_length"], 272_000);
    assert!(v.get("size").is_none() && v.get("digest").is_none());
    // The older `name` field works too.
    let r = s.post("/api/show", json!({"name": "gpt-5.6-luna"})).await;
    assert_eq!(r.status, 200);

    let r = s.post("/api/show", json!({"model": "llama3:8b"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "model 'llama3:8b' not found"}));
    let r = s.post("/api/show", json!({})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());

    // With effort variants, each effort is a tag.
    let s = Server::start_with(Options {
        args: vec!["--list-effort-variants".into()],
    })
    .await;
    let r = s.request("GET", "/api/tags", None).await;
    let names: Vec<String> = r.json()["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.contains(&"gpt-6.2-sol:high".to_owned()), "{names:?}");
    let r = s
        .post("/api/show", json!({"model": "gpt-5.6-luna:low"}))
        .await;
    assert_eq!(r.status, 404, "the mini model takes no low effort");
}

#[tokio::test]
async fn an_empty_request_loads_and_keep_alive_zero_unloads() {
    let s = Server::start().await;
    let r = s
        .post("/api/chat", json!({"model": "gpt-6.2-sol", "messages": []}))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "load");
    let r = s
        .post(
            "/api/generate",
            json!({"model": "gpt-6.2-sol", "keep_alive": 0}),
        )
        .await;
    assert_eq!(r.json()["done_reason"], "unload");
    let r = s
        .post("/api/chat", json!({"model": "llama3", "messages": []}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(s.upstream_count(), 0, "nothing to ask the backend");
}
