//! `--stdio`: HTTP/1.1 on stdin/stdout, as an editor plugin that spawns codex-serve would speak it —
//! raw requests written to the pipe, raw responses parsed off it.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use codex_mock::MockCodex;
use common::{chat, chat_stream, serve_command, streamed_text, write_auth, ACCOUNT};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr_path: std::path::PathBuf,
    _home: tempfile::TempDir,
    mock: MockCodex,
}

async fn spawn_stdio() -> StdioServer {
    let mock = MockCodex::start().await;
    let home = tempfile::tempdir().expect("home");
    let tokens = mock.issue_tokens(ACCOUNT, 3600);
    write_auth(home.path(), &tokens, serde_json::json!({}));
    let stderr_path = home.path().join("stderr.log");
    let mut cmd = serve_command(&mock, home.path());
    cmd.arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn --stdio");
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    StdioServer {
        child,
        stdin,
        stdout,
        stderr_path,
        _home: home,
        mock,
    }
}

impl StdioServer {
    async fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write request");
        stdin.flush().await.expect("flush");
    }

    async fn read(&mut self) -> Response {
        tokio::time::timeout(Duration::from_secs(10), read_response(&mut self.stdout))
            .await
            .expect("a response within 10 s")
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

fn post(path: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut line = String::new();
    r.read_line(&mut line).await.expect("read line");
    assert!(line.ends_with("\r\n"), "truncated line {line:?}");
    line.truncate(line.len() - 2);
    line
}

/// One HTTP/1.1 response: status line, headers, then a content-length or chunked body.
async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R) -> Response {
    let status_line = read_line(r).await;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(r).await;
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').expect("header line");
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = usize::from_str_radix(read_line(r).await.trim(), 16).expect("chunk size");
            if size == 0 {
                assert_eq!(read_line(r).await, "", "trailers are not expected");
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk).await.expect("chunk");
            resp.body.extend_from_slice(&chunk);
            assert_eq!(read_line(r).await, "");
        }
    } else {
        let len: usize = resp
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("content-length");
        let mut body = vec![0; len];
        r.read_exact(&mut body).await.expect("body");
        resp.body = body;
    }
    resp
}

fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_streamed_chat_then_more_requests_on_one_stdio_connection() {
    let mut s = spawn_stdio().await;

    s.write(&post("/v1/chat/completions", &chat_stream("over stdio")))
        .await;
    let r = s.read().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/event-stream")));
    let data = sse_data(&r.text());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert_eq!(streamed_text(&data), "echo: over stdio");
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).expect("usage chunk");
    assert!(usage["usage"]["total_tokens"].as_u64().is_some(), "{usage}");

    // Keep-alive: the same pipe carries the next requests.
    s.write(&post("/v1/chat/completions", &chat("second")))
        .await;
    let r = s.read().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: second");

    s.write(b"GET /no/such HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await;
    let r = s.read().await;
    assert_eq!(r.status, 404);
    assert_eq!(s.mock.requests().len(), 2);

    // stdin closes: codex-serve exits, and wrote nothing but HTTP to stdout.
    drop(s.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(5), s.child.wait())
        .await
        .expect("exit when stdin closes")
        .expect("wait");
    assert!(status.success(), "{status:?}\n{}", s.logs());
    let mut rest = Vec::new();
    s.stdout.read_to_end(&mut rest).await.expect("read rest");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // Logs went to stderr.
    assert!(s.logs().contains("/v1/chat/completions"), "{}", s.logs());
}

#[tokio::test]
async fn requests_written_before_stdin_closed_are_answered() {
    let mut s = spawn_stdio().await;
    let mut both = post("/v1/chat/completions", &chat_stream("first"));
    both.extend(post("/v1/chat/completions", &chat("last")));
    s.write(&both).await;
    drop(s.stdin.take());
    let first = s.read().await;
    assert_eq!(first.status, 200);
    assert_eq!(streamed_text(&sse_data(&first.text())), "echo: first");
    let last = s.read().await;
    assert_eq!(last.status, 200);
    let status = tokio::time::timeout(Duration::from_secs(5), s.child.wait())
        .await
        .expect("exit when stdin closes")
        .expect("wait");
    assert!(status.success(), "{status:?}\n{}", s.logs());
}
