//! The process holds the user's Codex tokens: keep them out of core dumps and away from other processes
//! of the same user that would attach a debugger. Best effort: a failure is logged, never fatal.

pub(crate) fn apply() {
    use nix::sys::resource::{setrlimit, Resource};
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        tracing::debug!(error = %e, "could not disable core dumps");
    }
    // Non-dumpable also makes /proc/<pid>/mem and ptrace attach unavailable to same-uid processes.
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::debug!(error = %e, "could not mark the process non-dumpable");
    }
}
