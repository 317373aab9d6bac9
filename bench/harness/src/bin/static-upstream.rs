//! `static-upstream`: a stand-in for the Codex backend on loopback that answers as fast as it can.
//!
//! - `POST …/responses` → 200 with a fixed, pre-rendered SSE answer (any bearer token is accepted).
//!   With `--delay-ms N` the text deltas drip out N ms apart (for holding many streams open).
//! - `GET …/models` → a small catalog; `POST …/oauth/token` → fresh tokens.
//! - `GET /_stats` → `{"requests": …, "connections": …, "open_streams": …}`: answers started, connections
//!   accepted, and dripping streams still open.
//!
//! It prints `listening http://127.0.0.1:PORT` once it accepts connections, and runs until killed or until
//! stdin (when it is a pipe) closes. `--write-auth DIR` instead writes a fake ChatGPT-login `auth.json` into
//! DIR (tokens valid for a day) and exits.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use codex_serve_bench::{catalog, fake_jwt, Answer};
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

#[derive(Parser)]
#[command(name = "static-upstream")]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Milliseconds between two text deltas (0: the whole answer in one write).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Write a fake auth.json into this directory and exit.
    #[arg(long, value_name = "DIR")]
    write_auth: Option<PathBuf>,
}

type Body = Either<
    Full<Bytes>,
    StreamBody<futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>,
>;

struct State {
    whole: Bytes,
    answer: Answer,
    catalog: Bytes,
    delay: Duration,
    requests: AtomicU64,
    connections: AtomicU64,
    open: Arc<AtomicU64>,
}

/// Counts a dripping stream as open until its body is dropped (finished, or the client went away).
struct Open(Arc<AtomicU64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(dir) = args.write_auth {
        return match write_auth(&dir) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "static-upstream: cannot write {}/auth.json: {e}",
                    dir.display()
                );
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(serve(args.port, Duration::from_millis(args.delay_ms)))
}

async fn serve(port: u16, delay: Duration) -> std::process::ExitCode {
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("static-upstream: cannot listen on 127.0.0.1:{port}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    let answer = Answer::render();
    let state = Arc::new(State {
        whole: answer.whole(),
        answer,
        catalog: catalog(),
        delay,
        requests: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        open: Arc::new(AtomicU64::new(0)),
    });
    let addr = listener.local_addr().expect("local addr");
    println!("listening http://{addr}");
    let _ = std::io::stdout().flush();
    tokio::spawn(exit_when_stdin_closes());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        state.connections.fetch_add(1, Ordering::Relaxed);
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(state.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Read the body whole, as a real server would, so the connection stays reusable.
    let _ = req.into_body().collect().await;
    let resp = match (&method, path.as_str()) {
        (&Method::POST, p) if p.ends_with("/responses") => {
            state.requests.fetch_add(1, Ordering::Relaxed);
            let body = if state.delay.is_zero() {
                Either::Left(Full::new(state.whole.clone()))
            } else {
                Either::Right(StreamBody::new(drip(&state)))
            };
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("x-codex-primary-used-percent", "12.5")
                .header("x-codex-primary-window-minutes", "300")
                .header("x-codex-secondary-used-percent", "3.0")
                .header("x-codex-secondary-window-minutes", "10080")
                .body(body)
        }
        (&Method::GET, p) if p.ends_with("/models") => Response::builder()
            .header("content-type", "application/json")
            .body(Either::Left(Full::new(state.catalog.clone()))),
        (&Method::POST, p) if p.ends_with("/oauth/token") => Response::builder()
            .header("content-type", "application/json")
            .body(Either::Left(Full::new(Bytes::from(tokens().to_string())))),
        (&Method::GET, "/_stats") => {
            let doc = json!({
                "requests": state.requests.load(Ordering::Relaxed),
                "connections": state.connections.load(Ordering::Relaxed),
                "open_streams": state.open.load(Ordering::Relaxed),
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(Either::Left(Full::new(Bytes::from(doc.to_string()))))
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Either::Left(Full::new(Bytes::from_static(
                b"{\"detail\":\"Not Found\"}",
            )))),
    };
    Ok(resp.expect("static response"))
}

/// The answer with `delay` between two text deltas; counted as open until dropped.
fn drip(
    state: &State,
) -> futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>> {
    use futures_util::StreamExt;
    state.open.fetch_add(1, Ordering::Relaxed);
    let open = Open(state.open.clone());
    let delay = state.delay;
    // The first delta goes out with the head; each later one `delay` after the one before.
    let mut first = state.answer.head.to_vec();
    first.extend_from_slice(&state.answer.deltas[0]);
    let head = futures_util::stream::iter([Bytes::from(first)]);
    let deltas =
        futures_util::stream::iter(state.answer.deltas[1..].to_vec()).then(move |d| async move {
            tokio::time::sleep(delay).await;
            d
        });
    let tail = futures_util::stream::iter([state.answer.tail.clone()]);
    head.chain(deltas)
        .chain(tail)
        .map(move |b| {
            let _keep = &open;
            Ok(Frame::data(b))
        })
        .boxed()
}

fn tokens() -> serde_json::Value {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 86_400;
    let auth = json!({"chatgpt_account_id": "acc-bench", "chatgpt_plan_type": "pro"});
    json!({
        "id_token": fake_jwt(&json!({"email": "bench@example.invalid", "exp": exp,
                                      "https://api.openai.com/auth": auth})),
        "access_token": fake_jwt(&json!({"exp": exp, "https://api.openai.com/auth": auth})),
        "refresh_token": "bench-refresh-token",
    })
}

fn write_auth(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let t = tokens();
    let now = humantime_now();
    let doc = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": t["id_token"], "access_token": t["access_token"],
            "refresh_token": t["refresh_token"], "account_id": "acc-bench",
        },
        "last_refresh": now,
    });
    std::fs::create_dir_all(dir)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("auth.json"))?;
    f.write_all(serde_json::to_string_pretty(&doc)?.as_bytes())
}

/// Now as RFC 3339 UTC with microseconds, as the codex CLI writes `last_refresh`.
fn humantime_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Exits when stdin is a pipe and its writer goes away, so a harness that dies takes us with it.
async fn exit_when_stdin_closes() {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    let is_pipe = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket());
    if !is_pipe {
        return;
    }
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
    })
    .await;
    std::process::exit(0);
}
