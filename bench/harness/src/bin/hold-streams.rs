//! `hold-streams --socket PATH --n N`: opens N streaming chat completions over a Unix socket and holds them.
//!
//! A stream counts as open once its first text delta has arrived, so the count says how many streams the
//! server really had in flight, not how many connections were attempted. Prints `open K of N (E errors)`
//! when every stream is open or has failed (or after `--open-timeout`), holds them for `--hold-secs`, then
//! prints `closing` and exits, dropping every connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

#[derive(Parser)]
#[command(name = "hold-streams")]
struct Args {
    #[arg(long)]
    socket: PathBuf,
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 64)]
    connect_parallelism: usize,
    #[arg(long, default_value_t = 60)]
    open_timeout: u64,
    #[arg(long, default_value_t = 5)]
    hold_secs: u64,
}

/// The first delta of the static upstream's answer, as a chat chunk carries it.
const FIRST_DELTA: &[u8] = b"\"content\":\"Hello\"";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let body = br#"{"model":"gpt-6.2-sol","stream":true,"messages":[{"role":"user","content":"Say hello"}]}"#;
    let request = Arc::new(
        [
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            body.to_vec(),
        ]
        .concat(),
    );
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let gate = Arc::new(Semaphore::new(args.connect_parallelism.max(1)));
    let mut tasks = Vec::with_capacity(args.n);
    for _ in 0..args.n {
        let (tx, gate, request, socket) = (
            tx.clone(),
            gate.clone(),
            request.clone(),
            args.socket.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut stream = match tokio::net::UnixStream::connect(&socket).await {
                Ok(s) => s,
                Err(e) => return drop(tx.send(Err(format!("connect: {e}")))),
            };
            if let Err(e) = stream.write_all(&request).await {
                return drop(tx.send(Err(format!("write: {e}"))));
            }
            let mut seen = Vec::with_capacity(4096);
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) => return drop(tx.send(Err("closed before the first delta".into()))),
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                    Err(e) => return drop(tx.send(Err(format!("read: {e}")))),
                }
                if seen.windows(FIRST_DELTA.len()).any(|w| w == FIRST_DELTA) {
                    break;
                }
            }
            drop(permit);
            let _ = tx.send(Ok(()));
            // Hold the stream: keep reading whatever drips in until the server ends it or we exit.
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }));
    }
    drop(tx);
    let (mut open, mut errors, mut first_error) = (0usize, 0usize, None);
    let deadline = tokio::time::sleep(Duration::from_secs(args.open_timeout));
    tokio::pin!(deadline);
    while open + errors < args.n {
        tokio::select! {
            r = rx.recv() => match r {
                Some(Ok(())) => open += 1,
                Some(Err(e)) => { errors += 1; first_error.get_or_insert(e); }
                None => break,
            },
            _ = &mut deadline => break,
        }
    }
    println!("open {open} of {} ({errors} errors)", args.n);
    if let Some(e) = first_error {
        println!("first error: {e}");
    }
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    println!("closing");
    for t in tasks {
        t.abort();
    }
}
