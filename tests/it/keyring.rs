//! Logins in the OS keyring, against a real Secret Service: a private `dbus-daemon` on a socket in a temp
//! directory and `gnome-keyring-daemon` unlocked with a throwaway password, both in their own HOME, so no
//! user keyring is touched. Entries are written and read with `secret-tool` (libsecret: a client of its
//! own, not our crate) and by the official codex CLI.
//!
//! Without the daemons (outside CI) the tests say why and pass; with `CI=true` that is a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use codex_mock::IssuedTokens;
use common::{chat, Options, Server, ACCOUNT};
use serde_json::{json, Value};

const KEYRING: &str = "cli_auth_credentials_store = \"keyring\"\n";
const AUTO: &str = "cli_auth_credentials_store = \"auto\"\n";

/// A session bus and an unlocked gnome-keyring on it; both stop when dropped (and after 5 minutes by
/// themselves, whatever happens to the test).
struct SecretService {
    dir: tempfile::TempDir,
    address: String,
    children: Vec<Child>,
}

impl SecretService {
    fn start(test: &str) -> Option<SecretService> {
        let missing: Vec<&str> = ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"]
            .into_iter()
            .filter(|tool| !on_path(tool))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} not installed (Debian: dbus-daemon gnome-keyring libsecret-tools; `.ci/run` installs them)",
                missing.join(", ")
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: {why}"
            );
            eprintln!("\n*** SKIPPED {test}: {why} ***\n");
            return None;
        }
        let dir = tempfile::tempdir().expect("dir");
        for sub in ["home", "data", "run"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let bus = dir.path().join("bus");
        // A socket path, not an abstract one: the codex CLI runs in a network namespace of its own, where
        // abstract sockets of this one are out of reach.
        let address = format!("unix:path={}", bus.display());
        let mut ss = SecretService {
            address: address.clone(),
            children: Vec::new(),
            dir,
        };
        // A session bus without service directories: with the standard session config, a client that
        // asks for the Secret Service before our daemon has taken its name makes the bus activate a rival
        // gnome-keyring-daemon, one that was never given the password (seen on a loaded machine).
        let conf = ss.dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        )
        .expect("bus config");
        let dbus = bounded("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        ss.children.push(dbus);
        wait_for(|| bus.exists(), "the session bus socket");
        let mut keyring = bounded("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(ss.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = keyring.stdin.take().expect("stdin");
            stdin.write_all(b"test-password").expect("password");
        }
        ss.children.push(keyring);
        wait_for(|| ss.probe(), "the Secret Service on the bus");
        Some(ss)
    }

    /// What a process needs to reach this Secret Service.
    fn env(&self) -> Vec<(String, String)> {
        let p = |s: &str| self.dir.path().join(s).display().to_string();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone()),
            ("HOME".into(), p("home")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("XDG_RUNTIME_DIR".into(), p("run")),
        ]
    }

    fn secret_tool(&self) -> Command {
        let mut c = Command::new("secret-tool");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env());
        c
    }

    /// Stores `value` where the codex CLI keeps the login of `codex_home`, with the attributes its keyring
    /// crate gives the item.
    fn store(&self, codex_home: &Path, value: &str) {
        use std::io::Write;
        let account = account(codex_home);
        let mut child = self
            .secret_tool()
            .args(["store", "--label", &format!("{account}@Codex Auth:default")])
            .args(["service", "Codex Auth", "username", &account])
            .args(["target", "default", "application", "rust-keyring"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("secret-tool store");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(value.as_bytes())
            .expect("secret");
        assert!(child.wait().expect("wait").success(), "secret-tool store");
    }

    /// Whether an item can be stored: the service is up and its collection unlocked.
    fn probe(&self) -> bool {
        use std::io::Write;
        let Ok(mut child) = self
            .secret_tool()
            .args(["store", "--label", "probe", "service", "codex-serve-probe"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let wrote = child
            .stdin
            .take()
            .is_some_and(|mut stdin| stdin.write_all(b"probe").is_ok());
        child.wait().is_ok_and(|s| s.success()) && wrote
    }

    /// The secret of the codex CLI's entry for `account`.
    fn lookup(&self, account: &str) -> Result<String, String> {
        let out = self
            .secret_tool()
            .args(["lookup", "service", "Codex Auth", "username", account])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn login(&self, codex_home: &Path) -> Value {
        let text = self.lookup(&account(codex_home)).expect("keyring entry");
        serde_json::from_str(&text).expect("the entry is JSON")
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            // `timeout` passes the signal on to the daemon it runs.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }
}

/// `program` under coreutils' `timeout`, so that it ends even if the test process is killed.
fn bounded(program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["300", program]);
    c
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
            || [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]
                .iter()
                .any(|d| d.join(tool).is_file())
    })
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    // Generous: the daemons start beside the whole suite on a loaded CI machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The account the codex CLI files the login of `codex_home` under, computed here independently.
fn account(codex_home: &Path) -> String {
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let path = codex_home.canonicalize()?;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(path.as_os_str().as_encoded_bytes())?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    let hex = String::from_utf8_lossy(&out.stdout);
    format!("cli|{}", &hex[..16])
}

/// auth.json's JSON for a ChatGPT login, on one line as the codex CLI stores it in the keyring.
fn chatgpt_login(tokens: &IssuedTokens) -> String {
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": tokens.id_token,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "account_id": ACCOUNT,
        },
        "last_refresh": "2026-11-24T10:00:00.000000Z",
        "agent_identity": {"kept": true},
    })
    .to_string()
}

