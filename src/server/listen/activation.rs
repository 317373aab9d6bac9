//! Sockets a service manager opened for us (systemd's `LISTEN_FDS`, launchd's `Sockets`), and the
//! `READY=1` / `STOPPING=1` notifications systemd waits for with `Type=notify`.
//!
//! These sockets belong to the service manager: codex-serve serves them and closes its copies, but never
//! unlinks a socket file it did not create.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{getsockname, getsockopt, sockopt, AddressFamily, SockType, SockaddrLike};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ActivationError {
    #[error("bad socket activation environment (LISTEN_FDS/LISTEN_FDNAMES): {0}")]
    Env(io::Error),
    #[error("activated socket fd {fd} ({name}): {why}")]
    Unsupported {
        fd: RawFd,
        name: String,
        why: String,
    },
    #[cfg(target_os = "macos")]
    #[error("launchd socket activation failed: {0}")]
    Launchd(io::Error),
}

/// One socket handed over, by kind.
#[derive(Debug)]
pub(crate) enum Handed {
    UnixListener(std::os::unix::net::UnixListener),
    TcpListener(std::net::TcpListener),
    /// inetd style (`Accept=yes`): one connection, already accepted.
    UnixStream(std::os::unix::net::UnixStream),
    TcpStream(std::net::TcpStream),
}

#[derive(Debug)]
pub(crate) struct HandedSocket {
    /// `LISTEN_FDNAMES` entry (systemd's default is the socket unit's name), for the logs.
    pub(crate) name: String,
    pub(crate) socket: Handed,
}

/// The `Sockets` entry in the LaunchAgent plist that codex-serve takes.
#[cfg(target_os = "macos")]
pub(crate) const LAUNCHD_SOCKETS: &str = "Listeners";

/// Every socket this platform's service manager handed over; none when it did not start us.
pub(crate) fn handed_over() -> Result<Vec<HandedSocket>, ActivationError> {
    let sockets = from_systemd()?;
    #[cfg(target_os = "macos")]
    let sockets = {
        let mut all = sockets;
        all.extend(from_launchd(LAUNCHD_SOCKETS)?);
        all
    };
    Ok(sockets)
}

/// Sockets from systemd, when `LISTEN_PID` names this process; none otherwise.
pub(crate) fn from_systemd() -> Result<Vec<HandedSocket>, ActivationError> {
    let fds: Vec<RawFd> = sd_notify::listen_fds()
        .map_err(ActivationError::Env)?
        .collect();
    if fds.is_empty() {
        // Not for us (LISTEN_PID names another process, e.g. our parent), whatever LISTEN_FDNAMES says.
        return Ok(Vec::new());
    }
    // Names only label the logs; a malformed LISTEN_FDNAMES is no reason to refuse the sockets.
    let names: Vec<String> = match sd_notify::listen_fds_with_names() {
        Ok(named) => named.map(|(_, name)| name).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring LISTEN_FDNAMES");
            vec!["unknown".to_owned(); fds.len()]
        }
    };
    fds.into_iter()
        .zip(names)
        .map(|(fd, name)| {
            // SAFETY: LISTEN_PID named this process, so systemd passed these fds to us and nothing else
            // in this process knows them; each is taken exactly once here.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            classify(owned, name)
        })
        .collect()
}

/// Sorts a handed-over fd into a listener or a connection, Unix or TCP; anything else is refused.
pub(crate) fn classify(fd: OwnedFd, name: String) -> Result<HandedSocket, ActivationError> {
    let raw = fd.as_raw_fd();
    let unsupported = |why: String| ActivationError::Unsupported {
        fd: raw,
        name: name.clone(),
        why,
    };
    let kind = getsockopt(&fd, sockopt::SockType).map_err(|e| unsupported(e.to_string()))?;
    if kind != SockType::Stream {
        return Err(unsupported(format!(
            "a {kind:?} socket; codex-serve takes stream sockets only (ListenStream=)"
        )));
    }
    let listening = getsockopt(&fd, sockopt::AcceptConn).map_err(|e| unsupported(e.to_string()))?;
    let addr = getsockname::<nix::sys::socket::SockaddrStorage>(raw)
        .map_err(|e| unsupported(e.to_string()))?;
    let socket = match (addr.family(), listening) {
        (Some(AddressFamily::Unix), true) => Handed::UnixListener(fd.into()),
        (Some(AddressFamily::Unix), false) => Handed::UnixStream(fd.into()),
        (Some(AddressFamily::Inet | AddressFamily::Inet6), true) => Handed::TcpListener(fd.into()),
        (Some(AddressFamily::Inet | AddressFamily::Inet6), false) => Handed::TcpStream(fd.into()),
        (family, _) => {
            return Err(unsupported(format!(
                "address family {family:?}; codex-serve takes Unix and TCP sockets"
            )))
        }
    };
    Ok(HandedSocket { name, socket })
}

