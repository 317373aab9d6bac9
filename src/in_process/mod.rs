//! The in-process test tier: the real [`router`](crate::http::router) over an [`App`](crate::core::app::App)
//! built from the same flags the binary parses, against the mock backend, driven with
//! `tower::ServiceExt::oneshot`. No process, socket or client in between, so translation and fidelity
//! cases run in milliseconds; what needs a real process (sockets, signals, activation, stdio, logs) stays
//! in `tests/it`. The harness mirrors the spawned one's (`tests/it/common`) so a case moves over unchanged.

mod anthropic;
mod fidelity;
mod ollama;

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use clap::Parser;
use codex_mock::MockCodex;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::server::config::Config;
use crate::server::flags::ServeArgs;

pub(crate) const ACCOUNT: &str = "acc-test-1";

/// `codex-serve`'s serve flags, parsed the way the binary parses them.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Default)]
pub(crate) struct Options {
    /// Serve flags after the harness's own.
    pub(crate) args: Vec<String>,
}

pub(crate) struct Server {
    pub(crate) mock: MockCodex,
    _home: tempfile::TempDir,
    router: Router,
}

impl Server {
    pub(crate) async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    /// The App for a login the mock issued, from `--codex-home`/`--upstream-url`/`--auth-url` and
    /// `opts.args`. Environment variables the flags read (`CODEX_SERVE_*`) still apply: the process's
    /// environment is shared by every test, so none is set or removed here.
    pub(crate) async fn start_with(opts: Options) -> Server {
        let mock = MockCodex::start().await;
        let home = tempfile::tempdir().expect("home");
        let tokens = mock.issue_tokens(ACCOUNT, 3600);
        let auth = json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": tokens.id_token,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "account_id": ACCOUNT,
            },
            "last_refresh": "2026-11-24T10:00:00.000000Z",
        });
        std::fs::write(home.path().join("auth.json"), auth.to_string()).expect("auth.json");
        let home_arg = home.path().display().to_string();
        let no_codex = home.path().join("no-codex").display().to_string();
        let mut argv: Vec<String> = [
            "codex-serve",
            "--codex-home",
            &home_arg,
            "--upstream-url",
            &mock.url(),
            "--chatgpt-base-url",
            &mock.url(),
            "--auth-url",
            &mock.auth_url(),
            "--codex-bin",
            &no_codex,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(opts.args);
        let flags = Flags::try_parse_from(argv).expect("flags");
        let config = Config::from_args(&flags.serve);
        let app = crate::server::app::build_app(&config).expect("app");
        let router = crate::http::router(Arc::new(app), config.limits.max_body_bytes);
        Server {
            mock,
            _home: home,
            router,
        }
    }

    /// The last `POST /responses` the backend received.
    pub(crate) fn last_upstream(&self) -> codex_mock::RecordedRequest {
        self.mock
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/responses")
            .expect("an upstream request")
    }

    /// How many `POST /responses` the backend received.
    pub(crate) fn upstream_count(&self) -> usize {
        self.mock
            .requests()
            .iter()
            .filter(|r| r.path == "/responses")
            .count()
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, Some(body)).await
    }

    pub(crate) async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.raw(
            method,
            path,
            &[],
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        )
        .await
    }

    /// One request with these headers besides `content-type: application/json`, answered in full.
    pub(crate) async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body)).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The lines of an NDJSON body, each parsed.
    pub(crate) fn ndjson(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l:?}"))
            })
            .collect()
    }

    /// `(event name, data)` of each SSE frame, in order.
    pub(crate) fn sse_events(&self) -> Vec<(String, Value)> {
        self.text()
            .split("\n\n")
            .filter(|f| !f.trim().is_empty())
            .map(|frame| {
                let mut name = String::new();
                let mut data = Value::Null;
                for line in frame.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d)
                            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {d:?}"));
                    }
                }
                (name, data)
            })
            .collect()
    }

    /// The `data:` payloads of an SSE body, in order.
    pub(crate) fn sse_data(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter_map(|frame| frame.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts the OpenAI error shape and returns the error object.
    pub(crate) fn error(&self) -> Value {
        let v = self.json();
        let e = v
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("no error object: {v}"));
        for k in ["message", "type", "param", "code"] {
            assert!(e.get(k).is_some(), "error lacks {k}: {e}");
        }
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        e
    }
}

pub(crate) fn chat(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": text}]})
}

pub(crate) fn chat_stream(text: &str) -> Value {
    json!({"model": "gpt-6.2-sol", "stream": true, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": text}]})
}

/// The conversation as sent upstream: the input items after the tools item and the system message,
/// without the ids and namespaces the codex CLI's shape adds.
pub(crate) fn conversation(body: &Value) -> Vec<Value> {
    let items = body["input"].as_array().cloned().unwrap_or_default();
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|i| i["type"] != "additional_tools")
        .collect();
    if !items.is_empty() && items[0]["type"] == "message" && items[0]["role"] == "developer" {
        items.remove(0);
    }
    for i in &mut items {
        if let Some(o) = i.as_object_mut() {
            o.remove("id");
            o.remove("namespace");
        }
    }
    items
}

/// The system text codex-serve sent upstream: the leading `developer` message, as the codex CLI 0.171
/// sends its prompt (no top-level `instructions`).
pub(crate) fn sent_instructions(body: &Value) -> String {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"] == "message")
        .filter(|i| i["role"] == "developer")
        .map(|i| i["content"][0]["text"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

/// The client's tools as sent upstream, whatever the model's shape: top-level `tools` (classic) or the
/// `additional_tools` item with the function tools in the `functions` namespace (Responses Lite),
/// flattened back into one list.
pub(crate) fn sent_tools(body: &Value) -> Vec<Value> {
    let listed = match body.get("tools") {
        Some(Value::Array(tools)) => tools.clone(),
        _ => body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["type"] == "additional_tools")
            .and_then(|i| i["tools"].as_array().cloned())
            .unwrap_or_default(),
    };
    listed
        .into_iter()
        .flat_map(|t| {
            if t["type"] == "namespace" && t["name"] == "functions" {
                t["tools"].as_array().cloned().unwrap_or_default()
            } else {
                vec![t]
            }
        })
        .collect()
}