/// A server whose codex home has `config` and no auth.json, reaching the Secret Service with `env`; the
/// keyring entry is written by `seed` once the mock has issued tokens and before the first request.
async fn server(config: &str, token_exp: i64, env: Vec<(String, String)>) -> Server {
    Server::start_with(Options {
        token_exp,
        write_auth: false,
        codex_config: Some(config.to_owned()),
        env,
        ..Options::default()
    })
    .await
}

fn bearer(s: &Server) -> String {
    let up = s.last_upstream();
    up.header("authorization").unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_keyring_login_is_served_and_its_refresh_is_written_back_to_the_keyring() {
    let Some(ss) = SecretService::start("keyring refresh") else {
        return;
    };
    let s = server(KEYRING, -60, ss.env()).await;
    ss.store(s.home.path(), &chatgpt_login(&s.tokens));

    let r = s
        .post("/v1/chat/completions", chat("from the keyring"))
        .await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.logs());
    // The expired token was renewed once, and the renewed one was sent.
    assert_eq!(s.mock.token_requests().len(), 1);
    assert_eq!(
        s.mock.token_requests()[0]["refresh_token"],
        json!(s.tokens.refresh_token)
    );
    let after = ss.login(s.home.path());
    let access = after["tokens"]["access_token"].as_str().expect("access");
    assert_ne!(access, s.tokens.access_token);
    assert_eq!(bearer(&s), format!("Bearer {access}"));
    assert_eq!(
        after["tokens"]["refresh_token"].as_str(),
        s.mock.current_refresh_token(ACCOUNT).as_deref()
    );
    // Every other field as it was; and no auth.json appeared.
    assert_eq!(after["agent_identity"], json!({"kept": true}));
    assert_eq!(after["tokens"]["account_id"], ACCOUNT);
    assert_ne!(after["last_refresh"], "2026-11-24T10:00:00.000000Z");
    assert!(!s.auth_path().exists(), "auth.json was written");

    // The next request uses the stored token without another refresh.
    let r = s.post("/v1/chat/completions", chat("again")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.mock.token_requests().len(), 1);
    // No token in the logs.
    let logs = s.logs();
    assert!(!logs.contains(access) && !logs.contains(&s.tokens.refresh_token));
}

