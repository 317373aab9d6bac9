//! The official codex CLI (pinned in `tests/oracle/package.json`) as the oracle.
//!
//! - `parity_with_the_pinned_codex_cli`: each scenario runs once with `codex exec` and once through
//!   codex-serve (an OpenAI client request on its socket), each against its own mock in one network
//!   namespace with only loopback. What each sent to the mock is turned into checks (`parity/forms.rs`)
//!   and compared; a difference fails unless `reference/PARITY.md` lists it with its reason. The CLI's
//!   checks are also compared with the committed snapshot `reference/parity/cli-VERSION.json`, so a
//!   newly pinned CLI shows what it now sends differently (`PARITY_WRITE_SNAPSHOT=1` writes it).
//! - `cli_accepts_the_mocks_streams`: the CLI, pointed at the mock, prints the mock's text and runs the
//!   tool the mock calls, so the mock's streams are ones the official client accepts.

use crate::common;
mod compare;
mod forms;
mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codex_mock::{IssuedTokens, LoggedRequest, MockCodex};
use common::codex_cli::{netns, oracle_bin, pinned_version, write_auth, CliHome, NetNs};
use serde_json::{json, Value};

use compare::{differences, judge, parse_allowances};
use forms::Checks;

const ACCOUNT: &str = "acct-parity";
const TURN: Duration = Duration::from_secs(60);
const SYSTEM: &str = "You are a terse assistant.";
const TOOL_CALL: &str = r#"mock:call exec_command {"cmd":"echo parity-tool"}"#;

/// A 4×4 red PNG.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==";

/// One scenario, run the same way through both clients.
struct Scenario {
    name: &'static str,
    model: &'static str,
    prompt: &'static str,
    image: bool,
    /// The prompt makes the mock call `exec_command`, and the client answers it.
    tool: bool,
    /// Seconds until the access token expires (negative: expired).
    token_exp: i64,
    /// The backend stops taking the access token: Responses answer 401 until a refresh.
    reject: bool,
    routing: Option<&'static str>,
    /// The mock accepts the WebSocket upgrade (otherwise it answers 426, and both clients use HTTP).
    websocket: bool,
}

const BASE: Scenario = Scenario {
    name: "",
    model: "gpt-6.2-sol",
    prompt: "say hi",
    image: false,
    tool: false,
    token_exp: 3600,
    reject: false,
    routing: None,
    websocket: false,
};

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "lite",
            ..BASE
        },
        Scenario {
            name: "classic",
            model: "gpt-5.5",
            ..BASE
        },
        Scenario {
            name: "image",
            model: "gpt-5.5",
            prompt: "describe",
            image: true,
            ..BASE
        },
        Scenario {
            name: "tool",
            model: "gpt-5.5",
            prompt: TOOL_CALL,
            tool: true,
            ..BASE
        },
        Scenario {
            name: "expired",
            token_exp: -600,
            ..BASE
        },
        Scenario {
            name: "unauthorized",
            reject: true,
            ..BASE
        },
        Scenario {
            name: "websocket",
            websocket: true,
            ..BASE
        },
        Scenario {
            name: "routed",
            routing: Some("us_cr"),
            ..BASE
        },
    ]
}

/// A mock for one client in one scenario, with the CLI's own catalog and the scenario's account.
async fn scenario_mock(ns: &NetNs, catalog: &Value, sc: &Scenario) -> (MockCodex, IssuedTokens) {
    let mock = ns.start_mock().await;
    mock.set_models(catalog.clone());
    mock.set_routing(sc.routing);
    let tokens = mock.issue_tokens(ACCOUNT, sc.token_exp);
    if sc.reject {
        mock.reject_responses_until_refresh();
    }
    if sc.websocket {
        mock.set_websocket_status(None);
    }
    (mock, tokens)
}

