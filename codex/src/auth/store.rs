//! Where the login is stored: `$CODEX_HOME/auth.json` or the OS keyring ([`super::keyring`]), as the codex
//! CLI's `cli_auth_credentials_store` says.
//!
//! Two functions are the whole storage interface — [`load`] the stored login, [`save`] it — each following
//! the CLI 0.171 for every mode (below). [`lock`] takes the two locks the codex CLI 0.171
//! takes before it saves a refreshed login, in its order: `auth.lock`, then `auth.json.lock` (both
//! `flock(LOCK_EX)`, seen with strace). The CLI blocks on the first and tries the second every 10 ms for
//! about 5 s, then throws its fresh tokens away; so the locks are held only to re-read and write, for
//! milliseconds, never across a network call.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use sha2::Digest;

use super::keyring::{self, KeyringError};

/// Where the codex CLI keeps its login: `cli_auth_credentials_store` at the top level of its config.toml
/// (the CLI 0.171 reads it there only; its default is `file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialsStore {
    /// `$CODEX_HOME/auth.json`.
    #[default]
    File,
    /// The OS keyring only; an error when there is none.
    Keyring,
    /// The keyring's entry when it has one, else auth.json; saved to the keyring, to the file only when
    /// the keyring refuses.
    Auto,
    /// In the CLI's memory only: nothing another process can read.
    Ephemeral,
}

impl CredentialsStore {
    /// The config value, as the CLI spells it (lowercase).
    pub fn parse(value: &str) -> Option<CredentialsStore> {
        Some(match value {
            "file" => CredentialsStore::File,
            "keyring" => CredentialsStore::Keyring,
            "auto" => CredentialsStore::Auto,
            "ephemeral" => CredentialsStore::Ephemeral,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsStore::File => "file",
            CredentialsStore::Keyring => "keyring",
            CredentialsStore::Auto => "auto",
            CredentialsStore::Ephemeral => "ephemeral",
        }
    }
}

/// Where one read of the login came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Keyring,
}

/// The stored login's file, inside `CODEX_HOME`.
pub(crate) fn auth_file(codex_home: &Path) -> PathBuf {
    codex_home.join("auth.json")
}

/// Identifies one version of the stored login, so that an unchanged one is not parsed again: the file's
/// identity and times, or a digest of the keyring's secret (which has no cheaper version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    File { ino: u64, len: u64, mtime_ns: i128 },
    Keyring([u8; 32]),
}

/// One read of the stored login: its bytes, which version they are and where they came from.
pub(crate) struct Stored {
    pub(crate) bytes: Vec<u8>,
    pub(crate) version: Version,
    pub(crate) source: Source,
}

impl Version {
    pub(crate) fn of_secret(bytes: &[u8]) -> Version {
        Version::Keyring(sha2::Sha256::digest(bytes).into())
    }
}

fn version(meta: &std::fs::Metadata) -> Version {
    Version::File {
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
    }
}

/// Why no login could be loaded.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// Neither store in use holds one.
    Missing,
    /// auth.json exists but cannot be read.
    File(std::io::Error),
    /// The keyring, the only store in use, cannot be used.
    Keyring(KeyringError),
    /// `ephemeral`: the CLI keeps the login to itself.
    Ephemeral,
}

impl LoadError {
    /// A failed read of auth.json.
    pub(crate) fn from_io(e: std::io::Error) -> LoadError {
        if e.kind() == std::io::ErrorKind::NotFound {
            LoadError::Missing
        } else {
            LoadError::File(e)
        }
    }
}

/// Loads the login from where `mode` says, as the CLI 0.171 does: `auto` takes the keyring's entry, and
/// auth.json when the keyring has none or cannot be used.
pub(crate) async fn load(codex_home: &Path, mode: CredentialsStore) -> Result<Stored, LoadError> {
    let from_file = || read(codex_home).map_err(LoadError::from_io);
    match mode {
        CredentialsStore::File => from_file(),
        CredentialsStore::Ephemeral => Err(LoadError::Ephemeral),
        CredentialsStore::Keyring | CredentialsStore::Auto => {
            match keyring::load(&keyring::account(codex_home)).await {
                Ok(Some(bytes)) => Ok(Stored {
                    version: Version::of_secret(&bytes),
                    bytes,
                    source: Source::Keyring,
                }),
                Ok(None) if mode == CredentialsStore::Auto => from_file(),
                Ok(None) => Err(LoadError::Missing),
                Err(e) if mode == CredentialsStore::Auto => {
                    tracing::debug!(error = %e, "no OS keyring; reading auth.json (cli_auth_credentials_store = \"auto\")");
                    from_file()
                }
                Err(e) => Err(LoadError::Keyring(e)),
            }
        }
    }
}

