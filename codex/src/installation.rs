//! The installation id: a UUID generated once and kept, sent with every request as the backend expects.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Reads `{dir}/installation_id`, creating it (0600, atomically) on first use. If the directory cannot
/// be written, a fresh id is used for this run only: a missing id must not stop requests.
pub fn load_or_create(dir: &Path) -> String {
    let path = dir.join("installation_id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(id) = uuid::Uuid::parse_str(text.trim()) {
            return id.to_string();
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let saved = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|_| crate::auth::replace_atomically(&path, format!("{id}\n").as_bytes()));
    if let Err(e) = saved {
        tracing::warn!(path = %path.display(), error = %e, "could not save the installation id; using a temporary one");
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_stable_once_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = super::load_or_create(&dir.path().join("sub"));
        let b = super::load_or_create(&dir.path().join("sub"));
        assert_eq!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
