//! The tokens of the answer a request got, for the server's one log line per request. The server opens a
//! [`Tally`] around each request; a stream started inside it writes its usage there when the backend's
//! last event gives it, however late that is (a streamed answer ends long after its headers went out).

use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static CURRENT: Tally;
}

#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<Mutex<Option<(u64, u64)>>>);

impl Tally {
    /// Runs `f` with this tally as the one streams started inside it report to.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    /// Input and output tokens, once an answer reported them.
    pub fn tokens(&self) -> Option<(u64, u64)> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record(&self, input: u64, output: u64) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((input, output));
    }

    /// The tally of the request being served, if the server opened one.
    pub(crate) fn current() -> Option<Tally> {
        CURRENT.try_with(Tally::clone).ok()
    }
}
