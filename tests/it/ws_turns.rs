//! Conversations over the backend's WebSocket (the mock's): one upstream socket per conversation reused
//! across its turns, a turn that continues the last response sends only its new items with
//! `previous_response_id` (the mock refuses an id that is not its socket's last response and answers
//! from the history it holds), an edited history is sent whole on a fresh chain, a concurrent request
//! gets a socket of its own, idle sockets close, and the socket cap holds. A client opening codex-serve's
//! Responses WebSocket with a conversation key gets that conversation's upstream socket opened before its
//! first frame (upgrade only), which its turns then use.

use std::time::Duration;

use crate::common::{self, Options, Server};
use serde_json::{json, Value};

async fn ws_server(extra: &[&str]) -> Server {
    let mut args: Vec<String> = vec!["--upstream-transport".into(), "websocket".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let s = Server::start_with(Options {
        args,
        ..Options::default()
    })
    .await;
    s.mock.set_websocket_status(None);
    s
}

async fn chat(s: &Server, messages: Value) -> Value {
    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-5.5", "messages": messages, "prompt_cache_key": "conv-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn answer(v: &Value) -> String {
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The frames sent upstream: (socket number, previous_response_id, the conversation items sent).
fn frames(s: &Server) -> Vec<(u64, Option<String>, Vec<Value>)> {
    s.mock
        .ws_frames()
        .into_iter()
        .map(|f| {
            (
                f.connection,
                f.body["previous_response_id"].as_str().map(str::to_owned),
                common::conversation(&f.body),
            )
        })
        .collect()
}

fn text_of(item: &Value) -> String {
    item["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn sockets(s: &Server) -> Value {
    let r = s.request("GET", "/healthz", None).await;
    assert_eq!(r.status, 200);
    r.json()["upstream"]["sockets"].clone()
}

#[tokio::test]
async fn a_chat_client_that_resends_everything_sends_only_its_new_items() {
    let s = ws_server(&[]).await;
    let first = chat(
        &s,
        json!([{"role": "user", "content": "mock:reasoning first"}]),
    )
    .await;
    assert_eq!(answer(&first), "echo: first");
    // The whole conversation again, as a chat client sends it; codex-serve restores the encrypted
    // reasoning in front of the answer, so it starts with exactly what the socket's backend holds.
    let second = chat(
        &s,
        json!([
            {"role": "user", "content": "mock:reasoning first"},
            {"role": "assistant", "content": "echo: first"},
            {"role": "user", "content": "second"}
        ]),
    )
    .await;
    assert_eq!(answer(&second), "echo: second");
    let third = chat(
        &s,
        json!([
            {"role": "user", "content": "mock:reasoning first"},
            {"role": "assistant", "content": "echo: first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "echo: second"},
            {"role": "user", "content": "third"}
        ]),
    )
    .await;
    assert_eq!(answer(&third), "echo: third");

    let f = frames(&s);
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(
        s.mock.ws_connections(),
        1,
        "one socket for the conversation"
    );
    assert!(f.iter().all(|(conn, _, _)| *conn == 1));
    // Turn 1 whole, then only the new user message, continuing the last response.
    assert_eq!(f[0].1, None);
    assert_eq!(f[0].2.len(), 1);
    for (n, text) in [(1, "second"), (2, "third")] {
        assert!(f[n].1.is_some(), "turn {} continues: {:?}", n + 1, f[n]);
        assert_eq!(f[n].2.len(), 1, "{:?}", f[n].2);
        assert_eq!(text_of(&f[n].2[0]), text);
    }
    assert_ne!(f[1].1, f[2].1);
    // Nothing went over HTTP.
    assert!(s.mock.requests().iter().all(|r| r.path != "/responses"));
}

#[tokio::test]
async fn an_edited_earlier_turn_is_never_continued() {
    let s = ws_server(&[]).await;
    chat(&s, json!([{"role": "user", "content": "what is 2+2?"}])).await;
    // The client rewrote the model's answer before going on.
    let r = chat(
        &s,
        json!([
            {"role": "user", "content": "what is 2+2?"},
            {"role": "assistant", "content": "five"},
            {"role": "user", "content": "are you sure?"}
        ]),
    )
    .await;
    assert_eq!(answer(&r), "echo: are you sure?");
    let f = frames(&s);
    assert_eq!(f.len(), 2);
    assert_eq!(f[1].1, None, "an edited history starts a fresh chain");
    let sent: Vec<String> = f[1].2.iter().map(text_of).collect();
    assert_eq!(sent, ["what is 2+2?", "five", "are you sure?"]);
    // The socket itself is reused.
    assert_eq!(s.mock.ws_connections(), 1);
}

#[tokio::test]
async fn a_responses_client_continues_with_its_own_previous_response_id() {
    let s = ws_server(&[]).await;
    let r1 = s
        .post("/v1/responses", json!({"model": "gpt-5.5", "input": "one"}))
        .await
        .json();
    let id1 = r1["id"].as_str().expect("id").to_owned();
    let r2 = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-5.5", "input": "two", "previous_response_id": id1}),
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text());
    assert_eq!(r2.json()["output"][0]["content"][0]["text"], "echo: two");
    let f = frames(&s);
    assert_eq!(f.len(), 2);
    assert_eq!(s.mock.ws_connections(), 1);
    assert!(f[1].1.is_some());
    let sent: Vec<String> = f[1].2.iter().map(text_of).collect();
    assert_eq!(sent, ["two"]);
}

#[tokio::test]
async fn a_prewarm_uploads_the_prompt_ahead_and_the_turn_sends_only_the_rest() {
    let s = ws_server(&[]).await;
    let warm = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-5.5", "input": "hello", "generate": false}),
        )
        .await;
    assert_eq!(warm.status, 200, "{}", warm.text());
    let warm_id = warm.json()["id"].as_str().expect("id").to_owned();
    // The prewarm runs in the background: wait until its socket is back in the pool.
    for _ in 0..100 {
        if sockets(&s).await["idle"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-5.5", "input": "world", "previous_response_id": warm_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["output"][0]["content"][0]["text"], "echo: world");
    let raw = s.mock.ws_frames();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0].body["generate"], false);
    let f = frames(&s);
    assert!(f[1].1.is_some(), "the turn continues the prewarm");
    let sent: Vec<String> = f[1].2.iter().map(text_of).collect();
    assert_eq!(sent, ["world"]);
    assert_eq!(s.mock.ws_connections(), 1);
}

#[tokio::test]
async fn a_concurrent_second_request_on_one_conversation_gets_its_own_socket() {
    let s = ws_server(&[]).await;
    s.mock
        .push(common::slow_stream(&["a ", "slow ", "story"], 150));
    let slow = {
        let messages = json!([{"role": "user", "content": "tell me a story"}]);
        let s = &s;
        async move { chat(s, messages).await }
    };
    let quick = async {
        // While the first one streams.
        tokio::time::sleep(Duration::from_millis(100)).await;
        chat(&s, json!([{"role": "user", "content": "quick one"}])).await
    };
    let (a, b) = tokio::join!(slow, quick);
    assert_eq!(answer(&a), "a slow story");
    assert_eq!(answer(&b), "echo: quick one");
    assert_eq!(s.mock.ws_connections(), 2);
    let conns: Vec<u64> = frames(&s).iter().map(|f| f.0).collect();
    assert_eq!(conns, [1, 2]);
    assert_eq!(sockets(&s).await["idle"], 2);
    // The next turn of the quick one finds its own socket and continues there.
    chat(
        &s,
        json!([
            {"role": "user", "content": "quick one"},
            {"role": "assistant", "content": "echo: quick one"},
            {"role": "user", "content": "and another"}
        ]),
    )
    .await;
    let f = frames(&s);
    assert_eq!(f[2].0, 2);
    assert!(f[2].1.is_some());
    assert_eq!(s.mock.ws_connections(), 2);
}

#[tokio::test]
async fn idle_sockets_are_closed_and_the_next_turn_opens_a_new_one() {
    let s = ws_server(&["--upstream-socket-idle", "1"]).await;
    chat(&s, json!([{"role": "user", "content": "hi"}])).await;
    assert_eq!(sockets(&s).await["idle"], 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let idle = sockets(&s).await;
    assert_eq!(idle["open"], 0, "{idle}");
    chat(
        &s,
        json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "echo: hi"},
            {"role": "user", "content": "still there?"}
        ]),
    )
    .await;
    assert_eq!(s.mock.ws_connections(), 2);
    // A new socket's backend holds nothing: the whole conversation goes again.
    let f = frames(&s);
    assert_eq!(f[1].1, None);
    assert_eq!(f[1].2.len(), 3);
}

#[tokio::test]
async fn the_socket_cap_evicts_the_idle_socket_and_overflows_to_http() {
    let s = ws_server(&["--upstream-max-sockets", "1"]).await;
    let conv = |key: &str, text: &str| json!({"model": "gpt-5.5", "prompt_cache_key": key, "messages": [{"role": "user", "content": text}]});
    assert_eq!(
        s.post("/v1/chat/completions", conv("a", "one"))
            .await
            .status,
        200
    );
    assert_eq!(
        s.post("/v1/chat/completions", conv("b", "two"))
            .await
            .status,
        200
    );
    // `b` took the only room: `a`'s idle socket was closed.
    assert_eq!(s.mock.ws_connections(), 2);
    let st = sockets(&s).await;
    assert_eq!(st["open"], 1, "{st}");
    // With the one socket busy, another conversation goes over HTTP + SSE.
    s.mock.push(common::slow_stream(&["slow"], 300));
    let busy = s.post("/v1/chat/completions", conv("b2", "busy"));
    let overflow = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.post("/v1/chat/completions", conv("c", "three")).await
    };
    let (x, y) = tokio::join!(busy, overflow);
    assert_eq!(
        (x.status, y.status),
        (200, 200),
        "{} / {}",
        x.text(),
        y.text()
    );
    let http: Vec<_> = s
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/responses")
        .collect();
    assert_eq!(http.len(), 1, "one request over HTTP");
    assert_eq!(common::conversation(&http[0].body).len(), 1);
}

