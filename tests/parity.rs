//! The official codex CLI (pinned in `tests/oracle/package.json`) as the oracle.
//!
//! `cli_accepts_the_mocks_streams`: the CLI, pointed at the mock, prints the mock's text and runs the
//! tool the mock calls, so the mock's streams are ones the official client accepts.

mod common;

use std::time::Duration;

use common::codex_cli::{oracle_bin, CliHome, NetNs};

const ACCOUNT: &str = "acct-parity";
const TURN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_accepts_the_mocks_streams() {
    let Some(bin) = oracle_bin("cli_accepts_the_mocks_streams") else {
        return;
    };
    let ns = NetNs::new().expect("a network namespace for the CLI");
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