/// Sockets from launchd's `Sockets` dictionary entry `name`; none when launchd did not start us.
#[cfg(target_os = "macos")]
pub(crate) fn from_launchd(name: &str) -> Result<Vec<HandedSocket>, ActivationError> {
    use std::ffi::{c_char, c_int};
    extern "C" {
        // <launch.h>, in libSystem: hands over (once) the fds launchd opened for a Sockets entry.
        fn launch_activate_socket(
            name: *const c_char,
            fds: *mut *mut c_int,
            cnt: *mut usize,
        ) -> c_int;
    }
    let fds = take_launchd_fds(launch_activate_socket, name).map_err(ActivationError::Launchd)?;
    fds.into_iter()
        .map(|fd| classify(fd, name.to_owned()))
        .collect()
}

/// Signature of `launch_activate_socket`; a parameter so the memory handling is tested on Linux too.
#[cfg(any(target_os = "macos", test))]
type ActivateFn = unsafe extern "C" fn(
    *const std::ffi::c_char,
    *mut *mut std::ffi::c_int,
    *mut usize,
) -> std::ffi::c_int;

#[cfg(any(target_os = "macos", test))]
fn take_launchd_fds(activate: ActivateFn, name: &str) -> io::Result<Vec<OwnedFd>> {
    use nix::libc;
    let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
    let mut fds: *mut std::ffi::c_int = std::ptr::null_mut();
    let mut count: usize = 0;
    // SAFETY: the name is NUL-terminated and outlives the call; `fds` and `count` are valid out pointers.
    let rc = unsafe { activate(cname.as_ptr(), &mut fds, &mut count) };
    match rc {
        0 => {}
        // ESRCH: not started by launchd; ENOENT: no such Sockets entry. Either way: nothing handed over.
        libc::ESRCH | libc::ENOENT => return Ok(Vec::new()),
        e => return Err(io::Error::from_raw_os_error(e)),
    }
    if fds.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: on success launchd returns a malloc'ed array of `count` fds that now belong to us.
    let taken = unsafe {
        let owned = std::slice::from_raw_parts(fds, count)
            .iter()
            .map(|&fd| OwnedFd::from_raw_fd(fd))
            .collect();
        libc::free(fds.cast());
        owned
    };
    Ok(taken)
}

/// Tells systemd (when `NOTIFY_SOCKET` is set) that start-up is done.
pub(crate) fn notify_ready() {
    notify(sd_notify::NotifyState::Ready, "READY=1");
}

/// Tells systemd the service is on its way out, so it does not count the exit as a crash.
pub(crate) fn notify_stopping() {
    notify(sd_notify::NotifyState::Stopping, "STOPPING=1");
}

fn notify(state: sd_notify::NotifyState<'_>, what: &str) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot send {what} to NOTIFY_SOCKET");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc;
    use std::ffi::{c_char, c_int};
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn sorts_listeners_and_connections() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("s.sock");
        let l = UnixListener::bind(&path).expect("bind");
        let c = UnixStream::connect(&path).expect("connect");
        let t = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp");
        let got = |fd: OwnedFd| classify(fd, "x".into()).expect("classify").socket;
        assert!(matches!(got(l.into()), Handed::UnixListener(_)));
        assert!(matches!(got(c.into()), Handed::UnixStream(_)));
        assert!(matches!(got(t.into()), Handed::TcpListener(_)));
        let d = std::os::unix::net::UnixDatagram::unbound().expect("dgram");
        assert!(classify(d.into(), "d".into()).is_err());
    }

    unsafe extern "C" fn fake_activate(
        _name: *const c_char,
        fds: *mut *mut c_int,
        cnt: *mut usize,
    ) -> c_int {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp");
        let arr = libc::malloc(std::mem::size_of::<c_int>()) as *mut c_int;
        *arr = std::os::fd::IntoRawFd::into_raw_fd(l);
        *fds = arr;
        *cnt = 1;
        0
    }

    unsafe extern "C" fn not_launchd(_: *const c_char, _: *mut *mut c_int, _: *mut usize) -> c_int {
        libc::ESRCH
    }

    #[test]
    fn launchd_fds_are_taken_and_the_array_freed() {
        let fds = take_launchd_fds(fake_activate, "Listeners").expect("fds");
        assert_eq!(fds.len(), 1);
        let sock = classify(fds.into_iter().next().expect("fd"), "Listeners".into()).expect("ok");
        assert!(matches!(sock.socket, Handed::TcpListener(_)));
        assert!(take_launchd_fds(not_launchd, "Listeners")
            .expect("ok")
            .is_empty());
    }
}
