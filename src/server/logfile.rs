//! `--log-file`: the log in a file that rotates by size, for people who don't run codex-serve under
//! systemd or launchd. When a line would take the file past `--log-file-max-bytes`, `FILE` becomes
//! `FILE.1` (`FILE.1` becomes `FILE.2`, …, up to `--log-file-keep`) and a new `FILE` is started. Files are
//! created 0600: lines name accounts and models.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

struct Open {
    file: File,
    size: u64,
}

pub(crate) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    open: Mutex<Open>,
}

fn open(path: &Path) -> io::Result<Open> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let size = file.metadata()?.len();
    Ok(Open { file, size })
}

impl RotatingFile {
    pub(crate) fn new(path: &Path, max_bytes: u64, keep: usize) -> io::Result<Arc<RotatingFile>> {
        Ok(Arc::new(RotatingFile {
            path: path.to_owned(),
            max_bytes: max_bytes.max(1024),
            keep,
            open: Mutex::new(open(path)?),
        }))
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&self, open_file: &mut Open) -> io::Result<()> {
        if self.keep == 0 {
            open_file.file.set_len(0)?;
            open_file.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(self.numbered(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.numbered(n);
            if from.exists() {
                std::fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        *open_file = open(&self.path)?;
        Ok(())
    }

    fn write_line(&self, buf: &[u8]) -> io::Result<()> {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if o.size > 0 && o.size + buf.len() as u64 > self.max_bytes {
            // A failed rotation keeps writing to the old file rather than losing lines.
            if let Err(e) = self.rotate(&mut o) {
                let _ = writeln!(io::stderr(), "codex-serve: cannot rotate the log file: {e}");
            }
        }
        o.file.write_all(buf)?;
        o.size += buf.len() as u64;
        Ok(())
    }
}

/// What tracing writes each event through: one `write_all` of a formatted line per event.
pub(crate) struct Writer(pub Arc<RotatingFile>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_line(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("codex-serve.log");
        let f = RotatingFile::new(&path, 1024, 2).expect("open");
        let line = format!("{}\n", "x".repeat(299));
        for _ in 0..20 {
            Writer(f.clone()).write_all(line.as_bytes()).expect("write");
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 1024 && size(&path) > 0);
        assert_eq!(size(&dir.path().join("codex-serve.log.1")), 900);
        assert_eq!(size(&dir.path().join("codex-serve.log.2")), 900);
        assert!(!dir.path().join("codex-serve.log.3").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
