//! The real codex CLI (the pinned `codex exec`) and codex-serve share one `CODEX_HOME` while the mock
//! rotates single-use refresh tokens, delays its token answer (0, 3 and 8 s) and hands out short-lived
//! access tokens. Both sides work at once; each case counts refreshes and `refresh_token_reused` answers
//! per side, failed requests per side, and checks at the end that the file holds a refresh token the mock
//! still honours. The goals: no lost login, no false 401 from codex-serve, no refresh token sent twice by
//! codex-serve.
//!
//! Run with `--nocapture` to see each case's figures.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codex_mock::{TokenOutcome, TokenRequest, TokenScenario};
use common::codex_cli::{oracle_bin, CliHome, NetNs};
use common::{chat, unix_raw, Spawned};

const ACCOUNT: &str = "acct-shared-login";
/// codex-serve's token requests are told apart from the CLI's by this originator.
const SERVE_ORIGINATOR: &str = "codex_serve_login_test";
const TURN: Duration = Duration::from_secs(90);

struct Case {
    name: &'static str,
    /// How long the token endpoint takes to answer.
    delay: Duration,
    /// Lifetime of each access token the mock hands out; inside the 5-minute margin, every use refreshes.
    lifetime: i64,
    /// `codex exec` runs one after the other for this long; codex-serve is busy for as long as they last.
    run_for: Duration,
}

#[derive(Debug, Default)]
struct Figures {
    cli_refreshes: usize,
    cli_reused: usize,
    serve_refreshes: usize,
    serve_reused: usize,
    /// Refresh tokens codex-serve sent more than once.
    serve_sent_twice: usize,
    cli_runs: usize,
    cli_failed: usize,
    serve_requests: usize,
    serve_failed: usize,
    serve_401: usize,
    /// The file's refresh token is one the mock still honours.
    file_live: bool,
    /// The file's refresh token is the newest the mock minted.
    file_current: bool,
    /// The file's refresh token only ever moved to newer ones: nobody wrote a spent token back.
    file_forward: bool,
    /// The codex CLI threw away the answer to its own refresh (see [`cli_abandoned_refresh`]): then the
    /// login is lost whoever shares it, and the case says so rather than blame codex-serve.
    cli_abandoned: Option<String>,
}

/// codex-serve on a socket inside `ns`, on `home`'s CODEX_HOME, configured as the CLI is: the mock's https
/// listener for the backend and the token endpoint, its CA trusted through `CODEX_CA_CERTIFICATE`.
fn start_serve(ns: &NetNs, home: &CliHome, socket: &Path) -> Spawned {
    let log = std::fs::File::create(home.dir.path().join("serve.log")).expect("serve log");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_codex-serve"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.dir.path())
        .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
        .env("CODEX_CA_CERTIFICATE", &home.ca_path)
        .arg("--socket")
        .arg(socket)
        .arg("--codex-home")
        .arg(&home.codex_home)
        .arg("--upstream-url")
        .arg(format!("{}/backend-api/codex", home.base))
        .arg("--auth-url")
        .arg(&home.base)
        .arg("--originator")
        .arg(SERVE_ORIGINATOR)
        .arg("-vv")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    Spawned(ns.spawn(c))
}

