//! Where requests come from (Unix socket, TCP, stdio, sockets handed over by systemd or launchd) and the
//! one connection loop they all share: connection limits (each listener its own; TCP connections without
//! the key in a small pool with a short deadline), header limits, idle exit, graceful shutdown.

pub(crate) mod activation;
pub(crate) mod tcp;
mod unauth;
pub(crate) mod unix;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http::guard::ConnAuth;
use unauth::UnauthPool;

#[derive(Debug, Clone)]
pub(crate) struct ConnLimits {
    /// A client must send its request headers within this time (slow-loris bound).
    pub(crate) header_read_timeout: Duration,
    /// Connections served at once by each listener, counted apart: TCP clients never take the Unix
    /// socket's. Further clients wait in that listener's kernel backlog.
    pub(crate) max_connections: usize,
    /// Of a TCP listener's connections, how many may be waiting to send a request with the key; one more
    /// closes the oldest of them.
    pub(crate) max_unauth_connections: usize,
    /// A TCP connection that has not sent a request with the key this long after it opened is closed.
    pub(crate) unauth_header_timeout: Duration,
    /// Most bytes of request head a connection may buffer.
    pub(crate) max_header_bytes: usize,
    /// How long running requests may finish after a shutdown signal.
    pub(crate) shutdown_grace: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_unauth_connections: 64,
            unauth_header_timeout: Duration::from_secs(5),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A TCP connection's standing until it shows the key.
struct Unauth {
    conn: ConnAuth,
    /// Cancelled when newer unauthenticated connections push this one out of the pool.
    pushed_out: CancellationToken,
}

/// The two faces of the app: as is for the Unix socket and stdio (private to the user by construction),
/// and behind `http::guard` (Host check, CORS, key) for anything that came in over TCP.
#[derive(Clone)]
pub(crate) struct Routers {
    pub(crate) local: Router,
    pub(crate) network: Router,
}

/// Something that yields connections.
pub(crate) enum Source {
    Unix(UnixListener),
    Tcp(TcpListener),
    /// A single connection already open (stdio, or an inetd-style socket from `Accept=yes`).
    One(Conn),
}

pub(crate) enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
    Stdio(tokio::io::Join<tokio::io::Stdin, tokio::io::Stdout>),
}

impl Conn {
    pub(crate) fn stdio() -> Conn {
        Conn::Stdio(tokio::io::join(tokio::io::stdin(), tokio::io::stdout()))
    }
}

/// Why the accept loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// `--idle-timeout` passed with no connection open.
    Idle,
    /// Every source was a single connection, and they have all ended (stdin closed).
    Done,
}

/// What a connection holds for as long as it is open: its place under its listener's limit and, on TCP,
/// the pool of that listener's connections that have not shown the key yet.
#[derive(Default)]
struct Slot {
    _listener: Option<OwnedSemaphorePermit>,
    unauth: Option<Arc<UnauthPool>>,
}