/// What reached `mock`: its log, then each frame sent on an upstream WebSocket as a request of method
/// `WS` (no headers: those are the upgrade's, in the log).
fn sent(mock: &MockCodex) -> Vec<LoggedRequest> {
    let mut log = mock.log();
    let next = log.len() as u64 + 1;
    log.extend(
        mock.ws_frames()
            .into_iter()
            .zip(next..)
            .map(|(f, seq)| LoggedRequest {
                seq,
                scheme: format!("ws{}", f.connection),
                method: "WS".into(),
                path: "/responses".into(),
                query: String::new(),
                headers: Vec::new(),
                content_encoding: None,
                body: f.body,
                status: 0,
            }),
    );
    log
}

async fn run_cli(ns: &NetNs, bin: &Path, catalog: &Value, sc: &Scenario) -> Vec<LoggedRequest> {
    let (mock, tokens) = scenario_mock(ns, catalog, sc).await;
    let home = CliHome::new(&mock, &tokens, ACCOUNT);
    let image = home.dir.path().join("red.png");
    let mut args = vec!["-m".to_owned(), sc.model.to_owned()];
    if sc.image {
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(PNG_B64)
            .expect("png");
        std::fs::write(&image, png).expect("write png");
        args.push(format!("--image={}", image.display()));
    }
    args.push(sc.prompt.to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = home.exec(ns, bin, &args, TURN).await;
    run.assert_ok(sc.name);
    sent(&mock)
}

/// codex-serve in the namespace, on a socket, against its own mock over https.
struct Serve {
    child: std::process::Child,
    socket: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    async fn start(ns: &NetNs, mock: &MockCodex, tokens: &IssuedTokens) -> Serve {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("codex");
        std::fs::create_dir_all(&home).expect("CODEX_HOME");
        write_auth(&home, tokens, ACCOUNT);
        let ca = dir.path().join("mock-ca.pem");
        std::fs::write(&ca, mock.ca_pem().expect("CA")).expect("CA file");
        let socket = dir.path().join("codex-serve.sock");
        let stderr = dir.path().join("stderr.log");
        let base = mock.https_url().expect("https");
        let mut c = Command::new(env!("CARGO_BIN_EXE_codex-serve"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("CODEX_CA_CERTIFICATE", &ca)
            .arg("--socket")
            .arg(&socket)
            .arg("--codex-home")
            .arg(&home)
            .arg("--upstream-url")
            .arg(format!("{base}/backend-api/codex"))
            .arg("--auth-url")
            .arg(&base)
            .arg("-vv")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        let child = ns.spawn(c);
        let serve = Serve {
            child,
            socket,
            stderr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if tokio::net::UnixStream::connect(&serve.socket).await.is_ok() {
                return serve;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("codex-serve did not start:\n{}", serve.logs());
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    async fn chat(&self, body: &Value) -> common::Reply {
        common::unix_raw(
            &self.socket,
            "POST",
            "/v1/chat/completions",
            &[],
            body.to_string().into_bytes(),
        )
        .await
    }
}

fn exec_command_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "exec_command",
        "description": "Runs a shell command and returns its output.",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                       "required": ["cmd"], "additionalProperties": false}}})
}

/// The same scenario through codex-serve: one chat completion (two for the tool round trip). Returns
/// what reached the mock, and a note when codex-serve's answers were not the expected ones.
async fn run_serve(
    ns: &NetNs,
    catalog: &Value,
    sc: &Scenario,
) -> (Vec<LoggedRequest>, Vec<String>) {
    let (mock, tokens) = scenario_mock(ns, catalog, sc).await;
    let serve = Serve::start(ns, &mock, &tokens).await;
    let mut notes = Vec::new();
    let content = if sc.image {
        json!([{"type": "text", "text": sc.prompt},
               {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}}])
    } else {
        json!(sc.prompt)
    };
    let mut messages = vec![
        json!({"role": "system", "content": SYSTEM}),
        json!({"role": "user", "content": content}),
    ];
    // The CLI always offers its tools; the client here always offers one.
    let body = json!({"model": sc.model, "messages": messages, "tools": [exec_command_tool()]});
    let reply = serve.chat(&body).await;
    if reply.status != 200 {
        notes.push(format!(
            "codex-serve answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
    } else if sc.tool {
        let answer = reply.json();
        let message = answer["choices"][0]["message"].clone();
        let call_id = message["tool_calls"][0]["id"].as_str().unwrap_or("call_1");
        messages.push(message.clone());
        messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": "parity-tool\n"}));
        let body = json!({"model": sc.model, "messages": messages, "tools": [exec_command_tool()]});
        let second = serve.chat(&body).await;
        if second.status != 200 {
            notes.push(format!(
                "codex-serve answered the tool result with {}: {}",
                second.status,
                String::from_utf8_lossy(&second.body)
            ));
        }
    }
    if !notes.is_empty() {
        let logs = serve.logs();
        let tail: Vec<&str> = logs.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        notes.push(format!("codex-serve's log ends:\n{}", tail.join("\n")));
    }
    (sent(&mock), notes)
}

/// The pinned CLI's own model catalog (`codex debug models --bundled`), served by both mocks so that
/// both clients see the same catalog.
fn bundled_catalog(ns: &NetNs, bin: &Path) -> Value {
    let home = tempfile::tempdir().expect("temp home");
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .args(["debug", "models", "--bundled"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = ns.spawn(c).wait_with_output().expect("codex debug models");
    assert!(
        output.status.success(),
        "codex debug models --bundled failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the bundled catalog is JSON")
}

/// `responses prompt`: whether the first developer message is the model's agent prompt from the
/// catalog (`base_instructions`), as the CLI sends, or other text.
fn prompt_check(catalog: &Value, log: &[LoggedRequest], checks: &mut Checks) {
    for r in log.iter().filter(|r| forms::kind(r) == Some("responses")) {
        let base = catalog["models"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["slug"] == r.body["model"])
            .and_then(|m| m["base_instructions"].as_str());
        let first_text = r.body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["type"] == "message" && i["role"] == "developer")
            .and_then(|i| i["content"][0]["text"].as_str());
        let form = match (first_text, base) {
            (Some(text), Some(base)) if text == base => "the model's base_instructions",
            (Some(_), _) => "other text",
            (None, _) => "no developer message",
        };
        checks
            .entry("responses prompt".to_owned())
            .or_default()
            .insert(form.to_owned());
    }
}

/// `codex --version` prints `codex-cli X.Y.Z`.
fn cli_version(bin: &Path) -> String {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .expect("codex --version");
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().last().unwrap_or_default();
    assert!(!version.is_empty(), "codex --version printed {text:?}");
    version.to_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parity_with_the_pinned_codex_cli() {
    let test = "parity_with_the_pinned_codex_cli";
    let (Some(bin), Some(ns)) = (oracle_bin(test), netns(test)) else {
        return;
    };
    let version = cli_version(&bin);
    let pinned = pinned_version();
    if version != pinned {
        eprintln!(
            "note: {} is codex CLI {version}, not the pinned {pinned}",
            bin.display()
        );
    }
    let catalog = bundled_catalog(&ns, &bin);
    let allowances_text =
        std::fs::read_to_string(repo().join("reference/PARITY.md")).expect("reference/PARITY.md");
    let allowances = parse_allowances(&allowances_text).unwrap_or_else(|e| panic!("{e}"));

    let mut all_diffs = Vec::new();
    let mut notes = Vec::new();
    let mut cli_snapshot = snapshot::Snapshot::new();
    let mut check_count = 0;
    for sc in scenarios() {
        let cli_log = run_cli(&ns, &bin, &catalog, &sc).await;
        let (serve_log, serve_notes) = run_serve(&ns, &catalog, &sc).await;
        let mut cli = forms::checks(&cli_log);
        let mut serve = forms::checks(&serve_log);
        prompt_check(&catalog, &cli_log, &mut cli);
        prompt_check(&catalog, &serve_log, &mut serve);
        check_count += cli.len();
        all_diffs.extend(differences(sc.name, &cli, &serve));
        notes.extend(
            serve_notes
                .into_iter()
                .map(|n| format!("[{}] {n}", sc.name)),
        );
        cli_snapshot.insert(sc.name.to_owned(), cli.clone());
    }

    let mut report = String::new();
    let (unexplained, stale) = judge(&all_diffs, &allowances);
    let allowed = all_diffs.len() - unexplained.len();
    report.push_str(&format!(
        "parity with codex CLI {version}: {} scenarios, {check_count} checks on the CLI's side, \
         {} differences ({allowed} listed in reference/PARITY.md, {} not)\n",
        cli_snapshot.len(),
        all_diffs.len(),
        unexplained.len()
    ));
    if allowed > 0 {
        report.push_str("\nDifferences kept on purpose (reference/PARITY.md):\n");
        for a in allowances
            .iter()
            .filter(|a| !stale.iter().any(|s| std::ptr::eq(*s, *a)))
        {
            report.push_str(&format!("  {} {}: {}\n", a.scenario, a.check, a.reason));
        }
    }
    for note in &notes {
        report.push_str(&format!("\nnote: {note}\n"));
    }
    if !unexplained.is_empty() {
        report.push_str("\nDifferences not listed in reference/PARITY.md:\n");
        for d in &unexplained {
            report.push_str(&format!("  {}\n", d.describe()));
        }
    }
    for a in &stale {
        report.push_str(&format!(
            "\nreference/PARITY.md line {}: `{} {}` matches no difference any more; remove it\n",
            a.line, a.scenario, a.check
        ));
    }

    // The CLI against its own snapshot.
    let snapshot_problem = match snapshot::check(&version, &cli_snapshot) {
        Ok(Some(written)) => {
            report.push_str(&format!("\nwrote {}\n", written.display()));
            None
        }
        Ok(None) => None,
        Err(problem) => Some(problem),
    };
    if let Some(problem) = &snapshot_problem {
        report.push_str(&format!("\n{problem}\n"));
    }
    let passed = unexplained.is_empty()
        && stale.is_empty()
        && snapshot_problem.is_none()
        && notes.is_empty();
    assert!(passed, "{report}");
    eprintln!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_accepts_the_mocks_streams() {
    let test = "cli_accepts_the_mocks_streams";
    let (Some(bin), Some(ns)) = (oracle_bin(test), netns(test)) else {
        return;
    };
    let mock = ns.start_mock().await;
    let tokens = mock.issue_tokens(ACCOUNT, 3600);
    let home = CliHome::new(&mock, &tokens, ACCOUNT);

    let run = home
        .exec(&ns, &bin, &["-m", "gpt-6.2-sol", "say hi"], TURN)
        .await;
    run.assert_ok("one text turn");
    assert!(
        run.stdout.contains("echo: say hi"),
        "stdout:\n{}",
        run.stdout
    );

    // A tool round trip: the mock calls the CLI's shell tool, the CLI runs it and sends its output
    // back, and the mock answers that output as text, which ends the turn.
    let call = r#"mock:call exec_command {"cmd":"echo oracle-ran-this"}"#;
    let run = home.exec(&ns, &bin, &["-m", "gpt-5.5", call], TURN).await;
    run.assert_ok("a tool round trip");
    let text = run.stdout.trim_end();
    assert!(
        text.starts_with("tool said:") && text.ends_with("oracle-ran-this"),
        "the last message should be the mock's answer to the tool's output; stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let posts: Vec<_> = mock
        .log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .collect();
    let last = posts.last().expect("a Responses request");
    let output = last.body["input"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["type"] == "function_call_output"))
        .expect("the tool's output went back to the mock");
    assert_eq!(output["call_id"], "call_1");
    assert!(
        output["output"]
            .as_str()
            .is_some_and(|o| o.contains("oracle-ran-this")),
        "{output}"
    );
}
