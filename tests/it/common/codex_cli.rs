//! The official codex CLI as a test oracle: find the pinned native binary, give it a throwaway
//! `HOME`/`CODEX_HOME` wired to the mock, and run it where nothing but loopback is reachable.
//!
//! The version is pinned in one place, `tests/oracle/package.json`; `.ci/run` installs it there with
//! `npm ci`. `CODEX_ORACLE_BIN` names another binary.
//!
//! Isolation: [`NetNs`] is a thread that moved itself into a new network namespace (`unshare(2)` with
//! `CLONE_NEWNET`, so root is needed) with only loopback up. A network namespace belongs to a thread,
//! and what that thread creates stays in it: listeners it binds (the mock's), and processes it spawns
//! (the CLI, codex-serve). The test's own runtime then serves those listeners from any thread, so the
//! mock runs in-process with its Rust API while the CLI can reach it and nothing else.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use codex_mock::{IssuedTokens, MockCodex};
use serde_json::{json, Value};

/// Where `npm ci` in `tests/oracle` puts the Linux x64 binary.
const NATIVE_BIN: &str =
    "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex";

/// The oracle folder: `tests/oracle` of this checkout.
pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle")
}

/// The version pinned in `tests/oracle/package.json` (exactly one version, no range).
pub fn pinned_version() -> String {
    let path = oracle_dir().join("package.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("tests/oracle/package.json is JSON");
    let version = doc["dependencies"]["@openai/codex"]
        .as_str()
        .expect("tests/oracle/package.json pins @openai/codex");
    assert!(
        version.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "@openai/codex must be pinned to one exact version, not {version:?}"
    );
    version.to_owned()
}

/// The CLI binary: `CODEX_ORACLE_BIN`, else the pinned install.
pub fn oracle_bin_path() -> PathBuf {
    match std::env::var_os("CODEX_ORACLE_BIN") {
        Some(path) => PathBuf::from(path),
        None => oracle_dir().join(NATIVE_BIN),
    }
}

/// The CLI binary if it is there. Absent in CI (`CI=true`) fails the test; elsewhere it skips with a
/// loud message, never a silent pass.
pub fn oracle_bin(test: &str) -> Option<PathBuf> {
    let path = oracle_bin_path();
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "the codex CLI is not installed at {}: run `(cd tests/oracle && npm ci)` (or set CODEX_ORACLE_BIN)",
        path.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}"
    );
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
    None
}

/// A network namespace for `test`, or `None` after a loud message when one cannot be made here (not
/// root, no `ip`); in CI that is a failure.
pub fn netns(test: &str) -> Option<NetNs> {
    match NetNs::new() {
        Ok(ns) => Some(ns),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: no network namespace for the codex CLI: {why}"
            );
            eprintln!("\n*** SKIPPED {test}: no network namespace for the codex CLI: {why} ***\n");
            None
        }
    }
}

