//! The default listener: a Unix socket only this user can open.
//!
//! The directory is 0700 when we create it (or when it is our default directory), the socket is created
//! under a 0177 umask so it is 0600 from its first instant, and every connection's peer uid is checked.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{umask, Mode};
use nix::unistd::geteuid;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SocketError {
    #[error(
        "another codex-serve is already listening on {0}; stop it or pass a different --socket"
    )]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("the socket directory {path} is owned by uid {owner}, not by us; refusing to use it")]
    ForeignDir { path: PathBuf, owner: u32 },
    #[error("cannot prepare the socket directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `$XDG_RUNTIME_DIR/codex-serve/codex-serve.sock`, else a per-user directory under the temp dir.
pub(crate) fn default_socket_path() -> PathBuf {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(run) => PathBuf::from(run).join("codex-serve"),
        None => std::env::temp_dir().join(format!("codex-serve-{}", geteuid().as_raw())),
    };
    dir.join("codex-serve.sock")
}

/// A socket we bound: the listener, and the file that goes away with `file`.
pub(crate) struct BoundSocket {
    pub(crate) listener: tokio::net::UnixListener,
    pub(crate) file: SocketFile,
}

impl BoundSocket {
    pub(crate) fn path(&self) -> &Path {
        &self.file.path
    }
}

/// The socket file we created; removed when this is dropped, if it is still the one we created. Sockets
/// handed over by a service manager never get one of these, so they are never unlinked.
pub(crate) struct SocketFile {
    path: PathBuf,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Only our own socket: another instance may have replaced a file we no longer own.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Prepares the directory, clears a stale socket, and binds at 0600.
pub(crate) fn bind(path: &Path, is_default: bool) -> Result<BoundSocket, SocketError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    prepare_dir(dir, is_default)?;
    clear_stale(path)?;
    let bind_err = |source| SocketError::Bind {
        path: path.to_owned(),
        source,
    };
    // umask is process-wide; binding happens at start-up before anything else creates files.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    umask(old);
    let std_listener = bound.map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    std_listener.set_nonblocking(true).map_err(bind_err)?;
    let ino = std::fs::symlink_metadata(path).map_err(bind_err)?.ino();
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(bind_err)?;
    Ok(BoundSocket {
        listener,
        file: SocketFile {
            path: path.to_owned(),
            ino,
        },
    })
}

fn prepare_dir(dir: &Path, is_default: bool) -> Result<(), SocketError> {
    let dir_err = |source| SocketError::Dir {
        path: dir.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            // Our own default directory must be private; a directory the user chose is theirs to set.
            if is_default {
                if !meta.is_dir() {
                    return Err(dir_err(std::io::Error::other("not a directory")));
                }
                if meta.uid() != geteuid().as_raw() {
                    return Err(SocketError::ForeignDir {
                        path: dir.to_owned(),
                        owner: meta.uid(),
                    });
                }
                if meta.mode() & 0o077 != 0 {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                        .map_err(dir_err)?;
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(dir_err),
        Err(e) => Err(dir_err(e)),
    }
}

/// A socket file nobody answers on is left over from a crash: remove it. One that answers is in use.
fn clear_stale(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_owned()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(SocketError::InUse(path.to_owned())),
        Err(_) => std::fs::remove_file(path).map_err(|source| SocketError::Bind {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_is_private_stale_is_replaced_live_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("sub").join("s.sock");
        let first = bind(&path, true).expect("bind");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        assert!(matches!(bind(&path, true), Err(SocketError::InUse(_))));
        drop(first);
        assert!(!path.exists(), "socket not removed on drop");
        // A crash leaves the file behind with nobody listening (std's listener does not unlink on drop).
        drop(std::os::unix::net::UnixListener::bind(&path).expect("stale"));
        let second = bind(&path, true);
        assert!(
            second.is_ok(),
            "stale socket not replaced: {:?}",
            second.err()
        );
        drop(second);
        assert!(!path.exists(), "socket not removed on drop");

        let file = tmp.path().join("plain");
        std::fs::write(&file, b"x").expect("write");
        assert!(matches!(
            bind(&file, false),
            Err(SocketError::NotASocket(_))
        ));
    }
}
