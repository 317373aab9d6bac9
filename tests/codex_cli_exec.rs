//! The official codex CLI (the pinned `codex exec`, default features) as a client of codex-serve: a
//! custom provider with `wire_api = "responses"` whose `base_url` is codex-serve's TCP listener, with the
//! key. codex-serve, the mock and the CLI run in a network namespace with only loopback.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::codex_cli::{netns, oracle_bin, write_auth, CliHome};

const ACCOUNT: &str = "acct-clients";
const KEY: &str = "test-key-for-the-codex-cli";
const TURN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_through_codex_serve_gets_a_turn_a_tool_round_trip_and_a_websocket_turn() {
    let test = "codex_exec_through_codex_serve_gets_a_turn_a_tool_round_trip_and_a_websocket_turn";
    let (Some(bin), Some(ns)) = (oracle_bin(test), netns(test)) else {
        return;
    };
    let mock = ns.start_mock().await;
    let tokens = mock.issue_tokens(ACCOUNT, 3600);

    // codex-serve with the login, on a loopback port inside the namespace.
    let port = ns.run(|| {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let serve_home = dir.path().join("serve-codex");
    std::fs::create_dir_all(&serve_home).expect("CODEX_HOME");
    write_auth(&serve_home, &tokens, ACCOUNT);
    let ca = dir.path().join("mock-ca.pem");
    std::fs::write(&ca, mock.ca_pem().expect("CA")).expect("CA file");
    let base = mock.https_url().expect("https");
    let stderr = dir.path().join("serve.log");
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-serve"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("CODEX_CA_CERTIFICATE", &ca)
        .env("CODEX_SERVE_API_KEY", KEY)
        .arg("--no-socket")
        .arg("--tcp")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--codex-home")
        .arg(&serve_home)
        .arg("--upstream-url")
        .arg(format!("{base}/backend-api/codex"))
        .arg("--auth-url")
        .arg(&base)
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("log file"));
    let mut serve = ns.spawn(c);
    let logs = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let up = loop {
        let ok = ns.run(move || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        if ok || Instant::now() > deadline {
            break ok;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(up, "codex-serve did not start:\n{}", logs());

    // The CLI's home: its own auth.json is not used by this provider, only the key.
    let home = CliHome::new(&mock, &tokens, ACCOUNT);
    let config_path = home.codex_home.join("config.toml");
    let config = std::fs::read_to_string(&config_path).expect("config.toml");
    let config = format!(
        "model_provider = \"codex-serve\"\n{config}\n\
         [model_providers.codex-serve]\nname = \"codex-serve\"\n\
         base_url = \"http://127.0.0.1:{port}/v1\"\nenv_key = \"CODEX_SERVE_KEY\"\n\
         wire_api = \"responses\"\n"
    );
    std::fs::write(&config_path, config).expect("config.toml");
    let exec = |args: Vec<String>| {
        let mut c = home.command(&bin);
        c.env("CODEX_SERVE_KEY", KEY)
            .arg("exec")
            .arg("--skip-git-repo-check")
            .args(args);
        c
    };
    let run = |c: Command| {
        let child = ns.spawn(c);
        async move {
            tokio::time::timeout(
                TURN,
                tokio::task::spawn_blocking(move || child.wait_with_output()),
            )
            .await
            .expect("codex exec finished in time")
            .expect("wait task")
            .expect("codex exec output")
        }
    };

    let out = run(exec(vec!["-m".into(), "gpt-5.5".into(), "say hi".into()])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("echo: say hi"),
        "a turn through codex-serve\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );

    let call = r#"mock:call exec_command {"cmd":"echo through-codex-serve"}"#;
    let out = run(exec(vec!["-m".into(), "gpt-5.5".into(), call.into()])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = stdout.trim_end();
    assert!(
        out.status.success()
            && text.starts_with("tool said:")
            && text.ends_with("through-codex-serve"),
        "a tool round trip through codex-serve\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    // What reached the backend came from codex-serve, with the CLI's tools as it sent them.
    let posts: Vec<_> = mock
        .log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .collect();
    let last = posts.last().expect("a Responses request");
    let tools = last.body["tools"].as_array().expect("classic tools");
    let of = |kind: &str| tools.iter().find(|t| t["type"] == kind).cloned();
    let patch = of("custom").expect("the CLI's custom apply_patch tool");
    assert_eq!(patch["format"]["type"], "grammar", "{patch}");
    assert!(of("tool_search").is_some(), "{tools:?}");
    let search = of("web_search").expect("web_search");
    assert_eq!(search["external_web_access"], false, "{search}");
    assert!(search["search_content_types"].is_array(), "{search}");
    assert!(
        last.body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["type"] == "function_call_output"),
        "the tool's output went back"
    );

    // Over WebSocket: the same provider with `supports_websockets = true`.
    let config = std::fs::read_to_string(&config_path).expect("config.toml");
    std::fs::write(
        &config_path,
        format!("{config}supports_websockets = true\n"),
    )
    .expect("config.toml");
    let before = mock.log().len();
    let out = run(exec(vec!["-m".into(), "gpt-5.5".into(), "say ws".into()])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("echo: say ws"),
        "a turn over WebSocket\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    assert!(
        logs().contains("method=GET route=/v1/responses model=\"-\" status=101"),
        "the CLI did not use codex-serve's WebSocket:\n{}",
        logs()
    );
    // The prewarm (`generate: false`) was answered by codex-serve: one generation upstream, not two.
    let upstream = mock
        .log()
        .into_iter()
        .skip(before)
        .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .count();
    assert_eq!(upstream, 1, "{}", logs());
    let _ = serve.kill();
    let _ = serve.wait();
}
