//! The https listener and what the official codex CLI needs of the mock: a CA clients can trust, zstd
//! bodies, `wham/accounts/check`, 404 for the calls it does not serve, 426 for WebSocket upgrades, and
//! the full request log.

use codex_mock::MockCodex;
use serde_json::{json, Value};

const ACCOUNT: &str = "acct-https";

fn client(mock: &MockCodex) -> reqwest::Client {
    let pem = mock.ca_pem().expect("https listener");
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .expect("client")
}

#[tokio::test]
async fn https_with_a_test_ca_zstd_bodies_accounts_and_the_log() {
    let mock = MockCodex::start_https().await;
    let base = mock.https_url().expect("https url");
    assert!(base.starts_with("https://localhost:"), "{base}");
    let tokens = mock.issue_tokens(ACCOUNT, 3600);
    let http = client(&mock);
    let auth = |req: reqwest::RequestBuilder| {
        req.bearer_auth(&tokens.access_token)
            .header("chatgpt-account-id", ACCOUNT)
    };

    // A zstd body under the CLI's path is decoded before the handler sees it.
    let body = json!({"model": "gpt-6.2-sol", "stream": true,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "over tls"}]}]});
    let packed = zstd::stream::encode_all(body.to_string().as_bytes(), 3).expect("zstd");
    let resp = auth(http.post(format!("{base}/backend-api/codex/responses")))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(packed)
        .send()
        .await
        .expect("responses over https");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("sse");
    assert!(text.contains("over tls"), "{text}");

    // Personal account: the mock's own origin, no constraint.
    let check = |routing: Option<&str>| {
        mock.set_routing(routing);
        auth(http.get(format!("{base}/backend-api/wham/accounts/check"))).send()
    };
    let personal: Value = check(None)
        .await
        .expect("check")
        .json()
        .await
        .expect("json");
    let entry = &personal["accounts"][0];
    assert_eq!(entry["id"], ACCOUNT);
    assert_eq!(entry["workspace_backend_origin"], base.as_str());
    assert_eq!(entry["account_routing_override"], "NO_CONSTRAINT");
    assert_eq!(personal["default_account_id"], ACCOUNT);
    let routed: Value = check(Some("us_cr"))
        .await
        .expect("check")
        .json()
        .await
        .expect("json");
    let entry = &routed["accounts"][0];
    assert_eq!(
        entry["workspace_backend_origin"],
        mock.routed_origin().as_str()
    );
    assert!(mock.routed_origin().starts_with("https://127.0.0.1:"));
    assert_eq!(entry["account_routing_override"], "us_cr");
    // The routed origin's name is in the certificate too.
    let resp = auth(http.get(format!("{}/backend-api/codex/models", mock.routed_origin())))
        .send()
        .await
        .expect("models on the routed origin");
    assert_eq!(resp.status(), 200);

    // Plugins and analytics: 404. A WebSocket upgrade: 426, until a test lets it through.
    for path in [
        "/backend-api/ps/plugins/installed",
        "/backend-api/codex/analytics-events/events",
    ] {
        let resp = auth(http.get(format!("{base}{path}")))
            .send()
            .await
            .expect("404");
        assert_eq!(resp.status(), 404, "{path}");
    }
    let upgrade = auth(http.get(format!("{base}/backend-api/codex/responses")))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("upgrade");
    assert_eq!(upgrade.status(), 426);

    let log = mock.log();
    let paths: Vec<(&str, &str, u16)> = log
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", "/backend-api/codex/responses", 200),
            ("GET", "/backend-api/wham/accounts/check", 200),
            ("GET", "/backend-api/wham/accounts/check", 200),
            ("GET", "/backend-api/codex/models", 200),
            ("GET", "/backend-api/ps/plugins/installed", 404),
            ("GET", "/backend-api/codex/analytics-events/events", 404),
            ("GET", "/backend-api/codex/responses", 426),
        ]
    );
    let first = &log[0];
    assert_eq!(first.scheme, "https");
    assert_eq!(first.content_encoding.as_deref(), Some("zstd"));
    assert_eq!(first.header("content-encoding"), Some("zstd"));
    assert_eq!(first.body, body, "the log holds the decoded body");
    assert!(first
        .header("host")
        .is_some_and(|h| h.starts_with("localhost:")));
    assert!(log[3]
        .header("host")
        .is_some_and(|h| h.starts_with("127.0.0.1:")));

    // The same log, and the CA, through the control API (on the http listener).
    let control: Value = reqwest::get(format!("{}/_mock/log", mock.url()))
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(control.as_array().map(Vec::len), Some(log.len()));
    assert_eq!(control[0]["body"], body);
    assert_eq!(control[0]["headers"][0][0], log[0].headers[0].0.as_str());
    let ca = reqwest::get(format!("{}/_mock/ca", mock.url()))
        .await
        .expect("ca")
        .text()
        .await
        .expect("pem");
    assert_eq!(Some(ca.as_str()), mock.ca_pem());
}

#[tokio::test]
async fn call_directive_calls_once_then_answers_the_tool_output() {
    let mock = MockCodex::start().await;
    let url = format!("{}/responses", mock.url());
    let http = reqwest::Client::new();
    let user = json!({"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "mock:call exec_command {\"cmd\":\"echo hi\"}"}]});
    let first = http
        .post(&url)
        .bearer_auth("sk-test")
        .json(&json!({"model": "gpt-5.5", "input": [user.clone()]}))
        .send()
        .await
        .expect("first")
        .text()
        .await
        .expect("sse");
    assert!(first.contains("\"type\":\"function_call\""), "{first}");
    assert!(first.contains("exec_command"), "{first}");
    let second = http
        .post(&url)
        .bearer_auth("sk-test")
        .json(&json!({"model": "gpt-5.5", "input": [user,
            {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "hi\n"}]}))
        .send()
        .await
        .expect("second")
        .text()
        .await
        .expect("sse");
    assert!(second.contains("tool said: hi"), "{second}");
    assert!(!second.contains("\"function_call\""), "{second}");
}
