//! SIGTERM while a stream runs: no new connections, the stream finishes, exit 0; past --shutdown-grace
//! the stream is cut and codex-serve still exits 0.

use crate::common;

use std::time::{Duration, Instant};

use common::{chat_stream, slow_stream, streamed_text, Options, Server};
use http_body_util::BodyExt;

#[tokio::test]
async fn sigterm_during_a_stream_lets_it_finish_and_exits_0() {
    let mut s = Server::start().await;
    // Ten frames 250 ms apart: about 2.5 s of stream.
    s.mock.push(slow_stream(&["one ", "two ", "three"], 250));
    let resp = s
        .send(
            "POST",
            "/v1/chat/completions",
            &[],
            chat_stream("x").to_string().into_bytes(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect();
    let signal = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.signal_term();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Draining: the listener is closed, so a new client is refused at once.
        let refused = tokio::net::UnixStream::connect(&s.socket).await.is_err();
        (Instant::now(), refused)
    };
    let (body, (signalled_at, refused)) = tokio::join!(body, signal);
    let finished_at = Instant::now();
    let body = body.expect("the whole stream").to_bytes();
    let text = String::from_utf8_lossy(&body);
    let data: Vec<String> = text
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    assert_eq!(streamed_text(&data), "one two three");
    assert!(
        finished_at - signalled_at > Duration::from_millis(1000),
        "the stream did not outlive the signal"
    );
    assert!(refused, "a new connection was accepted after SIGTERM");

    let status = s.wait_exit(Duration::from_secs(10)).await.expect("exit");
    assert!(status.success(), "{status:?}\n{}", s.logs());
    assert!(
        finished_at.elapsed() < Duration::from_secs(2),
        "exit lagged the last stream by {:?}",
        finished_at.elapsed()
    );
    assert!(!s.socket.exists(), "own socket left behind");
}

#[tokio::test]
async fn a_stream_past_the_grace_period_is_cut_and_the_exit_is_still_0() {
    let mut s = Server::start_with(Options {
        args: vec!["--shutdown-grace".into(), "1".into()],
        ..Options::default()
    })
    .await;
    // About 6 s of stream against 1 s of grace.
    s.mock.push(slow_stream(&["never ", "finished"], 600));
    let resp = s
        .send(
            "POST",
            "/v1/chat/completions",
            &[],
            chat_stream("x").to_string().into_bytes(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    s.signal_term();
    let body = tokio::time::timeout(Duration::from_secs(10), resp.into_body().collect())
        .await
        .expect("the stream ends");
    let cut_after = signalled.elapsed();
    // Cut mid-body: either the client sees a broken chunked body, or a body without [DONE].
    if let Ok(b) = body {
        let text = String::from_utf8_lossy(&b.to_bytes()).into_owned();
        assert!(!text.contains("[DONE]"), "{text}");
    }
    assert!(
        cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(4),
        "cut {cut_after:?} after SIGTERM with 1 s of grace"
    );
    let status = s.wait_exit(Duration::from_secs(10)).await.expect("exit");
    assert!(status.success(), "{status:?}\n{}", s.logs());
    assert!(s.logs().contains("grace period"), "{}", s.logs());
}