// ------------------------------------------------------------ opened ahead of the first turn

/// A client socket on codex-serve's `/v1/responses`, with `headers` on its upgrade.
async fn client_socket(
    s: &Server,
    headers: &[(&str, &str)],
) -> tokio_tungstenite::WebSocketStream<tokio::net::UnixStream> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stream = tokio::net::UnixStream::connect(&s.socket)
        .await
        .expect("connect");
    let mut request = "ws://localhost/v1/responses"
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(value).expect("value"),
        );
    }
    let (ws, resp) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

/// One `response.create` on `ws`: the text of the turn's answer.
async fn client_turn(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>,
    input: &str,
) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let create = json!({"type": "response.create", "model": "gpt-5.5", "input": input});
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    while let Some(msg) = ws.next().await {
        let Message::Text(t) = msg.expect("frame") else {
            continue;
        };
        let v: Value = serde_json::from_str(&t).expect("json");
        match v["type"].as_str() {
            Some("response.completed") => {
                return v["response"]["output"][0]["content"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            Some("response.failed" | "error") => panic!("the turn failed: {v}"),
            _ => {}
        }
    }
    panic!("the socket closed before the turn completed")
}

/// How long a socket opened ahead may take on loopback; bounds only a failure.
const OPENED: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_client_socket_with_a_conversation_key_gets_its_upstream_socket_before_its_first_frame() {
    let s = ws_server(&["--model", "gpt-5.5"]).await;
    let mut ws = client_socket(&s, &[("x-session-id", "conv-ahead")]).await;
    // Opened while the client has sent nothing: the upgrade only, no frame (no generation).
    let deadline = tokio::time::Instant::now() + OPENED;
    while s.mock.ws_connections() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "{}", s.logs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(s.mock.ws_frames().is_empty(), "nothing sent on it yet");
    for _ in 0..100 {
        if sockets(&s).await["idle"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sockets(&s).await["idle"], 1, "{}", s.logs());
    // The first turn and the next go on that socket: no new connection.
    assert_eq!(client_turn(&mut ws, "first").await, "echo: first");
    assert_eq!(client_turn(&mut ws, "second").await, "echo: second");
    assert_eq!(s.mock.ws_connections(), 1);
    let f = frames(&s);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|(conn, _, _)| *conn == 1), "{f:?}");
    // The upgrade was the conversation's: its session is the one the turns name.
    let upgrades = s.upstream_upgrades();
    assert_eq!(upgrades.len(), 1);
    let upgrade = &upgrades[0];
    let session = upgrade.header("session-id").expect("session-id").to_owned();
    assert_eq!(s.mock.ws_frames()[0].body["prompt_cache_key"], session);
    // It says what it is, as the codex CLI's upgrade at session start does: a prewarm, no turn yet.
    let meta: Value =
        serde_json::from_str(upgrade.header("x-codex-turn-metadata").expect("metadata"))
            .expect("json");
    assert_eq!(meta["request_kind"], "prewarm", "{meta}");
    assert_eq!(meta["turn_id"], "", "{meta}");
    for turn_only in ["root_turn_id", "turn_trigger", "turn_started_at_unix_ms"] {
        assert!(meta.get(turn_only).is_none(), "{meta}");
    }
    // The turns' own metadata is a turn's.
    let frame_meta: Value = serde_json::from_str(
        s.mock.ws_frames()[0].body["client_metadata"]["x-codex-turn-metadata"]
            .as_str()
            .expect("metadata"),
    )
    .expect("json");
    assert_eq!(frame_meta["request_kind"], "turn");
}

