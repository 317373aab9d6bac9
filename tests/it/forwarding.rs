//! Streaming forwards every upstream delta without batching, checked by causality rather than by timing.
//!
//! A gated upstream writes delta k+1 only after the test has seen delta k arrive at the client. If
//! codex-serve held a delta back waiting for more bytes (or for the end of the answer), the next one would
//! never be produced and the test would fail at its bound; a pass cannot come from lucky timing.

use crate::common;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Options, Server};
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::mpsc;

/// Bounds only a failure: a forwarder that batches never lets the upstream go on.
const STUCK: Duration = Duration::from_secs(20);

const DELTAS: &[&str] = &["alpha-0 ", "bravo-1 ", "charlie-2 ", "delta-3 ", "echo-4"];

struct Gated {
    url: String,
    /// One body per upstream request, fed by the test.
    bodies: Arc<Mutex<VecDeque<mpsc::UnboundedReceiver<Bytes>>>>,
}

impl Gated {
    async fn start() -> Gated {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let bodies: Arc<Mutex<VecDeque<mpsc::UnboundedReceiver<Bytes>>>> = Arc::default();
        let shared = bodies.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        // The catalog and the workspace check (asked as the codex CLI does) get 404:
                        // only Responses requests take a body.
                        // A WebSocket upgrade (GET) gets the 404 too: this upstream speaks SSE.
                        let responses = req.method() == hyper::Method::POST
                            && req.uri().path().ends_with("/responses");
                        let next = responses
                            .then(|| shared.lock().expect("lock").pop_front())
                            .flatten();
                        async move {
                            let _ = BodyExt::collect(req.into_body()).await;
                            let (status, rx) = if responses {
                                (
                                    200,
                                    next.expect("an upstream request the test did not expect"),
                                )
                            } else {
                                (404, mpsc::unbounded_channel::<Bytes>().1)
                            };
                            let frames = tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
                                .map(|b| Ok::<_, Infallible>(Frame::data(b)));
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "text/event-stream")
                                .body(StreamBody::new(frames))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Gated { url, bodies }
    }

    /// The sender for the next request's body.
    fn expect_request(&self) -> mpsc::UnboundedSender<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.bodies.lock().expect("lock").push_back(rx);
        tx
    }
}

fn frame(v: serde_json::Value) -> Bytes {
    Bytes::from(format!(
        "event: {}\ndata: {v}\n\n",
        v["type"].as_str().unwrap_or("")
    ))
}

fn head() -> Bytes {
    let mut b = Vec::new();
    for v in [
        json!({"type":"response.created","response":{"id":"resp_g","model":"gpt-6.2-sol"}}),
        json!({"type":"response.in_progress","response":{"id":"resp_g"}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"msg_g","role":"assistant","content":[]}}),
    ] {
        b.extend_from_slice(&frame(v));
    }
    Bytes::from(b)
}

fn delta(k: usize) -> Bytes {
    frame(
        json!({"type":"response.output_text.delta","item_id":"msg_g","output_index":0,"content_index":0,"delta":DELTAS[k]}),
    )
}

fn tail() -> Bytes {
    let text: String = DELTAS.concat();
    let mut b = Vec::new();
    for v in [
        json!({"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"msg_g","role":"assistant","content":[{"type":"output_text","text":text}]}}),
        json!({"type":"response.completed","response":{"id":"resp_g","usage":{"input_tokens":3,"output_tokens":5,"total_tokens":8}}}),
    ] {
        b.extend_from_slice(&frame(v));
    }
    Bytes::from(b)
}

/// Drives one streamed answer through codex-serve: produces delta k+1 only once the client holds delta k.
async fn each_delta_reaches_the_client_before_the_next_is_produced(
    path: &str,
    body: serde_json::Value,
) -> String {
    let upstream = Gated::start().await;
    let server = Server::start_with(Options {
        upstream_url: Some(upstream.url.clone()),
        ..Options::default()
    })
    .await;
    let tx = upstream.expect_request();
    let produced = AtomicUsize::new(0);
    tx.send(head()).expect("send");
    tx.send(delta(0)).expect("send");
    produced.store(1, Ordering::SeqCst);

    let resp = server
        .send("POST", path, &[], body.to_string().into_bytes())
        .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut seen = String::new();
    for (k, want) in DELTAS.iter().enumerate() {
        let wait = async {
            while !seen.contains(want) {
                match body.frame().await {
                    Some(Ok(f)) => {
                        if let Some(d) = f.data_ref() {
                            seen.push_str(&String::from_utf8_lossy(d));
                        }
                    }
                    other => panic!("the stream ended while waiting for delta {k}: {other:?}"),
                }
            }
        };
        if tokio::time::timeout(STUCK, wait).await.is_err() {
            panic!(
                "delta {k} never reached the client although the upstream had written it; \
                 codex-serve is holding deltas back. Client saw:\n{seen}\n{}",
                server.logs()
            );
        }
        // The upstream cannot have gone further: it is waiting for us.
        assert_eq!(produced.load(Ordering::SeqCst), k + 1);
        if k + 1 < DELTAS.len() {
            tx.send(delta(k + 1)).expect("send");
            produced.store(k + 2, Ordering::SeqCst);
        }
    }
    tx.send(tail()).expect("send");
    drop(tx);
    while let Some(f) = body.frame().await {
        if let Some(d) = f.expect("frame").data_ref() {
            seen.push_str(&String::from_utf8_lossy(d));
        }
    }
    seen
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
