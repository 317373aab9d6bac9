//! Streaming forwards every upstream delta without batching, checked by causality rather than by timing
//! (see `common::gated`): the upstream writes delta k+1 only after the client has seen delta k.

use crate::common::gated::{each_delta_before_the_next_exists, Gated, Transport};
use crate::common::{Options, Server};
use serde_json::json;

/// Drives one streamed answer through codex-serve over HTTP + SSE upstream: the upstream produces delta
/// k+1 only once the client holds delta k.
async fn each_delta_reaches_the_client_before_the_next_is_produced(
    path: &str,
    body: serde_json::Value,
) -> String {
    let upstream = Gated::start(Transport::Sse).await;
    let server = Server::start_with(Options {
        upstream_url: Some(upstream.url.clone()),
        ..Options::default()
    })
    .await;
    each_delta_before_the_next_exists(&server, &upstream, path, body).await
}

#[tokio::test]
async fn chat_stream_forwards_each_delta_before_the_next_exists() {
    let body =
        json!({"model":"gpt-6.2-sol","stream":true,"messages":[{"role":"user","content":"hi"}]});
    let seen =
        each_delta_reaches_the_client_before_the_next_is_produced("/v1/chat/completions", body)
            .await;
    assert!(seen.trim_end().ends_with("data: [DONE]"), "{seen}");
}

#[tokio::test]
async fn responses_stream_forwards_each_delta_before_the_next_exists() {
    let body = json!({"model":"gpt-6.2-sol","stream":true,"input":"hi"});
    let seen =
        each_delta_reaches_the_client_before_the_next_is_produced("/v1/responses", body).await;
    assert!(seen.contains("response.completed"), "{seen}");
}
