//! End-to-end tests of the mock over real HTTP.

use std::time::Duration;

use bytes::Bytes;
use codex_mock::{sse_reply, text_events, Chunk, MockCodex, Reply, TokenReply};
use http_body_util::{BodyExt as _, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `data:` payloads of an SSE body.
    fn events(&self) -> Vec<Value> {
        self.body
            .split("\n\n")
            .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|data| serde_json::from_str(data).expect("JSON event"))
            .collect()
    }
}

async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = client.request(request).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

fn user_input(text: &str) -> String {
    json!({"model": "gpt-6.2-sol", "instructions": "be brief", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    ]})
    .to_string()
}

async fn post_api_key(mock: &MockCodex, body: &str) -> Answer {
    let url = format!("{}/responses", mock.url());
    call("POST", &url, &[("authorization", "Bearer sk-test")], body).await
}

fn deltas(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect()
}

#[tokio::test]
async fn echo_requires_live_credentials_of_the_right_account() {
    let mock = MockCodex::start().await;
    let url = format!("{}/responses", mock.url());
    let body = user_input("hello there");

    let anonymous = call("POST", &url, &[], &body).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["error"]["code"], "token_expired");

    let expired = mock.issue_tokens("acct-1", -10);
    let bearer = format!("Bearer {}", expired.access_token);
    let headers = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-1"),
    ];
    assert_eq!(call("POST", &url, &headers, &body).await.status, 401);

    let tokens = mock.issue_tokens("acct-1", 3600);
    let bearer = format!("Bearer {}", tokens.access_token);
    let wrong = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-2"),
    ];
    let mismatch = call("POST", &url, &wrong, &body).await;
    assert_eq!(
        (mismatch.status, mismatch.json()),
        (403, json!({"detail": "account mismatch"}))
    );

    let good = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-1"),
    ];
    let answer = call("POST", &url, &good, &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    assert_eq!(answer.header("x-codex-primary-used-percent"), Some("12.5"));
    assert_eq!(
        answer.header("x-codex-secondary-window-minutes"),
        Some("10080")
    );
    let events = answer.events();
    assert_eq!(deltas(&events), "echo: hello there");
    let completed = events.last().expect("events");
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["usage"]["output_tokens"], 3);
    assert_eq!(completed["response"]["model"], "gpt-6.2-sol");

    let requests = mock.requests();
    assert_eq!(requests.len(), 4, "failed attempts are recorded too");
    assert_eq!(requests[3].header("ChatGPT-Account-ID"), Some("acct-1"));
    assert_eq!(requests[3].body["instructions"], "be brief");
}

#[tokio::test]
async fn queued_replies_are_served_in_order_then_echo() {
    let mock = MockCodex::start().await;
    mock.push(Reply::Status {
        status: 500,
        headers: vec![],
        body: "boom".into(),
    });
    mock.push(sse_reply(&text_events("resp_q", &["a", "b"], (1, 0, 1, 0))));
    mock.push(Reply::Sse {
        headers: vec![
            ("x-extra".into(), "1".into()),
            ("content-type".into(), String::new()),
        ],
        chunks: vec![Chunk::now("data: 1\n\n"), Chunk::delayed("data: 2\n\n", 30)],
    });

    let body = user_input("x");
    assert_eq!(post_api_key(&mock, &body).await.status, 500);
    assert_eq!(deltas(&post_api_key(&mock, &body).await.events()), "ab");
    let raw = post_api_key(&mock, &body).await;
    assert_eq!(
        (raw.body.as_str(), raw.header("x-extra")),
        ("data: 1\n\ndata: 2\n\n", Some("1"))
    );
    assert_eq!(
        raw.header("content-type"),
        None,
        "an empty value removes a default"
    );
    assert_eq!(
        deltas(&post_api_key(&mock, &body).await.events()),
        "echo: x"
    );
}

