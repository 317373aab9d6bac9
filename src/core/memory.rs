//! Giving memory back after a burst.
//!
//! glibc's allocator keeps one arena per worker thread and holds on to memory freed inside an arena, so
//! after a burst of requests the process stays as large as the burst made it, idle or not. Two seconds
//! after the last request started, codex-serve asks glibc to return the free pages (`malloc_trim`). Each
//! request costs two atomic operations; the trim runs once per quiet spell, on the blocking pool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long no request must start before the trim.
const QUIET: Duration = Duration::from_secs(2);

static STARTED: AtomicU64 = AtomicU64::new(0);
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Notes that a request started; the first after a quiet spell starts the watch for the next one.
pub(crate) fn request_started() {
    STARTED.fetch_add(1, Ordering::Relaxed);
    if WATCHING.swap(true, Ordering::AcqRel) {
        return;
    }
    // Outside a runtime (unit tests of handlers) there is nothing to watch with.
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        WATCHING.store(false, Ordering::Release);
        return;
    };
    rt.spawn(async {
        loop {
            let seen = STARTED.load(Ordering::Relaxed);
            tokio::time::sleep(QUIET).await;
            if STARTED.load(Ordering::Relaxed) == seen {
                break;
            }
        }
        WATCHING.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas; it takes their locks
    // and is safe to call from any thread at any time.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