async fn wait_socket(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::UnixStream::connect(socket).await.is_err() {
        assert!(Instant::now() < deadline, "codex-serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_case(case: Case) -> Option<Figures> {
    let bin = oracle_bin(case.name)?;
    let ns = NetNs::new().expect("a network namespace for the CLI and codex-serve");
    let mock = ns.start_mock().await;
    mock.set_token_scenario(TokenScenario {
        delay: case.delay,
        access_lifetime_secs: case.lifetime,
    });
    // Expired from the start: both sides want a refresh at once.
    let tokens = mock.issue_tokens(ACCOUNT, -60);
    let home = CliHome::new(&mock, &tokens, ACCOUNT);
    let socket = home.dir.path().join("serve").join("codex-serve.sock");
    let _serve = start_serve(&ns, &home, &socket);
    wait_socket(&socket).await;

    let done = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<(u16, String)>::new()));
    // Two clients of codex-serve, each sending one request after another until the CLI is done.
    let mut loops = Vec::new();
    let clients = if std::env::var_os("SHARED_LOGIN_CLI_ONLY").is_some() {
        0
    } else {
        2
    };
    for client in 0..clients {
        let (done, requests, failures, socket) = (
            done.clone(),
            requests.clone(),
            failures.clone(),
            socket.clone(),
        );
        loops.push(tokio::spawn(async move {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let body = chat(&format!("client {client} request {n}")).to_string();
                let r = unix_raw(&socket, "POST", "/v1/chat/completions", &[], body.into()).await;
                requests.fetch_add(1, Ordering::SeqCst);
                if r.status != 200 {
                    failures.lock().expect("lock").push((r.status, r.text()));
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    // Who wrote what, and when: auth.json's refresh token sampled every 5 ms.
    let watched = {
        let path = home.codex_home.join("auth.json");
        let done = done.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut seen: Vec<(u128, String)> = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let token = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["tokens"]["refresh_token"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "<unreadable>".into());
                if seen.last().map(|(_, t)| t) != Some(&token) {
                    seen.push((t0.elapsed().as_millis(), token));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            seen
        })
    };
    let mut cli_failed = 0;
    let mut cli_runs = 0;
    let t0 = Instant::now();
    while t0.elapsed() < case.run_for {
        let run = cli_runs;
        cli_runs += 1;
        eprintln!(
            "[{}] codex exec run {run} starts at {} ms",
            case.name,
            t0.elapsed().as_millis()
        );
        let prompt = format!("shared login run {run}");
        let out = home
            .exec(&ns, &bin, &["-m", "gpt-6.2-sol", &prompt], TURN)
            .await;
        if !(out.success && out.stdout.contains(&format!("echo: {prompt}"))) {
            cli_failed += 1;
            eprintln!(
                "[{}] codex exec run {run} failed\n--- stdout\n{}\n--- stderr (tail)\n{}",
                case.name,
                out.stdout,
                tail(&out.stderr, 1500)
            );
        }
    }
    // Let codex-serve's clients overlap the last CLI run's refresh, then stop them.
    tokio::time::sleep(case.delay + Duration::from_millis(500)).await;
    done.store(true, Ordering::SeqCst);
    for l in loops {
        l.await.expect("client loop");
    }

    let log = mock.token_log();
    let mut figures = Figures {
        cli_runs,
        cli_failed,
        serve_requests: requests.load(Ordering::SeqCst),
        ..Figures::default()
    };
    let mut serve_sent: HashMap<String, usize> = HashMap::new();
    for entry in &log {
        let ours = entry.header("originator") == Some(SERVE_ORIGINATOR);
        let (refreshes, reused) = if ours {
            (&mut figures.serve_refreshes, &mut figures.serve_reused)
        } else {
            (&mut figures.cli_refreshes, &mut figures.cli_reused)
        };
        match entry.outcome {
            TokenOutcome::Refreshed => *refreshes += 1,
            TokenOutcome::Reused => *reused += 1,
            _ => {}
        }
        if ours {
            *serve_sent
                .entry(entry.refresh_token().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
    figures.serve_sent_twice = serve_sent.values().filter(|n| **n > 1).count();
    let failures = failures.lock().expect("lock").clone();
    figures.serve_failed = failures.len();
    figures.serve_401 = failures.iter().filter(|(s, _)| *s == 401).count();
    for (status, text) in failures.iter().take(3) {
        eprintln!("[{}] codex-serve answered {status}: {text}", case.name);
    }
    let file = home.auth_json();
    let in_file = file["tokens"]["refresh_token"].as_str().unwrap_or_default();
    figures.file_live = mock.refresh_token_is_live(in_file);
    figures.file_current = mock.current_refresh_token(ACCOUNT).as_deref() == Some(in_file);
    let watched = watched.join().expect("watcher");
    figures.file_forward = moves_forward(&watched);
    figures.cli_abandoned = cli_abandoned_refresh(&log, &watched);
    eprintln!("[{}] {figures:?}", case.name);
    if !figures.file_live || figures.serve_failed > 0 || !figures.file_forward {
        let start = log.first().map(|e| e.at);
        for e in &log {
            let side = if e.header("originator") == Some(SERVE_ORIGINATOR) {
                "serve"
            } else {
                "cli  "
            };
            let t = start
                .map(|s| e.at.duration_since(s).as_millis())
                .unwrap_or(0);
            eprintln!(
                "[{}] {t:>6} ms {side} {:?} {:?} -> {:?}",
                case.name,
                e.refresh_token(),
                e.outcome,
                e.issued
            );
        }
        for (t, token) in &watched {
            eprintln!("[{}] {t:>6} ms file: {token}", case.name);
        }
        eprintln!("[{}] file holds {in_file}", case.name);
        let serve_log = std::fs::read_to_string(home.dir.path().join("serve.log"))
            .unwrap_or_else(|e| format!("<{e}>"));
        eprintln!("[{}] codex-serve log: {} bytes", case.name, serve_log.len());
        eprintln!(
            "[{}] codex-serve log (tail)\n{}",
            case.name,
            tail(&serve_log, 4000)
        );
    }
    Some(figures)
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// The generation of a mock refresh token (`rt_mock_<n>_<nonce>`).
fn generation(token: &str) -> Option<u64> {
    token
        .strip_prefix("rt_mock_")?
        .split('_')
        .next()?
        .parse()
        .ok()
}

/// Whether the refresh tokens the file held, in the order seen, only ever got newer.
fn moves_forward(watched: &[(u128, String)]) -> bool {
    let gens: Vec<u64> = watched.iter().filter_map(|(_, t)| generation(t)).collect();
    gens.windows(2).all(|w| w[0] < w[1])
}

/// The codex CLI 0.171 gives a step of its start-up (`world_state.build`) 5 s. A refresh begun there that
/// takes longer is dropped with its answer, and the turn sends the same, now spent, token again. The CLI's
/// own log (`RUST_LOG=codex_login=info`) shows `Refreshing token` under `world_state.build`, a second
/// `Refreshing token` 5 s later, then `refresh token was already used`. In the mock's log it is a CLI
/// refresh that succeeded, its token sent again by the CLI, and the new token never in the file.
/// codex-serve writes the file only with answers to its own token requests, so the loss is the CLI's alone
/// when codex-serve sent none after the CLI's refresh. Returns what happened, for the report.
fn cli_abandoned_refresh(log: &[TokenRequest], watched: &[(u128, String)]) -> Option<String> {
    let ours = |e: &TokenRequest| e.header("originator") == Some(SERVE_ORIGINATOR);
    log.iter().enumerate().find_map(|(i, won)| {
        let (TokenOutcome::Refreshed, Some(issued), Some(sent)) =
            (&won.outcome, won.issued.as_deref(), won.refresh_token())
        else {
            return None;
        };
        if ours(won) || watched.iter().any(|(_, t)| t == issued) {
            return None;
        }
        let later = &log[i + 1..];
        let resent = later
            .iter()
            .any(|e| !ours(e) && e.refresh_token() == Some(sent));
        let serve_after = later.iter().any(ours);
        (resent && !serve_after)
            .then(|| format!("it refreshed {sent}, never saved {issued}, and sent {sent} again"))
    })
}

fn assert_goals(name: &str, f: &Figures) {
    assert!(
        f.file_forward,
        "{name}: auth.json went back to an older refresh token: {f:?}"
    );
    match &f.cli_abandoned {
        // Everything codex-serve controls is still checked below.
        Some(what) => eprintln!("{name}: the codex CLI lost the login by itself: {what}"),
        None => assert!(f.file_live, "{name}: the login was lost: {f:?}"),
    }
    assert_eq!(f.serve_401, 0, "{name}: codex-serve answered 401: {f:?}");
    assert_eq!(
        f.serve_failed, 0,
        "{name}: codex-serve failed requests: {f:?}"
    );
    assert_eq!(
        f.serve_sent_twice, 0,
        "{name}: codex-serve sent a refresh token twice: {f:?}"
    );
    assert_eq!(f.cli_failed, 0, "{name}: codex exec failed: {f:?}");
    assert!(f.serve_requests > 0 && f.cli_runs > 0);
    assert!(
        f.cli_refreshes + f.serve_refreshes > 0,
        "{name}: nothing refreshed: {f:?}"
    );
}

// The codex CLI 0.171 refreshes within 5 minutes of expiry, and so does codex-serve. Lifetimes are chosen
// so that the CLI alone keeps its login (`SHARED_LOGIN_CLI_ONLY=1` runs it without codex-serve): a token that
// is already due when it arrives keeps the CLI refreshing at every call (hundreds of refreshes per run), and
// with slow answers it then loses the login by itself. With 8 s answers it can lose it by itself anyway, when
// its refresh falls in its 5 s start-up step (`cli_abandoned_refresh`; about one 8 s case in three here).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_tokens_answered_at_once() {
    // Due 5 s after they are issued: both sides refresh again and again, racing for each token.
    let case = Case {
        name: "rotating_tokens_answered_at_once",
        delay: Duration::ZERO,
        lifetime: 305,
        run_for: Duration::from_secs(25),
    };
    if let Some(f) = run_case(case).await {
        assert_goals("delay 0 s", &f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_tokens_answered_after_3_s() {
    // Due 10 s after the request, 7 s after the answer.
    let case = Case {
        name: "rotating_tokens_answered_after_3_s",
        delay: Duration::from_secs(3),
        lifetime: 310,
        run_for: Duration::from_secs(25),
    };
    if let Some(f) = run_case(case).await {
        assert_goals("delay 3 s", &f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_tokens_answered_after_8_s() {
    // Due 20 s after the request, 12 s after the answer.
    let case = Case {
        name: "rotating_tokens_answered_after_8_s",
        delay: Duration::from_secs(8),
        lifetime: 320,
        run_for: Duration::from_secs(35),
    };
    if let Some(f) = run_case(case).await {
        assert_goals("delay 8 s", &f);
    }
}
