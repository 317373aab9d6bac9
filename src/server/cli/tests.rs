//! The config file and the codex CLI's settings applied below the flags, through the whole command line.

use std::ffi::OsString;

use clap::CommandFactory;

use clap::ArgMatches;

use super::Cli;
use crate::server::config::{resolve, Origin, Report};

fn run(args: &[&str], file: &str) -> (ArgMatches, Report, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, file).expect("write");
    let home = dir.path().join("codex");
    std::fs::create_dir(&home).expect("home");
    std::fs::write(
        home.join("config.toml"),
        "model = \"gpt-5.5\"\nmodel_reasoning_effort = \"high\"\nopenai_base_url = \"http://cli.example/v1\"\n",
    )
    .expect("write");
    let mut argv: Vec<OsString> = vec!["codex-serve".into(), "--config".into(), cfg.into()];
    argv.push("--codex-home".into());
    argv.push(home.into());
    argv.extend(args.iter().map(OsString::from));
    let (m, r) = resolve(Cli::command(), argv).expect("resolved");
    (m, r, dir)
}

#[test]
fn flags_win_over_the_file_and_the_file_over_the_codex_cli() {
    let (m, r, _d) = run(
        &["--max-queue", "7"],
        "max-queue = 9\nmax-upstream = 3\nreasoning_effort = \"low\"\n",
    );
    assert_eq!(m.get_one::<usize>("max_queue"), Some(&7));
    assert_eq!(m.get_one::<usize>("max_upstream"), Some(&3));
    assert_eq!(r.origin("max_queue"), Origin::Flag);
    assert!(matches!(
        r.origin("max_upstream"),
        Origin::File { line: 2, .. }
    ));
    // The file's effort wins over the CLI's; the CLI's model and URL fill in.
    assert!(matches!(
        r.origin("reasoning_effort"),
        Origin::File { line: 3, .. }
    ));
    assert_eq!(
        m.get_one::<String>("model").map(String::as_str),
        Some("gpt-5.5")
    );
    assert_eq!(
        m.get_one::<String>("upstream_url").map(String::as_str),
        Some("http://cli.example/v1")
    );
    assert_eq!(
        r.origin("model"),
        Origin::CodexCli {
            key: "model",
            place: "top level".into()
        }
    );
    assert_eq!(r.origin("max_body_bytes"), Origin::Default);
    let taken: Vec<_> = r.taken_from_cli.iter().map(|(k, _)| *k).collect();
    assert_eq!(taken, ["openai_base_url", "model"]);
    let shown = r
        .values
        .iter()
        .find(|(l, _, _)| l == "max-upstream")
        .and_then(|(_, _, v)| v.clone());
    assert_eq!(shown.as_deref(), Some("3"));
}

#[test]
fn a_broken_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "socket = \"/s\"\nmax-queue = -1\n").expect("write");
    let argv: Vec<OsString> = vec!["codex-serve".into(), "--config".into(), cfg.clone().into()];
    let err = resolve(Cli::command(), argv)
        .expect_err("refused")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:2: `max-queue`: invalid value '-1'",
            cfg.display()
        )),
        "{err}"
    );
    let missing: Vec<OsString> = vec![
        "codex-serve".into(),
        "--config".into(),
        dir.path().join("nope.toml").into(),
    ];
    let err = resolve(Cli::command(), missing)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn subcommands_read_the_file_too_and_service_does_not() {
    let (m, r, _d) = run(&[], "socket = \"/tmp/x.sock\"\n");
    assert!(r.file_found);
    assert_eq!(
        m.get_one::<std::path::PathBuf>("socket")
            .map(|p| p.display().to_string()),
        Some("/tmp/x.sock".into())
    );
    let argv: Vec<OsString> = ["codex-serve", "service", "install", "--unit-dir", "/tmp/u"]
        .iter()
        .map(OsString::from)
        .collect();
    let (_, r) = resolve(Cli::command(), argv).expect("resolved");
    assert!(r.file.is_none());
}