#[tokio::test]
async fn a_first_frame_sent_at_once_waits_for_the_socket_being_opened_rather_than_opening_another()
{
    // The codex CLI's session-id header names the conversation (its frames repeat it as
    // prompt_cache_key).
    let s = ws_server(&["--model", "gpt-5.5"]).await;
    let key = "01a235aa-6fbc-7523-a0c5-6526e8be0420";
    let mut ws = client_socket(&s, &[("session-id", key)]).await;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let create = json!({"type": "response.create", "model": "gpt-5.5", "input": "at once",
                        "prompt_cache_key": key});
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    let mut done = false;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg.expect("frame") {
            let v: Value = serde_json::from_str(&t).expect("json");
            assert_ne!(v["type"], "error", "{v}");
            if v["type"] == "response.completed" {
                done = true;
                break;
            }
        }
    }
    assert!(done, "{}", s.logs());
    assert_eq!(s.mock.ws_connections(), 1, "{}", s.logs());
    assert_eq!(sockets(&s).await["opened"], 1);
}

#[tokio::test]
async fn nothing_is_opened_ahead_with_no_upstream_prewarm_or_without_a_conversation_key() {
    for (flags, headers) in [
        (
            &["--model", "gpt-5.5", "--no-upstream-prewarm"][..],
            &[("x-session-id", "conv-cold")][..],
        ),
        (&["--model", "gpt-5.5"][..], &[][..]),
    ] {
        let s = ws_server(flags).await;
        let mut ws = client_socket(&s, headers).await;
        // A socket opened ahead shows within milliseconds on loopback (test above).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(s.mock.ws_connections(), 0, "{flags:?} {headers:?}");
        assert_eq!(client_turn(&mut ws, "late").await, "echo: late");
        assert_eq!(s.mock.ws_connections(), 1, "the turn opened it");
    }
}
