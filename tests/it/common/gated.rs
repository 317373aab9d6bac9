//! A gated upstream: each Responses turn sends exactly the events the test feeds it, when it feeds
//! them, over HTTP + SSE or over the backend's WebSocket. With it a test proves that codex-serve
//! forwards each delta without batching by causality rather than by timing: the upstream writes delta
//! k+1 only after the client has seen delta k, so a forwarder that held a delta back (waiting for more
//! bytes, or for the end) would never get the next one and the test fails at its bound.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::Server;

/// Bounds only a failure: a forwarder that batches never lets the upstream go on.
pub const STUCK: Duration = Duration::from_secs(20);

pub const DELTAS: &[&str] = &["alpha-0 ", "bravo-1 ", "charlie-2 ", "delta-3 ", "echo-4"];

/// How the gated upstream speaks Responses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST …/responses` answered with an SSE stream; the WebSocket upgrade and the catalog get 404.
    Sse,
    /// The WebSocket upgrade of `GET …/responses`, one event per text frame, and a catalog that
    /// prefers it; `POST`s get 404.
    WebSocket,
}

type Turns = Arc<Mutex<VecDeque<mpsc::UnboundedReceiver<Value>>>>;

pub struct Gated {
    pub url: String,
    /// One receiver per upstream turn, fed by the test.
    turns: Turns,
}

impl Gated {
    pub async fn start(transport: Transport) -> Gated {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let turns: Turns = Arc::default();
        let shared = turns.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(transport, req, shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Gated { url, turns }
    }

    /// The sender of the next upstream turn's events.
    pub fn expect_turn(&self) -> mpsc::UnboundedSender<Value> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.turns.lock().expect("lock").push_back(rx);
        tx
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(status: u16, body: String) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

async fn answer(
    transport: Transport,
    mut req: hyper::Request<Incoming>,
    turns: Turns,
) -> hyper::Response<Body> {
    let path = req.uri().path().to_owned();
    let responses = path.ends_with("/responses");
    match transport {
        Transport::Sse if responses && req.method() == hyper::Method::POST => {
            let _ = BodyExt::collect(req.into_body()).await;
            let rx = turns
                .lock()
                .expect("lock")
                .pop_front()
                .expect("an upstream request the test did not expect");
            let frames = tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
                .map(|v| Ok::<_, Infallible>(Frame::data(sse_event(&v))));
            hyper::Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(BodyExt::boxed(StreamBody::new(frames)))
                .expect("response")
        }
        Transport::WebSocket if path.ends_with("/models") => {
            let catalog = json!({"models": [{"slug": "gpt-6.2-sol", "use_responses_lite": true,
                "prefer_websockets": true, "visibility": "list", "supported_reasoning_levels": []}]});
            full(200, catalog.to_string())
        }
        Transport::WebSocket if responses => match req.headers().get("sec-websocket-key") {
            Some(key) => {
                let accept =
                    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                let upgrade = hyper::upgrade::on(&mut req);
                tokio::spawn(serve_socket(upgrade, turns));
                hyper::Response::builder()
                    .status(101)
                    .header("connection", "upgrade")
                    .header("upgrade", "websocket")
                    .header("sec-websocket-accept", accept)
                    .body(Full::new(Bytes::new()).boxed())
                    .expect("response")
            }
            None => full(404, "{}".into()),
        },
        // The catalog and the workspace check (asked as the codex CLI does), and whatever the
        // transport does not speak.
        _ => full(404, "{}".into()),
    }
}

/// Each `response.create` frame takes the next turn and gets its events, one per text frame.
async fn serve_socket(upgrade: hyper::upgrade::OnUpgrade, turns: Turns) {
    let Ok(upgraded) = upgrade.await else { return };
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        tokio_tungstenite::tungstenite::protocol::Role::Server,
        None,
    )
    .await;
    while let Some(Ok(Message::Text(_))) = ws.next().await {
        let next = turns.lock().expect("lock").pop_front();
        let Some(mut rx) = next else { return };
        while let Some(event) = rx.recv().await {
            if ws.send(Message::text(event.to_string())).await.is_err() {
                return;
            }
        }
    }
}

fn sse_event(v: &Value) -> Bytes {
    Bytes::from(format!(
        "event: {}\ndata: {v}\n\n",
        v["type"].as_str().unwrap_or("")
    ))
}

/// The turn's opening events, up to the message item the deltas belong to.
pub fn head() -> Vec<Value> {
    vec![
        json!({"type":"response.created","response":{"id":"resp_g","model":"gpt-6.2-sol"}}),
        json!({"type":"response.in_progress","response":{"id":"resp_g"}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"msg_g","role":"assistant","content":[]}}),
    ]
}

pub fn delta(k: usize) -> Value {
    json!({"type":"response.output_text.delta","item_id":"msg_g","output_index":0,"content_index":0,"delta":DELTAS[k]})
}

/// The message done and the response completed.
pub fn tail() -> Vec<Value> {
    let text: String = DELTAS.concat();
    vec![
        json!({"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"msg_g","role":"assistant","content":[{"type":"output_text","text":text}]}}),
        json!({"type":"response.completed","response":{"id":"resp_g","usage":{"input_tokens":3,"output_tokens":5,"total_tokens":8}}}),
    ]
}

/// Sends `body` to `path` on `server`, whose upstream is `upstream`, and drives the turn: the head and
/// delta 0 first, then delta k+1 only once the client has seen delta k, then the tail. Returns all the
/// client got.
pub async fn each_delta_before_the_next_exists(
    server: &Server,
    upstream: &Gated,
    path: &str,
    body: Value,
) -> String {
    let tx = upstream.expect_turn();
    for v in head() {
        tx.send(v).expect("send");
    }
    tx.send(delta(0)).expect("send");
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
                "delta {k} never reached the client although the upstream had sent it; \
                 codex-serve is holding deltas back. Client saw:\n{seen}\n{}",
                server.logs()
            );
        }
        // The upstream cannot have gone further: it is waiting for this.
        if k + 1 < DELTAS.len() {
            tx.send(delta(k + 1)).expect("send");
        }
    }
    for v in tail() {
        tx.send(v).expect("send");
    }
    drop(tx);
    while let Some(f) = body.frame().await {
        if let Some(d) = f.expect("frame").data_ref() {
            seen.push_str(&String::from_utf8_lossy(d));
        }
    }
    seen
}
