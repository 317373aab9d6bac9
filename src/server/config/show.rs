//! `codex-serve config`: every setting in force and where it came from.

use clap::Args;
use serde_json::{json, Value};

use super::{Origin, Report};
use crate::server::flags::ServeArgs;

#[derive(Args, Debug, Clone)]
pub(crate) struct ConfigArgs {
    /// Print JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

fn describe(o: &Origin) -> String {
    match o {
        Origin::Flag => "flag".into(),
        Origin::Env(var) => format!("env {var}"),
        Origin::File { line, .. } => format!("file, line {line}"),
        Origin::CodexCli { key, place } => format!("codex CLI `{key}` ({place})"),
        Origin::Default => "default".into(),
    }
}

fn origin_json(o: &Origin) -> Value {
    let mut v = json!({"source": o.kind()});
    match o {
        Origin::Env(var) => v["env"] = json!(var),
        Origin::File { path, line } => {
            v["file"] = json!(path);
            v["line"] = json!(line);
        }
        Origin::CodexCli { key, place } => {
            v["codex_cli_key"] = json!(key);
            v["codex_cli_place"] = json!(place);
        }
        Origin::Flag | Origin::Default => {}
    }
    v
}

/// The file line of the report, for people.
pub(crate) fn file_line(r: &Report) -> String {
    match (&r.file, r.file_found) {
        (Some(p), true) => format!("{} (read)", p.display()),
        (Some(p), false) => format!("{} (none: defaults apply)", p.display()),
        (None, _) => {
            "none: no home directory (set XDG_CONFIG_HOME or HOME, or pass --config)".into()
        }
    }
}

pub(crate) fn codex_cli_line(r: &Report) -> String {
    let c = &r.codex_cli;
    if !c.found {
        return format!("{} (none)", c.path.display());
    }
    let profile = c
        .profile
        .as_ref()
        .map(|p| format!(", profile {p}"))
        .unwrap_or_default();
    let taken = if r.taken_from_cli.is_empty() {
        "nothing taken".to_owned()
    } else {
        let keys: Vec<&str> = r.taken_from_cli.iter().map(|(k, _)| *k).collect();
        format!("took {}", keys.join(", "))
    };
    format!("{}{profile}: {taken}", c.path.display())
}

/// `credits  12.50 left` / `unlimited` / `none`.
pub(crate) fn credits_line(c: &codex_client::limits::Credits) -> String {
    if c.unlimited == Some(true) {
        return "credits   unlimited".into();
    }
    match (&c.balance, c.has_credits) {
        (Some(b), _) => format!("credits   {b} left"),
        (None, Some(false)) => "credits   none".into(),
        (None, _) => "credits   yes".into(),
    }
}

/// For `status --json`: the files read and the codex CLI's settings that were taken.
pub(crate) fn summary_json(r: &Report) -> Value {
    json!({
        "file": {"path": r.file, "found": r.file_found},
        "codex_cli": codex_cli_json(r),
        "warnings": r.warnings,
    })
}

fn codex_cli_json(r: &Report) -> Value {
    json!({
        "path": r.codex_cli.path,
        "found": r.codex_cli.found,
        "profile": r.codex_cli.profile,
        "taken": r.taken_from_cli.iter().map(|(k, flag)| json!({"key": k, "setting": flag})).collect::<Vec<_>>(),
    })
}

pub(crate) fn run(args: &ConfigArgs) -> Result<(), String> {
    let empty = Report::default();
    let r = super::report().unwrap_or(&empty);
    if args.json {
        let settings: serde_json::Map<String, Value> = r
            .values
            .iter()
            .map(|(long, id, value)| {
                let mut v = origin_json(&r.origin(id));
                v["value"] = json!(value);
                (long.clone(), v)
            })
            .collect();
        let out = json!({
            "file": {"path": r.file, "found": r.file_found},
            "codex_cli": codex_cli_json(r),
            "warnings": r.warnings,
            "settings": settings,
        });
        let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    println!("Config file  {}", file_line(r));
    println!("Codex CLI    {}", codex_cli_line(r));
    for w in &r.warnings {
        println!("  warning: {w}");
    }
    println!();
    let width = r.values.iter().map(|(l, _, _)| l.len()).max().unwrap_or(8);
    println!("  {:<width$}  {:<40}  from", "setting", "value");
    for (long, id, value) in &r.values {
        let shown = match value {
            Some(v) if v.chars().count() > 40 => {
                format!("{}…", v.chars().take(39).collect::<String>())
            }
            Some(v) => v.clone(),
            None => "-".into(),
        };
        println!("  {long:<width$}  {shown:<40}  {}", describe(&r.origin(id)));
    }
    Ok(())
}
