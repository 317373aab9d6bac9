//! State the backend does not keep: `previous_response_id`, stored responses, compaction, WebSocket mode.

use crate::common;

use codex_mock::sse_reply;
use common::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn upstream(s: &Server) -> Vec<codex_mock::RecordedRequest> {
    s.mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/responses")
        .collect()
}

async fn turn(s: &Server, body: Value) -> Value {
    let r = s.post("/v1/responses", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn a_three_turn_chain_sends_the_whole_history_with_reasoning() {
    let s = Server::start().await;
    let r1 = turn(
        &s,
        json!({"model": "gpt-6.2-sol", "input": "mock:reasoning first question"}),
    )
    .await;
    let id1 = r1["id"].as_str().expect("id1").to_owned();
    let enc = r1["output"]
        .as_array()
        .expect("output")
        .iter()
        .find(|i| i["type"] == "reasoning")
        .and_then(|i| i["encrypted_content"].as_str())
        .expect("encrypted reasoning")
        .to_owned();
    let r2 = turn(
        &s,
        json!({"model": "gpt-6.2-sol", "input": "second", "previous_response_id": id1}),
    )
    .await;
    let id2 = r2["id"].as_str().expect("id2").to_owned();
    assert_ne!(id1, id2);
    assert_eq!(r2["previous_response_id"], id1);
    let r3 = turn(&s, json!({"model": "gpt-6.2-sol", "input": [{"role": "user", "content": "third"}], "previous_response_id": id2})).await;
    assert_eq!(r3["output"][0]["content"][0]["text"], "echo: third");

    let reqs = upstream(&s);
    assert_eq!(reqs.len(), 3);
    let input = common::conversation(&reqs[2].body);
    let shape: Vec<String> = input
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["type"].as_str().unwrap_or("?"),
                i["role"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            "message:user",
            "reasoning:",
            "message:assistant",
            "message:user",
            "message:assistant",
            "message:user"
        ]
    );
    assert_eq!(input[1]["encrypted_content"], enc.as_str());
    assert_eq!(input[2]["content"][0]["text"], "echo: first question");
    assert_eq!(input[4]["content"][0]["text"], "echo: second");
    assert_eq!(input[5]["content"][0]["text"], "third");
    // No previous_response_id ever reaches the backend.
    assert!(reqs
        .iter()
        .all(|r| r.body.get("previous_response_id").is_none()));
}

#[tokio::test]
async fn unknown_unkept_and_failed_responses_are_not_continuation_points() {
    let s = Server::start().await;
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x", "previous_response_id": "resp_nope"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["code"], "previous_response_not_found");
    assert_eq!(e["param"], "previous_response_id");

    // store: false is honoured.
    let kept_not = turn(
        &s,
        json!({"model": "gpt-6.2-sol", "input": "secret", "store": false}),
    )
    .await;
    let id = kept_not["id"].as_str().expect("id");
    assert_eq!(
        s.request("GET", &format!("/v1/responses/{id}"), None)
            .await
            .status,
        404
    );
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x", "previous_response_id": id}),
        )
        .await;
    assert_eq!(r.status, 400);

    // A failed turn is not kept (streamed, so the client saw its id).
    s.mock.push(sse_reply(&[
        json!({"type": "response.created", "response": {"id": "resp_failing"}}),
        json!({"type": "response.failed", "response": {"id": "resp_failing", "error": {"code": "server_is_overloaded", "message": "busy"}}}),
    ]));
    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-6.2-sol", "input": "x", "stream": true}),
        )
        .await;
    assert!(r.text().contains("event: response.failed"));
    assert_eq!(
        s.request("GET", "/v1/responses/resp_failing", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn kept_responses_can_be_read_and_deleted() {
    let s = Server::start().await;
    let r = turn(&s, json!({"model": "gpt-6.2-sol", "input": "keep me"})).await;
    let id = r["id"].as_str().expect("id");
    let got = s.request("GET", &format!("/v1/responses/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), r);
    let del = s
        .request("DELETE", &format!("/v1/responses/{id}"), None)
        .await;
    assert_eq!(del.status, 200);
    assert_eq!(del.json()["deleted"], true);
    assert_eq!(
        s.request("GET", &format!("/v1/responses/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        s.request("DELETE", &format!("/v1/responses/{id}"), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn compaction_is_passed_through() {
    let s = Server::start().await;
    let r1 = turn(
        &s,
        json!({"model": "gpt-6.2-sol", "input": "a long conversation"}),
    )
    .await;
    let r = s
        .post(
            "/v1/responses/compact",
            json!({"model": "gpt-6.2-sol", "previous_response_id": r1["id"], "input": [{"role": "user", "content": "and more"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["output"][0]["content"][0]["text"],
        "Summary of 3 earlier items."
    );
    let up = s
        .mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/responses/compact")
        .expect("compact upstream");
    assert_eq!(up.body["model"], "gpt-6.2-sol");
    assert_eq!(common::conversation(&up.body).len(), 3);
    assert!(up
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer ")));

    let r = s.post("/v1/responses/compact", json!({"input": "x"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["param"], "model");
}

async fn ws_connect(s: &Server) -> tokio_tungstenite::WebSocketStream<tokio::net::UnixStream> {
    let stream = tokio::net::UnixStream::connect(&s.socket)
        .await
        .expect("connect");
    let (ws, resp) = tokio_tungstenite::client_async("ws://localhost/v1/responses", stream)
        .await
        .expect("websocket handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

/// Sends one `response.create` and collects the frames up to and including the turn's last one.
async fn ws_turn(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>,
    create: Value,
) -> Vec<Value> {
    ws.send(Message::Text(create.to_string().into()))
        .await
        .expect("send");
    let mut frames = Vec::new();
    while let Some(msg) = ws.next().await {
        let Message::Text(t) = msg.expect("frame") else {
            continue;
        };
        let v: Value = serde_json::from_str(&t).expect("json frame");
        let kind = v["type"].as_str().unwrap_or("").to_owned();
        frames.push(v);
        if matches!(
            kind.as_str(),
            "response.completed" | "response.failed" | "response.incomplete" | "error"
        ) {
            break;
        }
    }
    frames
}

#[tokio::test]
async fn a_websocket_conversation_of_several_turns() {
    let s = Server::start().await;
    let mut ws = ws_connect(&s).await;

    let t1 = ws_turn(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "hello socket"}),
    )
    .await;
    for (i, f) in t1.iter().enumerate() {
        assert_eq!(f["sequence_number"], i as u64, "{f}");
    }
    let done1 = t1.last().expect("frames");
    assert_eq!(done1["type"], "response.completed");
    let id1 = done1["response"]["id"].as_str().expect("id").to_owned();
    let text: String = t1
        .iter()
        .filter(|f| f["type"] == "response.output_text.delta")
        .filter_map(|f| f["delta"].as_str())
        .collect();
    assert_eq!(text, "echo: hello socket");

    // The same fields nested under `response` work too; the turn chains on the first.
    let t2 = ws_turn(
        &mut ws,
        json!({"type": "response.create", "response": {"model": "gpt-6.2-sol", "input": "again", "previous_response_id": id1}}),
    )
    .await;
    let done2 = t2.last().expect("frames");
    assert_eq!(done2["type"], "response.completed");
    let id2 = done2["response"]["id"].as_str().expect("id").to_owned();
    let conv = common::conversation(&upstream(&s).last().expect("upstream").body);
    assert_eq!(conv.len(), 3, "{conv:?}");

    // A failed turn: its events arrive, it is not kept, and the socket stays usable.
    s.mock.push(sse_reply(&[
        json!({"type": "response.created", "response": {"id": "resp_ws_fail"}}),
        json!({"type": "response.failed", "response": {"id": "resp_ws_fail", "error": {"code": "server_is_overloaded", "message": "busy"}}}),
    ]));
    let t3 = ws_turn(&mut ws, json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "fail", "previous_response_id": id2})).await;
    assert_eq!(t3.last().expect("frames")["type"], "response.failed");
    let t4 = ws_turn(&mut ws, json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "x", "previous_response_id": "resp_ws_fail"})).await;
    let err = t4.last().expect("frames");
    assert_eq!(err["type"], "error");
    assert_eq!(err["status"], 400);
    assert_eq!(err["error"]["code"], "previous_response_not_found");

    // Garbage and the wrong frame type are errors, not a dropped socket.
    let bad = ws_turn(&mut ws, json!({"type": "session.update"})).await;
    assert_eq!(bad.last().expect("frames")["status"], 400);
    ws.send(Message::Text("{not json".into()))
        .await
        .expect("send");
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no error frame")
    };
    assert_eq!(
        serde_json::from_str::<Value>(&t).expect("json")["type"],
        "error"
    );

    let t5 = ws_turn(&mut ws, json!({"type": "response.create", "model": "gpt-6.2-sol", "input": "still here", "previous_response_id": id2})).await;
    assert_eq!(t5.last().expect("frames")["type"], "response.completed");
    ws.close(None).await.expect("close");
}

/// The codex CLI over WebSocket: a `generate: false` prewarm answered without the backend, then turns
/// that chain on the socket's last response with `store: false`, and a Close answered with a Close.
#[tokio::test]
async fn the_codex_clis_websocket_session() {
    let s = Server::start().await;
    let mut ws = ws_connect(&s).await;
    let prewarm = ws_turn(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-5.5", "store": false, "stream": true,
            "generate": false, "input": [{"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": "base prompt"}]}], "tools": []}),
    )
    .await;
    let kinds: Vec<&str> = prewarm.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(kinds, ["response.created", "response.completed"]);
    let done = &prewarm[1]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"], json!([]));
    assert!(upstream(&s).is_empty(), "a prewarm costs no generation");

    let t1 = ws_turn(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-5.5", "store": false,
        "previous_response_id": done["id"], "input": [{"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "first"}]}]}),
    )
    .await;
    let done1 = t1.last().expect("frames");
    assert_eq!(done1["type"], "response.completed", "{done1}");
    let sent = upstream(&s).last().expect("upstream").body.clone();
    // The prewarm's developer prompt leads, as the CLI sent it (no default instructions over it).
    let input = sent["input"].as_array().expect("input");
    assert_eq!(input[0]["role"], "developer", "{sent}");
    assert_eq!(input[0]["content"][0]["text"], "base prompt", "{sent}");
    assert_eq!(input[1]["content"][0]["text"], "first", "{sent}");

    // store: false, yet the next turn on this socket continues from it, as the backend allows.
    let t2 = ws_turn(
        &mut ws,
        json!({"type": "response.create", "model": "gpt-5.5", "store": false,
        "previous_response_id": done1["response"]["id"], "input": "second"}),
    )
    .await;
    assert_eq!(t2.last().expect("frames")["type"], "response.completed");
    let conv = common::conversation(&upstream(&s).last().expect("upstream").body);
    let said: Vec<String> = conv
        .iter()
        .filter_map(|i| i["content"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert!(
        said.contains(&"first".to_owned()) && said.contains(&"echo: first".to_owned()),
        "{said:?}"
    );
    // Not kept for anyone else.
    let id1 = done1["response"]["id"].as_str().expect("id");
    assert_eq!(
        s.request("GET", &format!("/v1/responses/{id1}"), None)
            .await
            .status,
        404
    );

    ws.send(Message::Close(None)).await.expect("close");
    let mut answered = false;
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Close(_)) => answered = true,
            Ok(_) => {}
            Err(e) => panic!("the close was not answered: {e}"),
        }
    }
    assert!(answered, "the server answers a Close with a Close");
}

/// The AI SDK replays earlier output as `item_reference`s: they are expanded from the store; one that
/// is not there is refused by name.
#[tokio::test]
async fn item_references_are_expanded_from_stored_responses() {
    let s = Server::start().await;
    let first = turn(
        &s,
        json!({"model": "gpt-5.5", "input": "mock:reasoning think first"}),
    )
    .await;
    let ids: Vec<String> = first["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2, "{first}");
    let refs: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "item_reference", "id": id}))
        .collect();
    let mut input = vec![json!({"role": "user", "content": "mock:reasoning think first"})];
    input.extend(refs);
    input.push(json!({"role": "user", "content": "and then"}));
    turn(&s, json!({"model": "gpt-5.5", "input": input})).await;
    let conv = common::conversation(&upstream(&s).last().expect("upstream").body);
    let kinds: Vec<&str> = conv.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["message", "reasoning", "message", "message"],
        "{conv:?}"
    );
    assert!(conv[1]["encrypted_content"].is_string());

    let r = s
        .post(
            "/v1/responses",
            json!({"model": "gpt-5.5", "input": [{"type": "item_reference", "id": "rs_gone"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-should-retry"), Some("false"));
    let e = r.error();
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("rs_gone")),
        "{e}"
    );
    assert_eq!(e["param"], "input[0].id");
}