#[tokio::test]
async fn a_missing_entry_or_keyring_is_an_error_that_says_what_to_do() {
    let Some(ss) = SecretService::start("keyring missing") else {
        return;
    };
    let s = server(KEYRING, 3600, ss.env()).await;
    let r = s.post("/v1/chat/completions", chat("nothing stored")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let message = r.error()["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("no Codex login in the OS keyring")
            && message.contains(&account(s.home.path()))
            && message.contains("run `codex login`"),
        "{message}"
    );

    // No Secret Service at all: said so, with the two ways out.
    let gone = vec![(
        "DBUS_SESSION_BUS_ADDRESS".to_owned(),
        format!("unix:path={}", ss.dir.path().join("no-bus").display()),
    )];
    let s = server(KEYRING, 3600, gone).await;
    let r = s.post("/v1/chat/completions", chat("no keyring")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let message = r.error()["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("cannot use the OS keyring")
            && message.contains("Secret Service")
            && message.contains("cli_auth_credentials_store = \"file\""),
        "{message}"
    );
}

#[tokio::test]
async fn auto_takes_the_keyring_entry_and_without_a_keyring_the_file() {
    let Some(ss) = SecretService::start("keyring auto") else {
        return;
    };
    // Both hold a login: the keyring's wins, as in the CLI.
    let s = server(AUTO, 3600, ss.env()).await;
    let in_file = s.mock.issue_tokens(ACCOUNT, 3600);
    common::write_auth(s.home.path(), &in_file, json!({}));
    ss.store(s.home.path(), &chatgpt_login(&s.tokens));
    let r = s.post("/v1/chat/completions", chat("auto, keyring")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(bearer(&s), format!("Bearer {}", s.tokens.access_token));

    // No Secret Service: auth.json.
    let gone = vec![(
        "DBUS_SESSION_BUS_ADDRESS".to_owned(),
        format!("unix:path={}", ss.dir.path().join("no-bus").display()),
    )];
    let s = Server::start_with(Options {
        codex_config: Some(AUTO.to_owned()),
        env: gone,
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("auto, file")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(bearer(&s), format!("Bearer {}", s.tokens.access_token));
}

#[tokio::test]
async fn auto_saves_a_refreshed_file_login_to_the_keyring_as_the_cli_does() {
    let Some(ss) = SecretService::start("keyring auto refresh") else {
        return;
    };
    // The login is in auth.json and expired; the keyring answers but holds nothing.
    let s = Server::start_with(Options {
        token_exp: -60,
        codex_config: Some(AUTO.to_owned()),
        env: ss.env(),
        ..Options::default()
    })
    .await;
    let r = s.post("/v1/chat/completions", chat("auto refresh")).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.logs());
    let after = ss.login(s.home.path());
    assert_eq!(
        after["tokens"]["refresh_token"].as_str(),
        s.mock.current_refresh_token(ACCOUNT).as_deref()
    );
    assert_eq!(after["agent_identity"], json!({"kept": true}));
    // The CLI removes auth.json after a keyring save; so does codex-serve.
    assert!(!s.auth_path().exists());
}

#[tokio::test]
async fn the_codex_cli_writes_the_entry_and_codex_serve_reads_it() {
    let test = "keyring with the codex CLI";
    let Some(bin) = common::codex_cli::oracle_bin(test) else {
        return;
    };
    let Some(ns) = common::codex_cli::netns(test) else {
        return;
    };
    let Some(ss) = SecretService::start(test) else {
        return;
    };
    let s = server(KEYRING, 3600, ss.env()).await;
    // `codex login --with-api-key`, the key on stdin, in a network namespace with nothing but loopback.
    let mut login = Command::new(&bin);
    login
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(ss.env())
        .env("CODEX_HOME", s.home.path())
        .args(["login", "--with-api-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ns.spawn(login);
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"sk-from-the-codex-cli\n").expect("key");
    }
    let out = child.wait_with_output().expect("codex login");
    assert!(
        out.status.success(),
        "codex login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!s.auth_path().exists(), "the CLI wrote auth.json");
    let stored = ss.login(s.home.path());
    assert_eq!(stored["OPENAI_API_KEY"], "sk-from-the-codex-cli");

    let r = s.post("/v1/chat/completions", chat("the CLI's key")).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), s.logs());
    assert_eq!(bearer(&s), "Bearer sk-from-the-codex-cli");
}