/// Accepts from one source under that source's own limits and hands each connection to the serve loop.
/// Waiting for a free slot leaves further clients in this listener's backlog, and only this one's.
async fn accept(source: Source, limits: ConnLimits, to_serve: mpsc::Sender<(Conn, Slot)>) {
    let listener_slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let unauth = UnauthPool::new(limits.max_unauth_connections);
    loop {
        let Ok(listener) = listener_slots.clone().acquire_owned().await else {
            return;
        };
        let next = match &source {
            Source::One(_) => break,
            Source::Unix(l) => l.accept().await.map(|(s, _)| (Conn::Unix(s), None)),
            Source::Tcp(l) => l
                .accept()
                .await
                .map(|(s, _)| (Conn::Tcp(s), Some(unauth.clone()))),
        };
        match next {
            Ok((conn, unauth)) => {
                let slot = Slot {
                    _listener: Some(listener),
                    unauth,
                };
                if to_serve.send((conn, slot)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Out of fds and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    if let Source::One(conn) = source {
        let _ = to_serve.send((conn, Slot::default())).await;
    }
}

/// Serves every source until `shutdown` resolves, `idle_timeout` passes with no connection open, or (with
/// only single-connection sources) the last connection ends. On a signal, running requests and streams
/// get `limits.shutdown_grace` to finish; past it they are dropped, which cancels their upstream requests.
pub(crate) async fn serve(
    sources: Vec<Source>,
    routers: Routers,
    limits: ConnLimits,
    idle_timeout: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let (to_serve, mut incoming) = mpsc::channel(1);
    let mut accepting = JoinSet::new();
    for source in sources {
        accepting.spawn(accept(source, limits.clone(), to_serve.clone()));
    }
    drop(to_serve);
    let conns = Conns::new(&limits);
    let idle = idle_for(conns.active.subscribe(), idle_timeout);
    tokio::pin!(shutdown, idle);
    activation::notify_ready();

    let stopped = loop {
        let next = tokio::select! {
            n = incoming.recv() => n,
            _ = &mut shutdown => break Stopped::Signal,
            _ = &mut idle => break Stopped::Idle,
        };
        match next {
            // Every accept loop has ended: only single connections were given, and all are started.
            None => break Stopped::Done,
            Some((conn, slot)) => conns.start(conn, &routers, slot),
        }
    };
    // Stop accepting: our copies of the listeners close (a handed-over socket stays open in its manager).
    drop(incoming);
    accepting.abort_all();
    while accepting.join_next().await.is_some() {}

    let mut active = conns.active.subscribe();
    let stopped = match stopped {
        Stopped::Done => tokio::select! {
            _ = active.wait_for(|n| *n == 0) => return Stopped::Done,
            _ = &mut shutdown => Stopped::Signal,
        },
        other => other,
    };
    activation::notify_stopping();
    match stopped {
        Stopped::Idle => tracing::info!(
            secs = idle_timeout.map(|d| d.as_secs()),
            "idle: no connection for --idle-timeout; exiting"
        ),
        _ => tracing::info!("shutting down: no new connections; waiting for running requests"),
    }
    conns.finish(limits.shutdown_grace).await;
    stopped
}

/// Resolves once no connection has been open for `timeout`; never without a timeout.
async fn idle_for(mut active: watch::Receiver<usize>, timeout: Option<Duration>) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        // A request is always inside a connection, so "no connection" also means "no request in flight".
        if active.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        tokio::select! {
            _ = tokio::time::sleep(timeout) => return,
            _ = active.wait_for(|n| *n > 0) => {}
        }
    }
}

/// The connections being served, and how to end them.
struct Conns {
    /// Flips to true at shutdown: each connection then finishes its current request and closes.
    /// (hyper-util's GracefulShutdown cannot watch connections that allow upgrades, which WebSocket
    /// mode needs.)
    stop: watch::Sender<bool>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    active: Arc<watch::Sender<usize>>,
    http: http1::Builder,
    unauth_header_timeout: Duration,
    me: u32,
}

/// Counts one open connection for as long as it lives.
struct Active(Arc<watch::Sender<usize>>);

impl Active {
    fn new(count: &Arc<watch::Sender<usize>>) -> Active {
        count.send_modify(|n| *n += 1);
        Active(count.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Conns {
    fn new(limits: &ConnLimits) -> Conns {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_header_bytes)
            .max_headers(128);
        Conns {
            stop: watch::channel(false).0,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            active: Arc::new(watch::channel(0).0),
            http,
            unauth_header_timeout: limits.unauth_header_timeout,
            me: nix::unistd::geteuid().as_raw(),
        }
    }

    fn start(&self, conn: Conn, routers: &Routers, slot: Slot) {
        match conn {
            Conn::Unix(stream) => {
                // The socket's mode already keeps others out; the peer check also covers a socket whose
                // mode or directory someone loosened, or one handed over by a service manager.
                match stream.peer_cred() {
                    Ok(cred) if cred.uid() == self.me => {}
                    Ok(cred) => {
                        tracing::warn!(
                            peer_uid = cred.uid(),
                            "refused a connection from another user"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "refused a connection whose peer could not be identified");
                        return;
                    }
                }
                self.spawn(stream, &routers.local, &self.http, slot, None);
            }
            Conn::Tcp(stream) => {
                // Streams are many small writes; don't let Nagle hold deltas back.
                let _ = stream.set_nodelay(true);
                // A TCP socket handed over as one connection has no pool: it is one connection.
                let (ticket, pushed_out) = match &slot.unauth {
                    Some(pool) => {
                        let (ticket, out) = pool.admit();
                        (Some(Box::new(ticket) as Box<dyn std::any::Any + Send>), out)
                    }
                    None => (None, CancellationToken::new()),
                };
                let auth = Unauth {
                    conn: ConnAuth::new(ticket),
                    pushed_out,
                };
                self.spawn(stream, &routers.network, &self.http, slot, Some(auth));
            }
            Conn::Stdio(io) => {
                // A client may close stdin right after its last request (`printf ... | codex-serve
                // --stdio`); answer what was asked before ending.
                let mut http = self.http.clone();
                http.half_close(true);
                self.spawn(io, &routers.local, &http, slot, None);
            }
        }
    }

    fn spawn<I>(
        &self,
        io: I,
        router: &Router,
        http: &http1::Builder,
        slot: Slot,
        auth: Option<Unauth>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let inner = TowerToHyperService::new(router.clone());
        let ext = auth.as_ref().map(|a| a.conn.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            if let Some(a) = &ext {
                req.extensions_mut().insert(a.clone());
            }
            inner.call(req)
        });
        // A TCP connection must show the key soon after it opens, or it is cut: a stranger without the key
        // cannot hold a connection for the whole header timeout, request after request. Until it has, a
        // newer connection may also push it out of the listener's pool.
        let unauth_timeout = self.unauth_header_timeout;
        let deadline = async move {
            let Some(a) = auth else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = tokio::time::sleep(unauth_timeout) => "no request with the key within --unauth-header-timeout",
                _ = a.pushed_out.cancelled() => "pushed out by newer connections without the key (--max-unauth-connections)",
                _ = a.conn.wait_passed() => std::future::pending().await,
            }
        };
        let conn = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut stop = self.stop.subscribe();
        let cancel = self.cancel.clone();
        let active = Active::new(&self.active);
        self.tasks.spawn(async move {
            tokio::pin!(conn);
            let served = async {
                tokio::select! {
                    r = conn.as_mut() => r,
                    _ = async { drop(stop.wait_for(|s| *s).await) } => {
                        conn.as_mut().graceful_shutdown();
                        conn.as_mut().await
                    }
                }
            };
            tokio::select! {
                r = served => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                // Dropping the connection drops its response stream, and with it the upstream request.
                _ = cancel.cancelled() => tracing::debug!("connection cut at the end of the grace period"),
                why = deadline => tracing::debug!("TCP connection closed: {why}"),
            }
            drop(active);
            drop(slot);
        });
    }

    /// Lets running connections finish within `grace`, then cuts the rest.
    async fn finish(self, grace: Duration) {
        let Conns {
            stop,
            cancel,
            tasks,
            ..
        } = self;
        let _ = stop.send(true);
        tasks.close();
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still running after the grace period; stopping them"
            );
            cancel.cancel();
        }
        // Cut tasks end at their next poll; don't let a stuck one hold the exit.
        let _ = tokio::time::timeout(Duration::from_secs(2), tasks.wait()).await;
    }
}
