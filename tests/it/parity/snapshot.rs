//! The committed snapshot of what the pinned codex CLI sends, `reference/parity/cli-VERSION.json`:
//! when the CLI's checks differ from it, or a newly pinned CLI has none yet, the test says exactly what
//! changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::forms::Checks;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path(version: &str) -> PathBuf {
    repo().join(format!("reference/parity/cli-{version}.json"))
}

pub type Snapshot = BTreeMap<String, Checks>;

fn read(path: &Path) -> Option<Snapshot> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(doc.get("scenarios")?.clone()).ok()
}

/// The newest committed snapshot other than `version`'s, to say what changed when the pin moves.
fn previous(version: &str) -> Option<(String, Snapshot)> {
    let dir = repo().join("reference/parity");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| Some(n.strip_prefix("cli-")?.strip_suffix(".json")?.to_owned()))
        .filter(|v| v != version)
        .collect();
    found.sort_by_key(|v| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    let newest = found.pop()?;
    let snap = read(&path(&newest))?;
    Some((newest, snap))
}

/// Compares `checks` with `version`'s snapshot: `Ok(None)` when equal, `Ok(Some(path))` when
/// `PARITY_WRITE_SNAPSHOT=1` wrote it, `Err(what changed)` otherwise.
pub fn check(version: &str, checks: &Snapshot) -> Result<Option<PathBuf>, String> {
    let file = path(version);
    if std::env::var("PARITY_WRITE_SNAPSHOT").as_deref() == Ok("1") {
        let doc = json!({"cli_version": version, "scenarios": checks});
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        return Ok(Some(file));
    }
    match read(&file) {
        Some(old) if &old == checks => Ok(None),
        Some(old) => Err(format!(
            "codex CLI {version} no longer sends what its snapshot {} says:\n{}",
            file.display(),
            changes(&old, checks)
        )),
        None => {
            let since = match previous(version) {
                Some((old_version, old)) => format!(
                    "What codex CLI {version} sends differently from {old_version}:\n{}",
                    changes(&old, checks)
                ),
                None => String::new(),
            };
            Err(format!(
                "no snapshot {} for codex CLI {version}; read the changes, update codex-serve and \
                 reference/PARITY.md, then write it with PARITY_WRITE_SNAPSHOT=1.\n{since}",
                file.display()
            ))
        }
    }
}

/// A readable account of how a snapshot of the CLI's checks changed: what the pinned CLI now sends
/// differently from the snapshot it was checked against.
fn changes(old: &Snapshot, new: &Snapshot) -> String {
    let mut out = String::new();
    let scenarios: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for scenario in scenarios {
        let empty = Checks::new();
        let (o, n) = (
            old.get(scenario).unwrap_or(&empty),
            new.get(scenario).unwrap_or(&empty),
        );
        let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for name in names {
            match (o.get(name), n.get(name)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => {
                    let show = |f: Option<&BTreeSet<String>>| {
                        f.map_or("(not sent)".to_owned(), |f| {
                            f.iter().cloned().collect::<Vec<_>>().join("  |  ")
                        })
                    };
                    let _ = writeln!(
                        out,
                        "[{scenario}] {name}\n      before: {}\n      now:    {}",
                        show(a),
                        show(b)
                    );
                }
            }
        }
    }
    out
}
