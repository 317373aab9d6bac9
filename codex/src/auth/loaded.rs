//! One read of the stored login, from whichever store is in use, and the errors that tell the user what to
//! do when there is none.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::keyring;
use super::login::Login;
use super::store::{self, CredentialsStore, LoadError, Source};
use super::AuthError;

/// A torn read (older CLIs truncate, then write) is retried for about half a second in total.
pub(super) const TORN_READ_RETRIES: u32 = 40;
const TORN_READ_PAUSE: Duration = Duration::from_millis(8);

/// One parse of the stored login, which version of it and from where.
#[derive(Debug)]
pub(super) struct Loaded {
    pub(super) version: store::Version,
    pub(super) login: Login,
    pub(super) source: Source,
    /// When it was read: a keyring read is a D-Bus round trip, so it is reused for a moment.
    pub(super) fetched: Instant,
}

/// Why the login is not where the codex CLI's config says it is, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreProblem {
    #[error(
        "no Codex login in the OS keyring (service \"{service}\", account \"{account}\", for CODEX_HOME {home}), where cli_auth_credentials_store in {config} says the codex CLI keeps it: run `codex login` with the same CODEX_HOME",
        service = keyring::KEYRING_SERVICE
    )]
    NotInKeyring {
        account: String,
        home: PathBuf,
        config: PathBuf,
    },
    #[error(
        "cannot use the OS keyring, where cli_auth_credentials_store in {config} says the codex CLI keeps the Codex login: {reason}. Run a Secret Service for this session (gnome-keyring or KeePassXC, on the bus DBUS_SESSION_BUS_ADDRESS names) and unlock it, or set cli_auth_credentials_store = \"file\" there and run `codex login` again"
    )]
    KeyringUnavailable { reason: String, config: PathBuf },
    #[error(
        "cannot read the Codex login in the OS keyring (account \"{account}\"): {reason}; run `codex login` to write it again"
    )]
    UnreadableEntry { account: String, reason: String },
    #[error(
        "the codex CLI keeps its login in its own memory only (cli_auth_credentials_store = \"ephemeral\" in {config}), where no other program can read it: set it to \"file\", \"keyring\" or \"auto\" and run `codex login` again"
    )]
    Ephemeral { config: PathBuf },
}

/// Reads and parses the stored login with its raw bytes, retrying briefly when a file looks half-written
/// (a keyring entry is replaced whole: never retried).
pub(super) async fn read(
    home: &Path,
    mode: CredentialsStore,
    attempts: u32,
) -> Result<(Loaded, Vec<u8>), AuthError> {
    let path = store::auth_file(home);
    let mut last_reason = String::new();
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            // Jittered, so retries do not fall into step with a writer's rhythm.
            let jitter = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::from(d.subsec_nanos()) % 10)
                .unwrap_or(5);
            tokio::time::sleep(TORN_READ_PAUSE + Duration::from_millis(jitter)).await;
        }
        let stored = store::load(home, mode)
            .await
            .map_err(|e| load_error(home, mode, e))?;
        match Login::parse(&stored.bytes) {
            Ok(login) => {
                let loaded = Loaded {
                    version: stored.version,
                    login,
                    source: stored.source,
                    fetched: Instant::now(),
                };
                return Ok((loaded, stored.bytes));
            }
            Err(reason) if stored.source == Source::Keyring => {
                return Err(AuthError::InKeyring(StoreProblem::UnreadableEntry {
                    account: keyring::account(home),
                    reason,
                }))
            }
            Err(reason) => last_reason = reason,
        }
    }
    Err(AuthError::Unreadable {
        path,
        reason: last_reason,
    })
}

/// What a failed load means for the user.
pub(super) fn load_error(home: &Path, mode: CredentialsStore, e: LoadError) -> AuthError {
    let config = home.join("config.toml");
    match e {
        LoadError::Missing if mode == CredentialsStore::Keyring => {
            AuthError::InKeyring(StoreProblem::NotInKeyring {
                account: keyring::account(home),
                home: home.to_owned(),
                config,
            })
        }
        LoadError::Missing => AuthError::NotLoggedIn {
            path: store::auth_file(home),
        },
        LoadError::File(e) => AuthError::Unreadable {
            path: store::auth_file(home),
            reason: e.to_string(),
        },
        LoadError::Keyring(e) => AuthError::InKeyring(StoreProblem::KeyringUnavailable {
            reason: e.to_string(),
            config,
        }),
        LoadError::Ephemeral => AuthError::InKeyring(StoreProblem::Ephemeral { config }),
    }
}
