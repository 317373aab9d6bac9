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

// The answer's helpers are the spawned tier's own, so the two cannot drift apart.
#[path = "../../tests/it/common/reply.rs"]
mod reply;
pub(crate) use reply::{chat, chat_stream, conversation, sent_instructions, sent_tools, Reply};