/// A thread living in a network namespace of its own, with loopback up; closures given to
/// [`NetNs::run`] run on it.
pub struct NetNs {
    jobs: Option<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NetNs {
    /// Fails (with the reason) when the namespace cannot be made, e.g. without root.
    pub fn new() -> Result<NetNs, String> {
        let (jobs, inbox) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("netns".into())
            .spawn(move || {
                let entered = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("unshare(CLONE_NEWNET): {e} (root is needed)"))
                    .and_then(|()| loopback_up());
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    for job in inbox {
                        job();
                    }
                }
            })
            .map_err(|e| format!("cannot start the namespace thread: {e}"))?;
        let entered = ready
            .recv()
            .map_err(|_| "the namespace thread died".to_owned())?;
        entered?;
        Ok(NetNs {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `job` inside the namespace and returns its result.
    pub fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        let job = Box::new(move || {
            let _ = tx.send(job());
        });
        self.jobs
            .as_ref()
            .expect("namespace alive")
            .send(job)
            .expect("namespace thread alive");
        rx.recv().expect("namespace job finished")
    }

    /// The mock (http and https) on loopback ports bound inside the namespace.
    pub async fn start_mock(&self) -> MockCodex {
        let (http, https) = self.run(|| {
            let bind = || std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
            (bind(), bind())
        });
        MockCodex::start_on(http, Some(https))
            .await
            .expect("start the mock")
    }

    /// Spawns `command` inside the namespace.
    pub fn spawn(&self, mut command: Command) -> std::process::Child {
        self.run(move || command.spawn())
            .expect("spawn in the namespace")
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `ip link set lo up`, run from the namespace's thread (so it acts on the new namespace).
fn loopback_up() -> Result<(), String> {
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`ip link set lo up` failed: {status}"))
    }
}

/// A throwaway home for the CLI: `HOME`, `CODEX_HOME` with `auth.json` and a `config.toml` that moves
/// the built-in provider to the mock, and the mock's CA.
pub struct CliHome {
    pub dir: tempfile::TempDir,
    pub codex_home: PathBuf,
    pub ca_path: PathBuf,
    pub base: String,
}

impl CliHome {
    /// `auth.json` holds `tokens` for `account`.
    pub fn new(mock: &MockCodex, tokens: &IssuedTokens, account: &str) -> CliHome {
        let dir = tempfile::tempdir().expect("temp home");
        let codex_home = dir.path().join("codex");
        std::fs::create_dir_all(&codex_home).expect("CODEX_HOME");
        let base = mock.https_url().expect("the mock's https listener");
        let ca_path = dir.path().join("mock-ca.pem");
        std::fs::write(&ca_path, mock.ca_pem().expect("CA")).expect("write CA");
        write_auth(&codex_home, tokens, account);
        // Everything that would call out beyond the mock is off; what is left answers 404 there.
        let config = format!(
            "openai_base_url = \"{base}/backend-api/codex\"\n\
             chatgpt_base_url = \"{base}/backend-api/\"\n\
             cli_auth_credentials_store = \"file\"\n\
             check_for_update_on_startup = false\n\
             \n[features]\nplugins = false\napps = false\nremote_plugin = false\nin_app_updates = false\n\
             \n[analytics]\nenabled = false\n"
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("config.toml");
        CliHome {
            dir,
            codex_home,
            ca_path,
            base,
        }
    }

    /// A `codex` command with this home's environment and nothing of the caller's.
    pub fn command(&self, bin: &Path) -> Command {
        let mut c = Command::new(bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("CODEX_HOME", &self.codex_home)
            .env("TERM", "xterm")
            .env(
                "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
                format!("{}/oauth/token", self.base),
            )
            .env("CODEX_CA_CERTIFICATE", &self.ca_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// `codex exec --skip-git-repo-check ARGS…` in `ns`, bounded by `timeout`.
    pub async fn exec(&self, ns: &NetNs, bin: &Path, args: &[&str], timeout: Duration) -> CliRun {
        let mut c = self.command(bin);
        c.arg("exec").arg("--skip-git-repo-check").args(args);
        let child = ns.spawn(c);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let mut wait = tokio::task::spawn_blocking(move || child.wait_with_output());
        let output = match tokio::time::timeout(timeout, &mut wait).await {
            Ok(joined) => joined.expect("wait task").expect("wait for codex"),
            Err(_) => {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                // What it printed until then says where it hung.
                let printed = match tokio::time::timeout(Duration::from_secs(5), wait).await {
                    Ok(Ok(Ok(out))) => {
                        let run = CliRun::from(out);
                        format!("--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr)
                    }
                    _ => "(no output)".to_owned(),
                };
                panic!("codex exec {args:?} did not finish within {timeout:?}\n{printed}");
            }
        };
        CliRun::from(output)
    }

    pub fn auth_json(&self) -> Value {
        let text = std::fs::read_to_string(self.codex_home.join("auth.json")).expect("auth.json");
        serde_json::from_str(&text).expect("auth.json is JSON")
    }
}

/// `auth.json` in the CLI's ChatGPT shape, 0600.
pub fn write_auth(codex_home: &Path, tokens: &IssuedTokens, account: &str) {
    let doc = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": tokens.id_token,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "account_id": account,
        },
        "last_refresh": "2026-12-01T00:00:00Z",
    });
    let path = codex_home.join("auth.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")).expect("auth.json");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// What one `codex exec` printed.
pub struct CliRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for CliRun {
    fn from(output: Output) -> CliRun {
        CliRun {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl CliRun {
    /// Panics with both streams unless the run succeeded.
    pub fn assert_ok(&self, what: &str) -> &CliRun {
        assert!(
            self.success,
            "codex exec ({what}) failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}
