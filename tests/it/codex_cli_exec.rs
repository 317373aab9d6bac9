//! The official codex CLI (the pinned `codex exec`, default features) as a client of codex-serve: a
//! custom provider with `wire_api = "responses"` whose `base_url` is codex-serve's TCP listener, with the
//! key. codex-serve, the mock and the CLI run in a network namespace with only loopback.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use codex_mock::MockCodex;
use common::codex_cli::{netns, oracle_bin, write_auth, CliHome, NetNs};

const ACCOUNT: &str = "acct-clients";
const KEY: &str = "test-key-for-the-codex-cli";
const TURN: Duration = Duration::from_secs(60);

/// How the CLI reaches codex-serve.
#[derive(Clone, Copy)]
enum Provider {
    /// A custom provider, `wire_api = "responses"`, with codex-serve's key from the environment.
    Custom,
    /// The built-in `openai` provider with `openai_base_url` at codex-serve, in API-key mode.
    BuiltIn,
}

/// The mock, codex-serve on a loopback TCP port in front of it, and a CLI home whose provider is
/// codex-serve, all in one network namespace.
struct Rig {
    // Dropped last, after the processes and the temp dirs that use it.
    bin: PathBuf,
    mock: MockCodex,
    serve: Child,
    stderr: PathBuf,
    home: CliHome,
    config_path: PathBuf,
    _dir: tempfile::TempDir,
    ns: NetNs,
}

