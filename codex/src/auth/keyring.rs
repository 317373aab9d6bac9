//! The login in the OS keyring, where the codex CLI keeps it with `cli_auth_credentials_store = "keyring"`
//! (or `"auto"` when a keyring answers): one generic secret, service `Codex Auth`, account
//! `cli|` + the first 16 hex digits of the SHA-256 of the canonical `CODEX_HOME`, holding auth.json's
//! JSON on one line. Seen with the pinned CLI 0.171 under gnome-keyring: it uses the `keyring` crate 3.6.3
//! (Secret Service over zbus on Linux, the Keychain on macOS), the version used here, so that both write
//! items with the same attributes (`service`, `username`, `target = default`, `application`).
//!
//! The crate's calls block (a D-Bus round trip, a new connection each time), so each runs on the blocking
//! pool, bounded in time: a locked collection may wait for a password prompt nobody answers.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The codex CLI's service name for its login.
pub const KEYRING_SERVICE: &str = "Codex Auth";

/// The longest wait for the keyring. An unlocked Secret Service answers in milliseconds.
const KEYRING_PATIENCE: Duration = Duration::from_secs(15);

/// The account the codex CLI files the login of `codex_home` under: `cli|` and 16 hex digits of the
/// SHA-256 of its canonical path (the path as given when it cannot be canonicalised, as the CLI does).
pub fn account(codex_home: &Path) -> String {
    let canonical = codex_home
        .canonicalize()
        .unwrap_or_else(|_| codex_home.to_path_buf());
    let digest = Sha256::digest(canonical.to_string_lossy().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("cli|{hex}")
}

/// The keyring could not be used (none running, locked, refused); the text is the platform's, which
/// never holds the secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct KeyringError(String);

/// The stored login of `account`, or `None` when the keyring holds no such entry.
pub(crate) async fn load(account: &str) -> Result<Option<Vec<u8>>, KeyringError> {
    let account = account.to_owned();
    blocking(move || platform::load(&account)).await
}

/// Stores `value` as the login of `account`, replacing what was there.
pub(crate) async fn save(account: &str, value: String) -> Result<(), KeyringError> {
    let account = account.to_owned();
    blocking(move || platform::save(&account, &value)).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    match tokio::time::timeout(KEYRING_PATIENCE, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(KeyringError(format!("the keyring call failed: {join}"))),
        Err(_) => Err(KeyringError(format!(
            "the keyring did not answer within {}s (a locked keyring waiting for its password?)",
            KEYRING_PATIENCE.as_secs()
        ))),
    }
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
mod platform {
    use super::{KeyringError, KEYRING_SERVICE};

    fn entry(account: &str) -> Result<keyring::Entry, KeyringError> {
        keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| KeyringError(e.to_string()))
    }

    pub(super) fn load(account: &str) -> Result<Option<Vec<u8>>, KeyringError> {
        match entry(account)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(KeyringError(e.to_string())),
        }
    }

    pub(super) fn save(account: &str, value: &str) -> Result<(), KeyringError> {
        entry(account)?
            .set_password(value)
            .map_err(|e| KeyringError(e.to_string()))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    use super::KeyringError;

    const UNSUPPORTED: &str = "codex-serve reads the OS keyring on Linux and macOS only";

    pub(super) fn load(_account: &str) -> Result<Option<Vec<u8>>, KeyringError> {
        Err(KeyringError(UNSUPPORTED.into()))
    }

    pub(super) fn save(_account: &str, _value: &str) -> Result<(), KeyringError> {
        Err(KeyringError(UNSUPPORTED.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_cli_and_16_hex_digits_of_the_canonical_home() {
        let dir = tempfile::tempdir().expect("dir");
        let home = dir.path().join("h");
        std::fs::create_dir(&home).expect("mkdir");
        let a = account(&home);
        assert!(a.starts_with("cli|") && a.len() == 20, "{a}");
        assert!(a[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // The same directory by another spelling is the same account.
        assert_eq!(account(&dir.path().join("h/../h")), a);
        // sha256("/") = 8a5edab2…: a known value pins the digest and the truncation.
        assert_eq!(account(Path::new("/")), "cli|8a5edab282632443");
    }
}
