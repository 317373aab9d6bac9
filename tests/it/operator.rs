//! The operator's view over HTTP: rate limits, overhead and request ids on every answer, the model catalog
//! offline, and the log lines.

use crate::common;

use codex_mock::{sse_frame, text_events, Chunk, Reply};
use common::{chat, Options, Server};
use serde_json::{json, Value};

#[tokio::test]
async fn limits_are_served_and_follow_every_answer() {
    let s = Server::start().await;
    let r = s.request("GET", "/v1/codex/limits", None).await;
    assert_eq!(r.status, 200);
    // Before any request: one ask of the usage endpoint answers.
    let before = &r.json()["limits"];
    assert_eq!(before["source"], "usage", "{before}");
    assert_eq!(before["primary"]["used_percent"], 20.0);
    assert_eq!(before["primary"]["window_minutes"], 300);
    assert_eq!(before["secondary"]["window_minutes"], 10080);
    assert_eq!(before["credits"]["balance"], "17.25");
    assert_eq!(before["plan_type"], "plus");
    assert_eq!(s.mock.usage_asks(), 1);

    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-codex-primary-used-percent"), Some("12.5"));
    assert_eq!(r.header("x-codex-secondary-used-percent"), Some("40"));
    // The answer's headers are newer than the usage answer: they win, and the credits stay.
    let limits = s.request("GET", "/v1/codex/limits", None).await.json()["limits"].clone();
    assert_eq!(limits["source"], "headers");
    assert_eq!(limits["credits"]["balance"], "17.25");
    assert_eq!(limits["primary"]["used_percent"], 12.5);
    assert_eq!(limits["primary"]["window_minutes"], 300);
    assert!(limits["primary"]["resets_at"]
        .as_i64()
        .is_some_and(|t| t > 0));
    assert_eq!(limits["secondary"]["window_minutes"], 10080);

    // A usage-limit 429 updates it too.
    let r = s
        .post("/v1/chat/completions", chat("mock:usage_limit"))
        .await;
    assert_eq!(r.status, 429);
    let limits = s.request("GET", "/v1/codex/limits", None).await.json()["limits"].clone();
    assert_eq!(limits["primary"]["used_percent"], 100.0);
    assert_eq!(limits["secondary"]["used_percent"], 42.0);

    // And so does the backend's own rate-limit event in a stream without headers.
    let mut events = vec![
        json!({"type": "codex.rate_limits", "plan_type": "plus", "rate_limits": {
        "allowed": true, "limit_reached": false,
        "primary": {"used_percent": 33.0, "window_minutes": 300, "reset_after_seconds": 600},
        "secondary": {"used_percent": 50.0, "window_minutes": 10080, "reset_at": 1_900_000_000i64}}}),
    ];
    events.extend(text_events("resp_rl", &["fine"], (1, 0, 1, 0)));
    s.mock.push(Reply::Sse {
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: events.iter().map(|e| Chunk::now(sse_frame(e))).collect(),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "fine");
    let limits = s.request("GET", "/v1/codex/limits", None).await.json()["limits"].clone();
    assert_eq!(limits["primary"]["used_percent"], 33.0);
    assert_eq!(limits["secondary"]["resets_at"], 1_900_000_000i64);
}

#[tokio::test]
async fn every_answer_says_its_request_id_and_overhead() {
    let s = Server::start().await;
    for (method, path, body) in [
        ("GET", "/healthz", None),
        ("GET", "/v1/nope", None),
        ("POST", "/v1/chat/completions", Some(chat("x"))),
        ("POST", "/v1/chat/completions", Some(json!({"bad": true}))),
        (
            "POST",
            "/v1/responses",
            Some(json!({"model": "gpt-6.2-sol", "input": "x"})),
        ),
    ] {
        let r = s.request(method, path, body).await;
        assert!(
            r.header("x-request-id").is_some_and(|v| v.len() >= 16),
            "{path}"
        );
        let overhead: f64 = r
            .header("x-codex-serve-overhead-ms")
            .unwrap_or_else(|| panic!("{path}: no overhead header"))
            .parse()
            .expect("a number");
        assert!((0.0..1000.0).contains(&overhead), "{path}: {overhead}");
    }
    let r = s
        .raw(
            "GET",
            "/healthz",
            &[("x-request-id", "my-trace-42")],
            vec![],
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("my-trace-42"));
}

#[tokio::test]
async fn one_structured_log_line_per_request_and_no_token() {
    let s = Server::start_with(Options {
        args: vec!["--log-format".into(), "json".into()],
        ..Options::default()
    })
    .await;
    assert_eq!(
        s.post("/v1/chat/completions", chat("log me")).await.status,
        200
    );
    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-6.2-sol", "messages": []}),
        )
        .await;
    assert_eq!(r.status, 400);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let logs = s.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    let ok = &lines[0]["fields"];
    assert_eq!(ok["route"], "/v1/chat/completions");
    assert_eq!(ok["model"], "gpt-6.2-sol");
    assert_eq!(ok["status"], 200);
    assert!(ok["upstream_ttfb_ms"].as_f64().is_some_and(|v| v > 0.0));
    assert!(ok["total_ms"].as_f64() >= ok["upstream_ttfb_ms"].as_f64());
    assert!(ok["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    assert!(ok["request_id"].is_string());
    assert_eq!(ok["transport"], "unix");
    assert_eq!(ok["stream"], false);
    assert_eq!(ok["complete"], true);
    // The limit left: as the answer's headers said it (12.5 % and 40 % used), or, if the usage endpoint
    // this first request set off answered first, as it says (20 % and 45 %).
    let left = (
        ok["limit_left_pct"].as_f64(),
        ok["weekly_left_pct"].as_f64(),
    );
    assert!(
        left == (Some(87.5), Some(60.0)) || left == (Some(80.0), Some(55.0)),
        "{ok}"
    );
    assert_eq!(lines[1]["fields"]["status"], 400);
    assert!(!logs.contains(&s.tokens.access_token) && !logs.contains(&s.tokens.refresh_token));
}

fn model_ids(r: &common::Reply) -> Vec<String> {
    r.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_catalog_is_cached_on_disk_per_account_and_falls_back_offline() {
    let online = Server::start().await;
    let ids = model_ids(&online.request("GET", "/v1/models", None).await);
    assert!(ids.contains(&"gpt-5.6-luna".to_owned()) && !ids.contains(&"gpt-6.2-astra".to_owned()));
    let cache = online
        .home
        .path()
        .join("codex-serve")
        .join(format!("models-{}.json", common::ACCOUNT));
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(&cache).expect("disk cache")).expect("json");
    // Age it past its TTL: a stale cache still beats the built-in list when the backend is unreachable.
    doc["fetched_at"] = json!(1);
    std::fs::write(&cache, doc.to_string()).expect("age");

    let offline = Server::start_with(Options {
        upstream_url: Some("http://127.0.0.1:9".into()),
        args: vec!["--upstream-retries".into(), "0".into()],
        ..Options::default()
    })
    .await;
    std::fs::create_dir_all(offline.home.path().join("codex-serve")).expect("dir");
    std::fs::copy(
        &cache,
        offline
            .home
            .path()
            .join("codex-serve")
            .join(cache.file_name().expect("name")),
    )
    .expect("copy");
    assert_eq!(
        model_ids(&offline.request("GET", "/v1/models", None).await),
        ids
    );

    // No cache and no backend: the built-in list.
    let bare = Server::start_with(Options {
        upstream_url: Some("http://127.0.0.1:9".into()),
        ..Options::default()
    })
    .await;
    let ids = model_ids(&bare.request("GET", "/v1/models", None).await);
    assert!(ids.contains(&"gpt-6.2-astra".to_owned()), "{ids:?}");
}

#[tokio::test]
async fn backend_refusals_say_what_to_do() {
    let s = Server::start().await;
    s.mock.push(Reply::Status {
        status: 400,
        headers: vec![],
        body: json!({"detail": "The 'gpt-9' model is not supported when using Codex with a ChatGPT account."}).to_string(),
    });
    let e = s.post("/v1/chat/completions", chat("x")).await.error();
    assert_eq!(e["code"], "model_not_available");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("codex-serve models")),
        "{e}"
    );

    s.mock.push(Reply::Status {
        status: 400,
        headers: vec![],
        body: json!({"detail": "Unsupported parameter: frobnicate"}).to_string(),
    });
    let e = s.post("/v1/chat/completions", chat("x")).await.error();
    assert_eq!(e["code"], "unsupported_parameter");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("Leave `frobnicate` out")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_asked_once_a_minute_at_most_and_only_while_requests_flow() {
    let s = Server::start().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(s.mock.usage_asks(), 0, "asked while idle");
    // A burst: 40 requests at once, then more one by one for about two seconds.
    let burst = (0..40).map(|i| s.post("/v1/chat/completions", chat(&format!("n{i}"))));
    for r in futures_util::future::join_all(burst).await {
        assert_eq!(r.status, 200);
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut sent = 40;
    while std::time::Instant::now() < until {
        assert_eq!(
            s.post("/v1/chat/completions", chat("more")).await.status,
            200
        );
        sent += 1;
    }
    // The first request's ask may still be in flight.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.mock.usage_asks(), 1, "{sent} requests");
    assert_eq!(s.upstream_count(), sent);
    // And GET /v1/codex/limits does not ask again within the minute.
    let limits = s.request("GET", "/v1/codex/limits", None).await.json();
    assert!(limits["limits"]["primary"].is_object());
    assert_eq!(s.mock.usage_asks(), 1);
}

#[tokio::test]
async fn the_429_names_the_limit_that_ran_out() {
    let s = Server::start().await;
    let resets = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    s.mock.push(Reply::Status {
        status: 429,
        headers: vec![
            ("x-codex-active-limit".into(), "codex_bengalfox".into()),
            ("x-codex-bengalfox-limit-name".into(), "GPT-5.3-Codex-Spark".into()),
            ("x-codex-primary-used-percent".into(), "100".into()),
            ("x-codex-secondary-used-percent".into(), "61".into()),
        ],
        body: json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                     "plan_type": "pro", "resets_at": resets}})
        .to_string(),
    });
    let r = s.post("/v1/chat/completions", chat("x")).await;
    assert_eq!(r.status, 429);
    let message = r.error()["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.starts_with(
            "Codex usage limit reached on the pro plan: the limit that ran out is `GPT-5.3-Codex-Spark` (its 5-hour window is used up); it resets in"
        ),
        "{message}"
    );
    let limits = s.request("GET", "/v1/codex/limits", None).await.json()["limits"].clone();
    assert_eq!(limits["active_limit"], "codex_bengalfox");
}

