//! The upstream WebSocket transport against the mock's real `GET /responses` WebSocket: a turn over
//! it, the fallback to HTTP + SSE on 426 (and that the refusal is remembered), a drop before any output
//! (reconnect, full input again, nothing twice) and after output (an error, nothing twice), login
//! recovery after a 401 on the upgrade, a causal no-batching check, and the mock's own chain rules.

use crate::common::gated::{each_delta_before_the_next_exists, Gated, Transport};
use crate::common::{self, chat, chat_stream, streamed_text, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Upgrades the mock answered, with their status.
fn upgrades(server: &Server) -> Vec<u16> {
    server
        .mock
        .log()
        .iter()
        .filter(|r| r.method == "GET" && r.header("upgrade").is_some())
        .map(|r| r.status)
        .collect()
}

fn text_of(reply: &common::Reply) -> String {
    reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_turn_goes_over_the_websocket_with_the_clis_upgrade_headers() {
    let server = Server::start().await;
    server.mock.set_websocket_status(None);
    let reply = server
        .post("/v1/chat/completions", chat("over the socket"))
        .await;
    assert_eq!(reply.status, 200, "{}", server.logs());
    assert_eq!(text_of(&reply), "echo: over the socket");
    assert_eq!(server.mock.requests().len(), 0, "nothing went over HTTP");
    assert_eq!(server.mock.ws_connections(), 1);
    let upgrade = server.upstream_upgrades().remove(0);
    assert_eq!(upgrade.status, 101);
    assert_eq!(
        upgrade.header("openai-beta"),
        Some("responses_websockets=2026-02-06")
    );
    for name in [
        "authorization",
        "chatgpt-account-id",
        "session-id",
        "x-codex-turn-metadata",
    ] {
        assert!(upgrade.header(name).is_some(), "the upgrade lacks {name}");
    }
    assert!(upgrade.header("content-encoding").is_none());
    let frames = server.mock.ws_frames();
    assert_eq!(frames.len(), 1);
    let frame = &frames[0].body;
    assert_eq!(frame["type"], "response.create");
    assert_eq!(frame["model"], "gpt-6.2-sol");
    assert!(frame.get("previous_response_id").is_none());
    assert!(frame["input"].as_array().is_some_and(|i| !i.is_empty()));
}

#[tokio::test]
async fn a_refused_upgrade_falls_back_to_http_and_the_refusal_is_remembered() {
    // The mock refuses upgrades with 426 unless told otherwise.
    let server = Server::start().await;
    for text in ["first", "second", "third"] {
        let reply = server.post("/v1/chat/completions", chat(text)).await;
        assert_eq!(reply.status, 200, "{}", server.logs());
        assert_eq!(text_of(&reply), format!("echo: {text}"));
    }
    assert_eq!(upgrades(&server), vec![426], "asked once, then remembered");
    assert_eq!(server.mock.requests().len(), 3, "every turn went over HTTP");
    assert_eq!(server.mock.ws_connections(), 0);
}

#[tokio::test]
async fn a_drop_before_any_output_reconnects_and_resends_the_full_input() {
    let server = Server::start().await;
    server.mock.set_websocket_status(None);
    // After `response.created`: nothing the client would show has been sent.
    server.mock.drop_websocket_after(1);
    let reply = server
        .post("/v1/chat/completions", chat_stream("said exactly once"))
        .await;
    assert_eq!(reply.status, 200, "{}", server.logs());
    assert_eq!(streamed_text(&reply.sse_data()), "echo: said exactly once");
    assert_eq!(server.mock.ws_connections(), 2, "one reconnect");
    let frames = server.mock.ws_frames();
    assert_eq!(frames.len(), 2);
    // The frame sent again says when it was sent again.
    assert!(sent_at(&frames[1]) >= frames[0].received_ms, "{frames:?}");
    let unstamped = |f: &codex_mock::WsFrame| {
        let mut body = f.body.clone();
        body["client_metadata"][START_MS] = Value::Null;
        body
    };
    assert_eq!(
        unstamped(&frames[0]),
        unstamped(&frames[1]),
        "the full input, again"
    );
}

/// The `client_metadata` key of a frame's send time.
const START_MS: &str = "x-codex-ws-stream-request-start-ms";

/// A frame's send time as it says (milliseconds since the epoch, a decimal string), checked to be
/// one that the mock received at most a second later.
fn sent_at(frame: &codex_mock::WsFrame) -> u64 {
    let stamp = &frame.body["client_metadata"][START_MS];
    let ms: u64 = stamp
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{START_MS} is not milliseconds in a string: {stamp}"));
    assert!(
        ms <= frame.received_ms && frame.received_ms - ms < 1_000,
        "sent at {ms}, received at {}",
        frame.received_ms
    );
    ms
}

#[tokio::test]
async fn each_frame_says_when_it_was_sent_and_a_lite_models_frames_say_lite() {
    // The codex CLI 0.171's fields (parity test): the Lite flag, which its upgrade does not carry,
    // in each frame of a Responses Lite model and in no other; the frame's send time in every frame.
    let server = Server::start().await;
    server.mock.set_websocket_status(None);
    let lite = "ws_request_header_x_openai_internal_codex_responses_lite";
    for (model, flag) in [("gpt-6.2-sol", Some("true")), ("gpt-5.5", None)] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "when"}]});
        let reply = server.post("/v1/chat/completions", body).await;
        assert_eq!(reply.status, 200, "{}", server.logs());
        let frames = server.mock.ws_frames();
        let frame = frames.last().expect("a frame");
        assert_eq!(frame.body["model"], model);
        assert_eq!(
            frame.body["client_metadata"][lite].as_str(),
            flag,
            "{model}"
        );
        sent_at(frame);
    }
    let upgrades = server.upstream_upgrades();
    assert!(!upgrades.is_empty());
    assert!(upgrades
        .iter()
        .all(|u| u.header("x-openai-internal-codex-responses-lite").is_none()));
}

