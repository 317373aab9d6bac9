//! The config file and the codex CLI's settings, with the real binary: precedence, the errors that stop a
//! start, and `codex-serve config`.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{chat, Options, Server};
use serde_json::{json, Value};

/// A config dir holding `codex-serve/config.toml` with `text`.
fn config_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("codex-serve")).expect("mkdir");
    std::fs::write(dir.path().join("codex-serve/config.toml"), text).expect("write");
    dir
}

#[tokio::test]
async fn the_server_reads_its_file_and_the_codex_cli_settings() {
    let cfg = config_dir("max-body-bytes = 2000\nresponse_store_max = 0\n");
    let s = Server::start_with(Options {
        env: vec![("XDG_CONFIG_HOME".into(), cfg.path().display().to_string())],
        ..Options::default()
    })
    .await;
    let big =
        json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "x".repeat(4000)}]});
    assert_eq!(s.post("/v1/chat/completions", big).await.status, 413);
    assert_eq!(s.post("/v1/chat/completions", chat("ok")).await.status, 200);
    assert!(
        s.logs().contains("settings read from the config file"),
        "{}",
        s.logs()
    );
}

#[tokio::test]
async fn the_codex_cli_model_and_effort_are_defaults() {
    // The profile as the codex CLI 0.171 keeps it: `fast.config.toml` over config.toml, chosen by a flag.
    let s = Server::start_with(Options {
        codex_config: Some("model = \"gpt-5.5\"\nmodel_reasoning_effort = \"high\"\n".into()),
        codex_files: vec![(
            "fast.config.toml".into(),
            "model_reasoning_effort = \"low\"\n".into(),
        )],
        args: vec!["--codex-profile".into(), "fast".into()],
        ..Options::default()
    })
    .await;
    assert_eq!(defaults_sent(&s).await, (json!("gpt-5.5"), json!("low")));
    // The same for the other APIs.
    for (path, body) in [
        (
            "/api/chat",
            json!({"model": "", "stream": false, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        ("/v1/responses", json!({"model": "", "input": "hi"})),
    ] {
        let r = s.post(path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(s.last_upstream().body["model"], "gpt-5.5", "{path}");
    }
}

/// The model and effort codex-serve sends for a chat request that names no model.
async fn defaults_sent(s: &Server) -> (Value, Value) {
    let r = s
        .post(
            "/v1/chat/completions",
            json!({"model": "", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = s.last_upstream().body;
    (sent["model"].clone(), sent["reasoning"]["effort"].clone())
}

/// The model and effort of the last Responses request in `log`.
fn model_and_effort(log: &[codex_mock::LoggedRequest]) -> (Value, Value) {
    let last = log
        .iter()
        .rev()
        .find(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .expect("a Responses request");
    (
        last.body["model"].clone(),
        last.body["reasoning"]["effort"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_means_to_codex_serve_what_it_means_to_the_codex_cli() {
    use common::codex_cli::{netns, oracle_bin, CliHome};
    let test = "a_profile_means_to_codex_serve_what_it_means_to_the_codex_cli";
    let (Some(bin), Some(ns)) = (oracle_bin(test), netns(test)) else {
        return;
    };
    const BASE: &str = "model = \"gpt-5.5\"\nmodel_reasoning_effort = \"high\"\n";
    const FAST: &str = "model = \"gpt-6.2-sol\"\nmodel_reasoning_effort = \"low\"\n";
    let mock = ns.start_mock().await;
    let tokens = mock.issue_tokens("acct-profile", 3600);
    let home = CliHome::new(&mock, &tokens, "acct-profile");
    // The keys go first: the test home's own config.toml ends in tables.
    let config = home.codex_home.join("config.toml");
    let own = std::fs::read_to_string(&config).expect("config.toml");
    std::fs::write(&config, format!("{BASE}{own}")).expect("write config.toml");
    std::fs::write(home.codex_home.join("fast.config.toml"), FAST).expect("write fast.config.toml");

    let mut cli = Vec::new();
    for args in [&["--profile", "fast", "hi"][..], &["hi"][..]] {
        let run = home.exec(&ns, &bin, args, Duration::from_secs(60)).await;
        run.assert_ok("codex exec");
        cli.push(model_and_effort(&mock.log()));
    }
    assert_eq!(
        cli[0],
        (json!("gpt-6.2-sol"), json!("low")),
        "the CLI with --profile fast"
    );
    assert_eq!(
        cli[1],
        (json!("gpt-5.5"), json!("high")),
        "the CLI without a profile"
    );

    for (args, expected) in [
        (
            vec!["--codex-profile".to_owned(), "fast".to_owned()],
            &cli[0],
        ),
        (vec![], &cli[1]),
    ] {
        let s = Server::start_with(Options {
            codex_config: Some(BASE.into()),
            codex_files: vec![("fast.config.toml".into(), FAST.into())],
            args: args.clone(),
            ..Options::default()
        })
        .await;
        assert_eq!(&defaults_sent(&s).await, expected, "codex-serve {args:?}");
    }
}

#[tokio::test]
async fn a_legacy_profile_table_is_still_read_with_a_warning_that_says_how_to_move_it() {
    let s = Server::start_with(Options {
        codex_config: Some(
            "profile = \"fast\"\nmodel = \"gpt-5.5\"\n[profiles.fast]\nmodel_reasoning_effort = \"low\"\n"
                .into(),
        ),
        ..Options::default()
    })
    .await;
    assert_eq!(defaults_sent(&s).await, (json!("gpt-5.5"), json!("low")));
    let logs = s.logs();
    assert!(
        logs.contains("refuses the legacy") && logs.contains("--codex-profile fast"),
        "{logs}"
    );
}

fn codex_serve(env_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-serve"));
    for var in [
        "CODEX_SERVE_SOCKET",
        "CODEX_SERVE_CONFIG",
        "CODEX_SERVE_UPSTREAM_URL",
        "CODEX_SERVE_MODEL_MAP",
        "CODEX_HOME",
    ] {
        c.env_remove(var);
    }
    c.env("XDG_CONFIG_HOME", env_dir)
        .env("XDG_RUNTIME_DIR", env_dir)
        .env("HOME", env_dir);
    c
}

#[test]
fn a_broken_file_stops_the_server_naming_file_line_and_key() {
    let cfg = config_dir("socket = \"/tmp/never.sock\"\n\nmax-upstream = \"many\"\n");
    let out = codex_serve(cfg.path()).arg("serve").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = cfg.path().join("codex-serve/config.toml");
    assert!(
        err.contains(&format!(
            "{}:3: `max-upstream` must be an integer, not a string",
            file.display()
        )),
        "{err}"
    );
    assert!(!std::path::Path::new("/tmp/never.sock").exists());

    std::fs::write(&file, "max-uptream = 3\n").expect("write");
    let out = codex_serve(cfg.path()).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":1: unknown key `max-uptream`"));

    // --config names another file; a missing one is an error, not the defaults.
    let out = codex_serve(cfg.path())
        .args(["config", "--config", "/nonexistent/c.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/c.toml"));
}

#[test]
fn config_says_where_each_setting_came_from() {
    let cfg = config_dir(
        "max-queue = 5\nmax-upstream = 6\nupstream-idle-timeout = 60\ntcp = [\"127.0.0.1:9\"]\n\
         socket = \"/tmp/from-file.sock\"\nlog-format = \"json\"\n",
    );
    let home = cfg.path().join(".codex");
    std::fs::create_dir(&home).expect("mkdir");
    std::fs::write(
        home.join("config.toml"),
        "chatgpt_base_url = \"https://proxy.example/backend-api/\"\nmodel = \"gpt-5.5\"\n",
    )
    .expect("write");
    let out = codex_serve(cfg.path())
        .args(["config", "--json", "--max-queue", "9"])
        .env("CODEX_SERVE_UPSTREAM_URL", "http://127.0.0.1:1/v1")
        .env("CODEX_SERVE_SOCKET", "/tmp/from-env.sock")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = &v["settings"];
    assert_eq!(s["max-queue"], json!({"source": "flag", "value": "9"}));
    assert_eq!(s["max-upstream"]["source"], "file");
    assert_eq!(s["max-upstream"]["line"], 2);
    assert_eq!(s["max-upstream"]["value"], "6");
    assert_eq!(s["tcp"]["value"], "127.0.0.1:9");
    assert_eq!(s["upstream-url"]["source"], "env");
    // The environment wins over the file; the file over the default.
    assert_eq!(
        s["socket"],
        json!({"source": "env", "env": "CODEX_SERVE_SOCKET", "value": "/tmp/from-env.sock"})
    );
    assert_eq!(s["log-format"]["value"], "json");
    assert_eq!(s["log-format"]["line"], 6);
    assert_eq!(s["upstream-url"]["env"], "CODEX_SERVE_UPSTREAM_URL");
    assert_eq!(s["chatgpt-base-url"]["source"], "codex-cli");
    assert_eq!(s["chatgpt-base-url"]["codex_cli_key"], "chatgpt_base_url");
    assert_eq!(s["model"]["value"], "gpt-5.5");
    assert_eq!(
        s["max-body-bytes"],
        json!({"source": "default", "value": "8388608"})
    );
    assert_eq!(v["file"]["found"], true);
    assert_eq!(v["codex_cli"]["found"], true);

    let out = codex_serve(cfg.path())
        .args(["config"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(read)"), "{text}");
    assert!(text.contains("took chatgpt_base_url, model"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("max-upstream") && l.contains("6") && l.ends_with("file, line 2")),
        "{text}"
    );
}