#[tokio::test]
async fn a_failing_usage_endpoint_costs_nothing_but_the_numbers() {
    let s = Server::start().await;
    s.mock.set_usage(503, json!({"detail": "down"}));
    let r = s.request("GET", "/v1/codex/limits", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["limits"], Value::Null);
    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 200);
    assert_eq!(
        s.request("GET", "/v1/codex/limits", None).await.json()["limits"]["primary"]
            ["used_percent"],
        12.5
    );
    assert_eq!(s.mock.usage_asks(), 1, "asked again within the minute");
}

#[tokio::test]
async fn a_streamed_answer_is_logged_when_it_ends_with_its_tokens() {
    let s = Server::start_with(Options {
        args: vec!["--log-format".into(), "json".into()],
        ..Options::default()
    })
    .await;
    let r = s
        .post("/v1/chat/completions", common::chat_stream("stream me"))
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .post(
            "/api/chat",
            json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let logs = s.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .map(|v| v["fields"].clone())
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    for line in &lines {
        assert_eq!(line["stream"], true, "{line}");
        assert_eq!(line["complete"], true, "{line}");
        assert!(
            line["completion_tokens"].as_u64().is_some_and(|n| n > 0),
            "{line}"
        );
        assert!(
            line["prompt_tokens"].as_u64().is_some_and(|n| n > 0),
            "{line}"
        );
        assert!(line["total_ms"].as_f64() >= line["upstream_ttfb_ms"].as_f64());
    }
    assert_eq!(lines[1]["route"], "/api/chat");
}

#[tokio::test]
async fn the_log_file_rotates_by_size() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("codex-serve.log");
    let s = Server::start_with(Options {
        args: vec![
            "--log-file".into(),
            path.display().to_string(),
            "--log-file-max-bytes".into(),
            "4096".into(),
            "--log-file-keep".into(),
            "2".into(),
        ],
        ..Options::default()
    })
    .await;
    for i in 0..10 {
        assert_eq!(
            s.post("/v1/chat/completions", chat(&format!("n{i}")))
                .await
                .status,
            200
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let rotated = dir.path().join("codex-serve.log.1");
    assert!(size(&path).is_some_and(|n| n <= 4096), "{:?}", size(&path));
    assert!(size(&rotated).is_some_and(|n| n > 0 && n <= 4096));
    assert!(dir.path().join("codex-serve.log.2").exists());
    assert!(!dir.path().join("codex-serve.log.3").exists());
    // Nothing went to stderr, and the lines are all there across the files.
    assert!(!s.logs().contains(" request "), "{}", s.logs());
    let all: String = [path.clone(), rotated]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(all.contains("route=/v1/chat/completions"), "{all}");
}
