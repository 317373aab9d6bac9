//! Signals: SIGTERM and SIGINT start a graceful shutdown.

/// SIGTERM or SIGINT. The handlers are installed now, not at the first poll: a service manager may send
/// SIGTERM right after READY=1, and the default action would kill us mid-request.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    if let Err(e) = term.as_ref().and(int.as_ref()) {
        tracing::warn!(error = %e, "cannot watch for SIGTERM/SIGINT; they will kill codex-serve at once");
    }
    async move {
        let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
    }
}