/// Saves the login where the CLI 0.171 would: the file for `file`; the keyring for `keyring` and `auto`,
/// then auth.json is removed (the CLI removes it after every keyring save, so no stale copy is left);
/// `auto` falls back to the file when the keyring refuses. Call it under [`lock`]. Returns where it went.
pub(crate) async fn save(
    codex_home: &Path,
    mode: CredentialsStore,
    bytes: &[u8],
) -> std::io::Result<Source> {
    let to_keyring = async {
        // The CLI's own writes are one line of JSON; the same shape, every field as it was.
        let doc: serde_json::Value = serde_json::from_slice(bytes)?;
        keyring::save(&keyring::account(codex_home), doc.to_string())
            .await
            .map_err(std::io::Error::other)?;
        match std::fs::remove_file(auth_file(codex_home)) {
            Ok(()) => tracing::info!("removed auth.json: the login now lives in the OS keyring, as the codex CLI keeps it"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove auth.json after saving to the OS keyring"),
        }
        Ok::<_, std::io::Error>(Source::Keyring)
    };
    match mode {
        CredentialsStore::File => write(codex_home, bytes).map(|()| Source::File),
        CredentialsStore::Ephemeral => Err(std::io::Error::other(
            "cli_auth_credentials_store = \"ephemeral\" keeps no login to save",
        )),
        CredentialsStore::Keyring => to_keyring.await,
        CredentialsStore::Auto => match to_keyring.await {
            Ok(source) => Ok(source),
            Err(e) => {
                tracing::warn!(error = %e, "could not save to the OS keyring; saving to auth.json (cli_auth_credentials_store = \"auto\")");
                write(codex_home, bytes).map(|()| Source::File)
            }
        },
    }
}

/// The version of the stored login on disk now, without reading it (`NotFound` when there is none).
pub(crate) fn current_version(codex_home: &Path) -> std::io::Result<Version> {
    std::fs::metadata(auth_file(codex_home)).map(|m| version(&m))
}

/// Reads the stored login.
pub(crate) fn read(codex_home: &Path) -> std::io::Result<Stored> {
    use std::io::Read;
    let mut f = std::fs::File::open(auth_file(codex_home))?;
    let meta = f.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes)?;
    Ok(Stored {
        bytes,
        version: version(&meta),
        source: Source::File,
    })
}

/// Replaces the stored login with `bytes`, atomically and at mode 0600. Call it under [`lock`].
pub(crate) fn write(codex_home: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_atomically(&auth_file(codex_home), bytes)
}

/// Temp file in the same directory (created 0600 by tempfile), fsync, rename over, fsync the directory.
/// A reader sees the old file or the new one, never a part; a crash leaves one of the two.
pub(crate) fn replace_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".auth.json.")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The codex CLI's two locks, held; released when dropped (and by the kernel if the process dies).
pub(crate) struct Locks {
    // Dropped in reverse order of declaration: auth.json.lock first, as it was taken last.
    _inner: Flock<std::fs::File>,
    _outer: Flock<std::fs::File>,
}

/// How long to try for each lock. Others hold them for milliseconds; this only bounds a stuck holder.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Takes `auth.lock`, then `auth.json.lock`, as the codex CLI does.
pub(crate) async fn lock(codex_home: &Path) -> std::io::Result<Locks> {
    let outer = lock_one(&codex_home.join("auth.lock")).await?;
    let inner = lock_one(&codex_home.join("auth.json.lock")).await?;
    Ok(Locks {
        _inner: inner,
        _outer: outer,
    })
}

/// An exclusive `flock` on `path`, tried without blocking a thread every 10 ms.
pub(crate) async fn lock_one(path: &Path) -> std::io::Result<Flock<std::fs::File>> {
    let started = Instant::now();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((back, nix::errno::Errno::EWOULDBLOCK)) if started.elapsed() < LOCK_PATIENCE => {
                file = back;
                tokio::time::sleep(LOCK_RETRY).await;
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{} stayed locked for {LOCK_PATIENCE:?}", path.display()),
                ))
            }
            Err((_, e)) => return Err(std::io::Error::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn write_is_atomic_0600_and_read_sees_a_new_version() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(auth_file(dir.path()), b"{\"old\":1}").expect("seed");
        let before = read(dir.path()).expect("read");
        {
            let _locks = lock(dir.path()).await.expect("locks");
            write(dir.path(), b"{\"new\":2}").expect("write");
        }
        let after = read(dir.path()).expect("read");
        assert_eq!(after.bytes, b"{\"new\":2}");
        assert_ne!(after.version, before.version);
        assert_eq!(current_version(dir.path()).expect("version"), after.version);
        let mode = std::fs::metadata(auth_file(dir.path()))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn the_locks_exclude_each_other_and_free_on_drop() {
        let dir = tempfile::tempdir().expect("dir");
        let held = lock(dir.path()).await.expect("locks");
        let path = dir.path().join("auth.json.lock");
        let other = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let other = match Flock::lock(other, FlockArg::LockExclusiveNonblock) {
            Ok(_) => panic!("auth.json.lock was not held"),
            Err((f, _)) => f,
        };
        drop(held);
        assert!(Flock::lock(other, FlockArg::LockExclusiveNonblock).is_ok());
    }
}