#[tokio::test]
async fn directives_drive_out_of_process_tests() {
    let mock = MockCodex::start().await;
    let tool = post_api_key(&mock, &user_input("mock:tool shell {\"cmd\": \"ls -la\"}")).await;
    let done = tool
        .events()
        .into_iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .expect("arguments done");
    assert_eq!(done["arguments"], "{\"cmd\": \"ls -la\"}");

    let reasoning = post_api_key(&mock, &user_input("mock:reasoning why"))
        .await
        .events();
    assert!(reasoning
        .iter()
        .any(|e| e["type"] == "response.reasoning_summary_text.delta"));
    assert_eq!(deltas(&reasoning), "echo: why");

    let status = post_api_key(&mock, &user_input("mock:status 400 {\"detail\":\"nope\"}")).await;
    assert_eq!(
        (status.status, status.json()),
        (400, json!({"detail": "nope"}))
    );

    let limit = post_api_key(&mock, &user_input("mock:usage_limit")).await;
    assert_eq!(limit.status, 429);
    assert_eq!(limit.json()["error"]["type"], "usage_limit_reached");
    assert_eq!(limit.header("x-codex-primary-used-percent"), Some("100.0"));

    let fixture = post_api_key(&mock, &user_input("mock:fixture utf8")).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../reference/utf8.sse");
    assert_eq!(
        fixture.body,
        std::fs::read_to_string(path).expect("fixture")
    );
    assert_eq!(
        post_api_key(&mock, &user_input("mock:fixture ../x"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let mock = MockCodex::start().await;
    let url = format!("{}/oauth/token", mock.auth_url());
    let first = mock.issue_tokens("acct-9", 3600);
    let refresh = |token: &str| {
        json!({"client_id": "app_x", "grant_type": "refresh_token", "refresh_token": token})
            .to_string()
    };

    let body = refresh(&first.refresh_token);
    let (a, b) = tokio::join!(
        call("POST", &url, &[], &body),
        call("POST", &url, &[], &body)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401]);
    let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(loser.json()["error"]["code"], "refresh_token_reused");

    let rotated = winner.json();
    assert_ne!(rotated["refresh_token"], json!(first.refresh_token));
    let bearer = format!(
        "Bearer {}",
        rotated["access_token"].as_str().expect("access")
    );
    let models_url = format!("{}/models", mock.url());
    let models = call(
        "GET",
        &models_url,
        &[("authorization", &bearer), ("chatgpt-account-id", "acct-9")],
        "",
    )
    .await;
    assert_eq!(models.status, 200);
    assert!(models.header("etag").is_some());
    assert_eq!(models.json()["models"].as_array().map(Vec::len), Some(3));

    let unknown = call("POST", &url, &[], &refresh("rt_nope")).await;
    assert_eq!(unknown.json()["error"]["code"], "refresh_token_invalidated");

    mock.push_token_reply(TokenReply::Status {
        status: 503,
        body: json!({"error": "busy"}),
    });
    let scripted = call("POST", &url, &[], &refresh("whatever")).await;
    assert_eq!(scripted.status, 503);
    assert_eq!(mock.token_requests().len(), 4);
    assert_eq!(mock.token_requests()[0]["grant_type"], "refresh_token");
}

#[tokio::test]
async fn hang_keeps_the_connection_until_the_client_leaves() {
    let mock = MockCodex::start().await;
    mock.push(Reply::Hang);
    let addr = mock.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let body = user_input("wait");
    let request = format!(
        "POST /responses HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer sk-x\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    wait_for(|| mock.requests().len() == 1).await;
    assert_eq!(mock.open_connections(), 1);
    drop(stream);
    wait_for(|| mock.open_connections() == 0).await;
}

async fn wait_for(mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 2 s");
}

#[tokio::test]
async fn control_endpoints_script_the_mock() {
    let mock = MockCodex::start().await;
    let base = mock.url();
    let issued = call(
        "POST",
        &format!("{base}/_mock/issue_tokens"),
        &[],
        r#"{"account_id":"acct-py","exp_in_secs":60}"#,
    )
    .await;
    let access = issued.json()["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let raw = r#"{"kind":"raw","chunks":[{"text":"event: x\ndata: {}\n\n","delay_ms":5}]}"#;
    assert_eq!(
        call("POST", &format!("{base}/_mock/reply"), &[], raw)
            .await
            .status,
        200
    );
    let bad = call(
        "POST",
        &format!("{base}/_mock/reply"),
        &[],
        r#"{"kind":"nope"}"#,
    )
    .await;
    assert_eq!(bad.status, 400);

    let bearer = format!("Bearer {access}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("chatgpt-account-id", "acct-py"),
    ];
    let answer = call(
        "POST",
        &format!("{base}/responses"),
        &headers,
        &user_input("hi"),
    )
    .await;
    assert_eq!(answer.body, "event: x\ndata: {}\n\n");

    let logged = call("GET", &format!("{base}/_mock/requests"), &[], "")
        .await
        .json();
    assert_eq!(logged[0]["headers"]["chatgpt-account-id"], "acct-py");
    assert_eq!(logged[0]["body"]["input"][0]["content"][0]["text"], "hi");
    assert_eq!(
        call("POST", &format!("{base}/_mock/reset"), &[], "")
            .await
            .status,
        200
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn reference_fixtures_are_well_formed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../reference");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("reference dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sse") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).expect("read");
        for (i, frame) in text.split_terminator("\n\n").enumerate() {
            let mut lines = frame.lines();
            let event = lines
                .next()
                .and_then(|l| l.strip_prefix("event: "))
                .expect("event line");
            let data = lines
                .next()
                .and_then(|l| l.strip_prefix("data: "))
                .expect("data line");
            let value: Value = serde_json::from_str(data).expect("JSON data");
            assert_eq!(value["type"], event, "{}", path.display());
            assert_eq!(value["sequence_number"], i, "{}", path.display());
        }
        let last = text.split_terminator("\n\n").last().expect("frames");
        assert!(
            [
                "response.completed",
                "response.failed",
                "response.incomplete"
            ]
            .iter()
            .any(|end| last.starts_with(&format!("event: {end}\n"))),
            "{} must end with a terminal event",
            path.display()
        );
    }
    assert_eq!(seen, 5);
}
