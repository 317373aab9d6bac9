//! The installation id: the codex CLI's own, `$CODEX_HOME/installation_id` (a lowercase UUID, 36 bytes,
//! no newline), so that one machine is one installation whether the CLI or codex-serve asks. Sent in
//! `client_metadata` and `x-codex-turn-metadata`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Where codex-serve kept its own id before it used the CLI's (`$CODEX_HOME/codex-serve/installation_id`).
pub const OLD_LOCATION: &str = "codex-serve/installation_id";

fn read_id(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    uuid::Uuid::parse_str(text.trim())
        .ok()
        .map(|id| id.hyphenated().to_string())
}

/// Reads `{codex_home}/installation_id`. When it is missing, codex-serve's old id is moved there (the
/// backend already knows it), else a new one is created in the CLI's format. Creation never replaces a
/// file the CLI wrote meanwhile. If nothing can be written, the id is used for this run only.
pub fn load_or_create(codex_home: &Path) -> String {
    let path = codex_home.join("installation_id");
    if let Some(id) = read_id(&path) {
        return id;
    }
    let old = codex_home.join(OLD_LOCATION);
    let id = read_id(&old).unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
    match create_new(codex_home, &path, &id) {
        Ok(true) => {
            if old.exists() {
                let _ = std::fs::remove_file(&old);
            }
            id
        }
        // Someone (the CLI) wrote it first: theirs wins.
        Ok(false) => read_id(&path).unwrap_or(id),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not save the installation id; using it for this run only");
            id
        }
    }
}

/// Writes `id` to `path` unless it exists: a temp file linked into place, so a reader never sees half.
/// `Ok(false)` when the file was there first.
fn create_new(dir: &Path, path: &Path, id: &str) -> std::io::Result<bool> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(id.as_bytes())?;
    // The CLI's file is 0644: the id is not a secret.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_created_in_the_clis_format_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_or_create(dir.path());
        let b = load_or_create(dir.path());
        assert_eq!(a, b);
        let written = std::fs::read(dir.path().join("installation_id")).expect("file");
        assert_eq!(written.len(), 36);
        assert_eq!(String::from_utf8(written).expect("utf8"), a);
        assert_eq!(
            uuid::Uuid::parse_str(&a).expect("uuid").get_version_num(),
            4
        );
    }

    #[test]
    fn the_clis_id_wins_and_the_old_one_moves() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("installation_id"),
            "142ffc43-c2fb-4e4c-8ef8-47fabf802bc4",
        )
        .expect("write");
        assert_eq!(
            load_or_create(dir.path()),
            "142ffc43-c2fb-4e4c-8ef8-47fabf802bc4"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("codex-serve")).expect("dir");
        let old = "0a3b8f6e-1111-4222-8333-944455556666";
        std::fs::write(dir.path().join(OLD_LOCATION), format!("{old}\n")).expect("write");
        assert_eq!(load_or_create(dir.path()), old);
        assert!(!dir.path().join(OLD_LOCATION).exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("installation_id")).expect("new"),
            old
        );
    }
}