#[tokio::test]
async fn a_drop_after_output_ends_the_stream_with_an_error_never_a_duplicate() {
    let server = Server::start().await;
    server.mock.set_websocket_status(None);
    let events = codex_mock::text_events("resp_drop", &["one ", "two ", "three"], (3, 0, 3, 0));
    let first_delta = events
        .iter()
        .position(|e| e["type"] == "response.output_text.delta")
        .expect("a delta");
    server.mock.push(codex_mock::sse_reply(&events));
    server.mock.drop_websocket_after(first_delta + 1);
    let reply = server
        .post("/v1/chat/completions", chat_stream("drop me"))
        .await;
    assert_eq!(reply.status, 200, "the stream had started");
    let data = reply.sse_data();
    assert_eq!(
        streamed_text(&data),
        "one ",
        "what was sent, once: {data:?}"
    );
    assert!(
        data.iter().any(|d| d.contains("error")),
        "the stream ends with an error: {data:?}"
    );
    assert_eq!(server.mock.ws_connections(), 1, "no silent resend");
}

#[tokio::test]
async fn a_401_on_the_upgrade_recovers_the_login_as_on_http() {
    let server = Server::start().await;
    server.mock.set_websocket_status(None);
    server.mock.reject_responses_until_refresh();
    let reply = server
        .post("/v1/chat/completions", chat("after a refresh"))
        .await;
    assert_eq!(reply.status, 200, "{}", server.logs());
    assert_eq!(text_of(&reply), "echo: after a refresh");
    assert_eq!(server.mock.token_requests().len(), 1, "one refresh");
    let statuses = upgrades(&server);
    assert_eq!(statuses.first(), Some(&401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&101), "{statuses:?}");
    assert_eq!(server.mock.ws_connections(), 1);
    assert!(!server.logs().contains(&server.tokens.access_token));
}

// ------------------------------------------------------------------ the mock's chain rules

async fn mock_socket(
    mock: &codex_mock::MockCodex,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let tokens = mock.issue_tokens("acct-ws", 3600);
    let url = format!("{}/responses", mock.url().replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("request");
    let h = req.headers_mut();
    h.insert(
        "authorization",
        format!("Bearer {}", tokens.access_token)
            .parse()
            .expect("h"),
    );
    h.insert("chatgpt-account-id", "acct-ws".parse().expect("h"));
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    ws
}

async fn turn<S>(ws: &mut S, frame: Value) -> Vec<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    let _ = ws.send(Message::text(frame.to_string())).await;
    let mut events = Vec::new();
    while let Some(Ok(Message::Text(t))) = ws.next().await {
        let v: Value = serde_json::from_str(t.as_str()).expect("json event");
        let kind = v["type"].as_str().unwrap_or_default().to_owned();
        events.push(v);
        if ["response.completed", "response.failed", "error"].contains(&kind.as_str()) {
            break;
        }
    }
    events
}

#[tokio::test]
async fn the_mock_keeps_the_last_response_per_socket_and_refuses_unknown_ids() {
    let mock = codex_mock::MockCodex::start().await;
    mock.set_websocket_status(None);
    let mut ws = mock_socket(&mock).await;
    let user = |t: &str| json!({"type":"message","role":"user","content":[{"type":"input_text","text":t}]});
    let unknown = turn(
        &mut ws,
        json!({"type":"response.create","model":"gpt-6.2-sol","previous_response_id":"resp_nope","input":[user("x")]}),
    )
    .await;
    let last = unknown.last().expect("an answer");
    assert_eq!(last["status"], 400);
    assert_eq!(last["error"]["code"], "previous_response_not_found");

    let warm = turn(
        &mut ws,
        json!({"type":"response.create","model":"gpt-6.2-sol","generate":false,"input":[]}),
    )
    .await;
    assert_eq!(warm[0]["type"], "codex.rate_limits");
    let id = warm.last().expect("completed")["response"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let next = turn(
        &mut ws,
        json!({"type":"response.create","model":"gpt-6.2-sol","previous_response_id":id,"input":[user("chained")]}),
    )
    .await;
    let text: String = next
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(text, "echo: chained");
    // Another socket does not know this socket's responses.
    let mut other = mock_socket(&mock).await;
    let id = next.last().expect("completed")["response"]["id"].clone();
    let refused = turn(
        &mut other,
        json!({"type":"response.create","model":"gpt-6.2-sol","previous_response_id":id,"input":[user("y")]}),
    )
    .await;
    assert_eq!(refused.last().expect("answer")["status"], 400);
    assert_eq!(mock.ws_connections(), 2);
    assert_eq!(mock.ws_frames().len(), 4);
}

// ------------------------------------------------------------------ causality over the socket

#[tokio::test]
async fn each_delta_reaches_the_client_before_the_next_is_produced_over_the_websocket() {
    let upstream = Gated::start(Transport::WebSocket).await;
    let server = Server::start_with(common::Options {
        upstream_url: Some(upstream.url.clone()),
        ..common::Options::default()
    })
    .await;
    let body =
        json!({"model":"gpt-6.2-sol","stream":true,"messages":[{"role":"user","content":"hi"}]});
    let seen =
        each_delta_before_the_next_exists(&server, &upstream, "/v1/chat/completions", body).await;
    assert!(seen.trim_end().ends_with("data: [DONE]"), "{seen}");
}
