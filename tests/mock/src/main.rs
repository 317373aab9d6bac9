//! `codex-mock [--port N] [--https-port N --ca-out FILE]`: serve the mock Codex backend on 127.0.0.1 until
//! killed or stdin closes. Prints `listening http://127.0.0.1:PORT`, then with https
//! `https https://localhost:PORT` (the CA's PEM is written to FILE).

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use clap::Parser;
use codex_mock::MockCodex;

/// A scriptable mock of the Codex backend for tests.
#[derive(Parser)]
#[command(name = "codex-mock", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Also serve https on this port (0 picks a free one), with a CA made at start-up.
    #[arg(long, requires = "ca_out")]
    https_port: Option<u16>,
    /// Where to write the https listener's CA certificate (PEM), for clients to trust.
    #[arg(long, requires = "https_port")]
    ca_out: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let bind = |port: u16| {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))
    };
    let started = async {
        let http = bind(args.port)?;
        let https = args.https_port.map(bind).transpose()?;
        let mock = MockCodex::start_on(http, https)
            .await
            .map_err(|e| e.to_string())?;
        if let (Some(path), Some(pem)) = (&args.ca_out, mock.ca_pem()) {
            std::fs::write(path, pem)
                .map_err(|e| format!("cannot write the CA to {}: {e}", path.display()))?;
        }
        Ok::<_, String>(mock)
    };
    let mock = match started.await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("codex-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let mut banner = format!("listening {}\n", mock.url());
    if let Some(https) = mock.https_url() {
        banner.push_str(&format!("https {https}\n"));
    }
    if stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    stdin_closed().await;
    drop(mock);
    // A blocking stdin reader may still be parked; don't wait for it.
    std::process::exit(0)
}

/// Resolves when stdin reaches end of file — only if stdin is a pipe or socket. A terminal, a file or
/// `/dev/null` (the usual stdin of a test runner's child) never resolves, so the server runs until killed.
async fn stdin_closed() {
    if !stdin_is_pipe() {
        return std::future::pending().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    // An error means the reader thread died, which also ends the watch.
    let _ = rx.await;
}

#[cfg(unix)]
fn stdin_is_pipe() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .is_ok_and(|meta| meta.file_type().is_fifo() || meta.file_type().is_socket())
}

#[cfg(not(unix))]
fn stdin_is_pipe() -> bool {
    false
}