impl Rig {
    /// `top` is added to the top level of the CLI's config.toml.
    async fn start(test: &str, provider: Provider, top: &str) -> Option<Rig> {
        let (Some(bin), Some(ns)) = (oracle_bin(test), netns(test)) else {
            return None;
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
        let serve = ns.spawn(c);
        let deadline = Instant::now() + Duration::from_secs(10);
        let up = loop {
            let ok = ns.run(move || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
            if ok || Instant::now() > deadline {
                break ok;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            up,
            "codex-serve did not start:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );

        let home = CliHome::new(&mock, &tokens, ACCOUNT);
        let config_path = home.codex_home.join("config.toml");
        let config = std::fs::read_to_string(&config_path).expect("config.toml");
        let serve_url = format!("http://127.0.0.1:{port}/v1");
        let config = match provider {
            // Its own auth.json is not used by this provider, only the key.
            Provider::Custom => format!(
                "model_provider = \"codex-serve\"\n{top}{config}\n\
                 [model_providers.codex-serve]\nname = \"codex-serve\"\n\
                 base_url = \"{serve_url}\"\nenv_key = \"CODEX_SERVE_KEY\"\n\
                 wire_api = \"responses\"\n"
            ),
            // The built-in provider moved to codex-serve, logged in with codex-serve's key (the
            // auth.json `codex login --with-api-key` writes).
            Provider::BuiltIn => {
                let doc = serde_json::json!({"auth_mode": "apikey", "OPENAI_API_KEY": KEY});
                let auth = home.codex_home.join("auth.json");
                std::fs::write(&auth, doc.to_string()).expect("auth.json");
                let moved = config.replacen(
                    &format!("openai_base_url = \"{}/backend-api/codex\"", home.base),
                    &format!("openai_base_url = \"{serve_url}\""),
                    1,
                );
                format!("{top}{moved}")
            }
        };
        std::fs::write(&config_path, config).expect("config.toml");
        Some(Rig {
            bin,
            mock,
            serve,
            stderr,
            home,
            config_path,
            _dir: dir,
            ns,
        })
    }

    /// codex-serve's log.
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Appends `line` to the CLI's config.toml (inside the provider's table, the last one).
    fn configure(&self, line: &str) {
        let config = std::fs::read_to_string(&self.config_path).expect("config.toml");
        std::fs::write(&self.config_path, format!("{config}{line}\n")).expect("config.toml");
    }

    /// `codex exec --skip-git-repo-check ARGS…`, bounded by [`TURN`].
    async fn exec(&self, args: &[&str]) -> Output {
        let mut c = self.home.command(&self.bin);
        c.env("CODEX_SERVE_KEY", KEY)
            .arg("exec")
            .arg("--skip-git-repo-check")
            .args(args);
        let child = self.ns.spawn(c);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let mut wait = tokio::task::spawn_blocking(move || child.wait_with_output());
        match tokio::time::timeout(TURN, &mut wait).await {
            Ok(joined) => joined.expect("wait task").expect("codex exec output"),
            Err(_) => {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                // What it printed until then says where it hung.
                let out = wait.await.expect("wait task").expect("codex exec output");
                panic!(
                    "codex exec {args:?} did not finish within {TURN:?}\n{}",
                    shown(self, &out)
                );
            }
        }
    }

    /// The Responses requests that reached the mock since the `skip` first of its log.
    fn posts(&self, skip: usize) -> Vec<codex_mock::LoggedRequest> {
        let log = self.mock.log().into_iter().skip(skip);
        log.filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.serve.kill();
        let _ = self.serve.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_through_codex_serve_gets_a_turn_a_tool_round_trip_and_a_websocket_turn() {
    let test = "codex_exec_through_codex_serve_gets_a_turn_a_tool_round_trip_and_a_websocket_turn";
    let Some(rig) = Rig::start(test, Provider::Custom, "").await else {
        return;
    };

    let out = rig.exec(&["-m", "gpt-5.5", "say hi"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("echo: say hi"),
        "a turn through codex-serve\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        rig.logs()
    );

    let call = r#"mock:call exec_command {"cmd":"echo through-codex-serve"}"#;
    let out = rig.exec(&["-m", "gpt-5.5", call]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = stdout.trim_end();
    assert!(
        out.status.success()
            && text.starts_with("tool said:")
            && text.ends_with("through-codex-serve"),
        "a tool round trip through codex-serve\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        rig.logs()
    );
    // What reached the backend came from codex-serve, with the CLI's tools as it sent them.
    let posts = rig.posts(0);
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
    rig.configure("supports_websockets = true");
    let before = rig.mock.log().len();
    let out = rig.exec(&["-m", "gpt-5.5", "say ws"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("echo: say ws"),
        "a turn over WebSocket\n--- stdout\n{stdout}\n--- stderr\n{}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stderr),
        rig.logs()
    );
    assert!(
        rig.logs()
            .contains("method=GET route=/v1/responses model=\"-\" status=101"),
        "the CLI did not use codex-serve's WebSocket:\n{}",
        rig.logs()
    );
    // The prewarm (`generate: false`) was answered by codex-serve: one generation upstream, not two.
    let upstream = rig.posts(before).len();
    assert_eq!(upstream, 1, "{}", rig.logs());
}

/// The CLI on codex-serve's WebSocket, and codex-serve on the backend's: the conversation's upstream
/// socket is opened when the CLI opens its own (for the model the CLI's upgrade names), the CLI's
/// prewarm goes on it as `generate: false`, and the turn follows on the same socket, continuing the
/// prewarm: one upstream connection for the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_over_websockets_end_to_end_uses_one_upstream_socket_opened_ahead() {
    let test = "codex_exec_over_websockets_end_to_end_uses_one_upstream_socket_opened_ahead";
    let Some(rig) = Rig::start(test, Provider::Custom, "").await else {
        return;
    };
    rig.mock.set_websocket_status(None);
    rig.configure("supports_websockets = true");
    let out = rig.exec(&["-m", "gpt-5.5", "say ws"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("echo: say ws"),
        "a turn over both WebSockets\n{}",
        shown(&rig, &out)
    );
    assert_eq!(rig.mock.ws_connections(), 1, "{}", rig.logs());
    assert!(rig.posts(0).is_empty(), "nothing went over HTTP");
    let frames = rig.mock.ws_frames();
    let kinds: Vec<_> = frames
        .iter()
        .map(|f| (f.connection, f.body["generate"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [(1, serde_json::json!(false)), (1, serde_json::Value::Null)],
        "the CLI's prewarm, then its turn, on the socket opened ahead"
    );
    assert!(frames[1].body["previous_response_id"].is_string());
    let upgrade = rig
        .mock
        .log()
        .into_iter()
        .find(|r| r.header("upgrade").is_some())
        .expect("an upstream upgrade");
    assert_eq!(
        upgrade.header("x-codex-routing-hint"),
        Some("model=gpt-5.5")
    );
    // Opened when the CLI's socket opened, not by its prewarm (which would also make one socket).
    let logs = rig.logs();
    assert!(
        logs.lines().any(
            |l| l.contains("upstream socket opened ahead of the first turn")
                && l.contains("opened=true")
        ),
        "{logs}"
    );
}

/// Input item types of each request, for failure messages.
fn inputs(posts: &[codex_mock::LoggedRequest]) -> Vec<Vec<String>> {
    let kind = |i: &serde_json::Value| i["type"].as_str().unwrap_or("message").to_owned();
    let of = |p: &codex_mock::LoggedRequest| {
        let items = p.body["input"].as_array().cloned().unwrap_or_default();
        items.iter().map(kind).collect()
    };
    posts.iter().map(of).collect()
}

/// Everything a failure needs to show.
fn shown(rig: &Rig, out: &Output) -> String {
    let compacts = rig
        .mock
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("/responses/compact"))
        .count();
    format!(
        "--- stdout\n{}\n--- stderr\n{}\n--- inputs\n{:?}\n--- unary compacts {compacts}\n--- codex-serve\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        inputs(&rig.posts(0)),
        rig.logs()
    )
}

const COMPACT: &str = "model_auto_compact_token_limit = 1000\n";

/// Auto-compaction with a custom provider: the CLI compacts locally, in the middle of a tool loop
/// (the mock reports far more tokens than `model_auto_compact_token_limit`). It asks the model for a
/// summary with an ordinary Responses request through codex-serve and goes on with the summary in
/// place of the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_with_a_custom_provider_compacts_through_codex_serve() {
    let test = "codex_exec_with_a_custom_provider_compacts_through_codex_serve";
    let Some(rig) = Rig::start(test, Provider::Custom, COMPACT).await else {
        return;
    };
    let call = r#"mock:call exec_command {"cmd":"echo before-compaction"}"#;
    let out = rig.exec(&["-m", "gpt-5.5", call]).await;
    let show = shown(&rig, &out);
    assert!(out.status.success(), "codex exec failed\n{show}");
    let posts = rig.posts(0);
    let text = |p: &codex_mock::LoggedRequest| p.body["input"].to_string();
    let ask = posts
        .iter()
        .position(|p| text(p).contains("CONTEXT CHECKPOINT COMPACTION"))
        .unwrap_or_else(|| panic!("no compaction request reached the mock\n{show}"));
    assert!(
        text(&posts[ask]).contains("function_call_output"),
        "the compaction came after the tool ran\n{show}"
    );
    // The summary the mock gave (its echo of the prompt) replaces the history in the next request.
    let next = posts
        .get(ask + 1)
        .unwrap_or_else(|| panic!("no request after the compaction\n{show}"));
    assert!(
        text(next).contains("echo: You are performing a CONTEXT CHECKPOINT COMPACTION")
            && !text(next).contains("function_call_output"),
        "the next request does not carry the summary in place of the history\n{show}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("echo: "), "no final text\n{show}");
}

/// Auto-compaction with the built-in provider moved to codex-serve: remote compaction. With
/// `model_auto_compact_token_limit` far below what the mock reports as used, the CLI compacts in the
/// middle of a tool loop: it sends a `compaction_trigger` input item (`remote_compaction_v2`) in a
/// Responses request, codex-serve passes it to the backend and streams back the `compaction` item, and
/// the CLI's next request replays that item in place of the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_with_the_built_in_provider_compacts_remotely_through_codex_serve() {
    let test = "codex_exec_with_the_built_in_provider_compacts_remotely_through_codex_serve";
    let Some(rig) = Rig::start(test, Provider::BuiltIn, COMPACT).await else {
        return;
    };
    let call = r#"mock:call exec_command {"cmd":"echo after-compaction"}"#;
    let out = rig.exec(&["-m", "gpt-5.5", call]).await;
    let show = shown(&rig, &out);
    assert!(out.status.success(), "codex exec failed\n{show}");
    let posts = rig.posts(0);
    // No unary `/responses/compact`: 0.171.0 asks inside a Responses request.
    let unary = rig
        .mock
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("/responses/compact"));
    assert_eq!(unary.count(), 0, "{show}");
    let items =
        |p: &codex_mock::LoggedRequest| p.body["input"].as_array().cloned().unwrap_or_default();
    let ask = posts
        .iter()
        .position(|p| {
            items(p)
                .last()
                .is_some_and(|i| i["type"] == "compaction_trigger")
        })
        .unwrap_or_else(|| panic!("no compaction_trigger reached the mock\n{show}"));
    assert_eq!(
        items(&posts[ask]).last(),
        Some(&serde_json::json!({"type": "compaction_trigger"})),
        "{show}"
    );
    assert_eq!(
        posts[ask].header("x-codex-beta-features"),
        Some("remote_compaction_v2"),
        "{show}"
    );
    assert!(
        items(&posts[ask])
            .iter()
            .any(|i| i["type"] == "function_call_output"),
        "the compaction came after the tool ran\n{show}"
    );
    // The mock's compaction item, as it streamed it through codex-serve, is replayed next.
    let made = format!(
        "codex-mock compaction of {} items for ",
        items(&posts[ask]).len()
    );
    let next = posts
        .get(ask + 1)
        .unwrap_or_else(|| panic!("no request after the compaction\n{show}"));
    let replayed: Vec<_> = items(next)
        .into_iter()
        .filter(|i| i["type"] == "compaction")
        .collect();
    assert_eq!(replayed.len(), 1, "{show}");
    let encrypted = replayed[0]["encrypted_content"]
        .as_str()
        .unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encrypted)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    assert!(decoded.starts_with(&made), "{decoded:?}\n{show}");
    assert!(
        !items(next)
            .iter()
            .any(|i| i["type"] == "function_call_output"),
        "the compaction did not replace the history\n{show}"
    );
    assert_eq!(
        posts.len(),
        ask + 2,
        "one compaction, then the final answer\n{show}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("after compaction: mock:call exec_command"),
        "no final text\n{show}"
    );
}
