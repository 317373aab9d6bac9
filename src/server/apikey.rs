//! The bearer key TCP clients must send: from `CODEX_SERVE_API_KEY`, from `--api-key-file`, or generated
//! once into a 0600 file in the user's config directory.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::http::guard::ApiKey;

pub(crate) const KEY_ENV: &str = "CODEX_SERVE_API_KEY";

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("cannot read the API key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the API key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the API key file {0} is empty; put a key in it or delete it to have one generated")]
    Empty(PathBuf),
    #[error(
        "the API key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{KEY_ENV} is set but empty")]
    EmptyEnv,
    #[error("no home directory: set XDG_CONFIG_HOME or HOME, or pass --api-key-file")]
    NoConfigDir,
    #[error("cannot generate an API key: {0}")]
    Random(String),
}

/// Where the key came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    Env,
    File(PathBuf),
    /// Generated at this start into this file.
    Generated(PathBuf),
}

/// `$XDG_CONFIG_HOME/codex-serve/api-key`, else `~/.config/codex-serve/api-key`.
pub(crate) fn default_key_path() -> Option<PathBuf> {
    crate::server::config::dir().map(|d| d.join("api-key"))
}

/// The key, by precedence: `--api-key-file`, then `CODEX_SERVE_API_KEY`, then the default file (made now
/// if it does not exist).
pub(crate) fn resolve(file: Option<&Path>) -> Result<(ApiKey, KeySource), KeyError> {
    if let Some(path) = file {
        return read_file(path)
            .map(|secret| (ApiKey::new(secret), KeySource::File(path.to_owned())));
    }
    if let Some(v) = std::env::var_os(KEY_ENV) {
        let v = v.into_encoded_bytes().trim_ascii().to_vec();
        if v.is_empty() {
            return Err(KeyError::EmptyEnv);
        }
        return Ok((ApiKey::new(v), KeySource::Env));
    }
    let path = default_key_path().ok_or(KeyError::NoConfigDir)?;
    match create(&path)? {
        Some(secret) => Ok((ApiKey::new(secret), KeySource::Generated(path))),
        None => read_file(&path).map(|secret| (ApiKey::new(secret), KeySource::File(path))),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let key = bytes.trim_ascii().to_vec();
    if key.is_empty() {
        return Err(KeyError::Empty(path.to_owned()));
    }
    Ok(key)
}

/// Writes a new random key at 0600; `None` when the file already exists.
fn create(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    let create_err = |source| KeyError::Create {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(create_err)?;
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = format!(
        "csk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    // create_new: two first starts racing must not both write; the loser reads the winner's key.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(create_err(e)),
    };
    file.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(create_err)?;
    Ok(Some(key.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_then_reused_and_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("cfg").join("codex-serve").join("api-key");
        let first = create(&path).expect("create").expect("new key");
        assert!(first.starts_with(b"csk-") && first.len() > 40);
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(create(&path).expect("second").is_none());
        assert_eq!(read_file(&path).expect("read"), first);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(read_file(&path), Err(KeyError::TooOpen { .. })));
    }
}
