//! The codex CLI's own settings in `$CODEX_HOME/config.toml` that codex-serve takes as defaults: where the
//! backend is and which model and effort to use. A profile is layered on top as the CLI 0.171 does it:
//! `--codex-profile NAME` (the CLI's `--profile NAME`) reads `$CODEX_HOME/NAME.config.toml` over the base
//! file. The files are the CLI's, so they are read leniently: keys codex-serve doesn't use are ignored, and
//! a value it can't use is skipped with a warning instead of stopping the server.
//!
//! The CLI 0.171 refuses the older form, `profile = "NAME"` with `[profiles.NAME]` inside config.toml.
//! codex-serve still honours it (so a setup that worked keeps working), with a warning that says how to
//! move it.

use std::path::{Path, PathBuf};

use codex_client::auth::CredentialsStore;
use serde::Deserialize;

/// The CLI's key and the `serve` flag (clap id and long name) it is a default for.
pub(crate) const MAPPED: &[(&str, &str, &str)] = &[
    ("openai_base_url", "upstream_url", "upstream-url"),
    ("chatgpt_base_url", "chatgpt_base_url", "chatgpt-base-url"),
    ("model", "model", "model"),
    (
        "model_reasoning_effort",
        "reasoning_effort",
        "reasoning-effort",
    ),
];

/// The keys of the file that matter here, each optional, at the top level and in a profile.
#[derive(Debug, Default, Clone, Deserialize)]
struct Keys {
    openai_base_url: Option<toml::Value>,
    chatgpt_base_url: Option<toml::Value>,
    model: Option<toml::Value>,
    model_reasoning_effort: Option<toml::Value>,
    cli_auth_credentials_store: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    /// The legacy selector; with `profiles`, what the CLI 0.171 refuses.
    profile: Option<String>,
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Keys>,
    #[serde(flatten)]
    top: Keys,
}

/// What was found: the file, the profile in force, and the values of the mapped keys.
///
/// `profile` is the profile's name; `values` say where each value came from: "top level",
/// "profile NAME" (a legacy `[profiles.NAME]` table) or "NAME.config.toml".
#[derive(Debug, Default, Clone)]
pub(crate) struct CodexCliConfig {
    pub(crate) path: PathBuf,
    pub(crate) found: bool,
    pub(crate) profile: Option<String>,
    /// `(cli key, value, where: "profile x" or "top level")`, strings only.
    pub(crate) values: Vec<(&'static str, String, String)>,
    /// `cli_auth_credentials_store`, if set to a value the CLI takes.
    pub(crate) credentials_store: Option<CredentialsStore>,
    /// Problems that made a key (or the file) unusable; logged, never fatal.
    pub(crate) warnings: Vec<String>,
}

impl CodexCliConfig {
    pub(crate) fn value(&self, cli_key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _, _)| *k == cli_key)
            .map(|(_, v, _)| v.as_str())
    }
}

fn get<'a>(k: &'a Keys, name: &str) -> Option<&'a toml::Value> {
    match name {
        "openai_base_url" => k.openai_base_url.as_ref(),
        "chatgpt_base_url" => k.chatgpt_base_url.as_ref(),
        "model" => k.model.as_ref(),
        "model_reasoning_effort" => k.model_reasoning_effort.as_ref(),
        _ => None,
    }
}

/// What reading one of the CLI's TOML files found.
enum Parsed {
    Missing,
    /// There, but unreadable or broken; a warning says why.
    Unusable,
    Found(Box<File>),
}

/// Reads one of the CLI's TOML files.
fn parse(path: &Path, warnings: &mut Vec<String>) -> Parsed {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Parsed::Missing,
        Err(e) => {
            warnings.push(format!(
                "cannot read {}: {e}; its settings are not used",
                path.display()
            ));
            return Parsed::Unusable;
        }
    };
    match toml::from_str(&text) {
        Ok(f) => Parsed::Found(Box::new(f)),
        Err(e) => {
            let line = e.span().map_or(1, |s| super::file::line_of(&text, s.start));
            warnings.push(format!(
                "{}:{line}: {}; the codex CLI's settings there are not used",
                path.display(),
                e.message().trim()
            ));
            Parsed::Unusable
        }
    }
}

/// A profile name the CLI could take as a file name: no path separators, nothing hidden.
fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The profile in force: `NAME.config.toml` when `selected` names one, else a legacy `[profiles.NAME]`
/// table that config.toml's own `profile` key selects. Returns its keys and where they came from.
fn profile_layer(
    codex_home: &Path,
    base: &File,
    selected: Option<&str>,
    out: &mut CodexCliConfig,
) -> Option<(Keys, String)> {
    let path = &out.path;
    if let Some(name) = selected {
        if base.profile.is_some() || base.profiles.contains_key(name) {
            out.warnings.push(format!(
                "{}: the legacy `profile = ...` / `[profiles.{name}]` settings are ignored beside --codex-profile {name} (the codex CLI refuses both at once); move them into {name}.config.toml",
                path.display()
            ));
        }
        out.profile = Some(name.to_owned());
        if !valid_profile_name(name) {
            out.warnings.push(format!(
                "--codex-profile {name:?} is not a profile name (letters, digits, '-', '_', '.'); the codex CLI's base settings are used"
            ));
            return None;
        }
        let file_name = format!("{name}.config.toml");
        let layer_path = codex_home.join(&file_name);
        let layer = match parse(&layer_path, &mut out.warnings) {
            Parsed::Found(layer) => *layer,
            Parsed::Unusable => return None,
            Parsed::Missing => {
                out.warnings.push(format!(
                    "--codex-profile {name}: there is no {}; the codex CLI's base settings are used",
                    layer_path.display()
                ));
                return None;
            }
        };
        if layer.profile.is_some() {
            out.warnings.push(format!(
                "{}: a `profile` key is not allowed in a profile file (the codex CLI refuses it); ignored",
                layer_path.display()
            ));
        }
        return Some((layer.top, file_name));
    }
    let name = base.profile.as_ref()?;
    out.profile = Some(name.clone());
    match base.profiles.get(name) {
        Some(p) => {
            out.warnings.push(format!(
                "{}: the codex CLI 0.171 refuses the legacy `profile = {name:?}` with [profiles.{name}]; codex-serve still reads it for now. Move that table into {name}.config.toml, drop the `profile` key, and pass --profile {name} to the CLI and --codex-profile {name} to codex-serve",
                path.display()
            ));
            Some((p.clone(), format!("profile {name}")))
        }
        None => {
            out.warnings.push(format!(
                "{}: profile = {name:?} names no [profiles.{name}] table; using the top-level settings",
                path.display()
            ));
            None
        }
    }
}

/// Reads `codex_home/config.toml`, with the profile `profile` names layered on top (see the module docs).
/// A missing file is no settings; an unreadable or broken one is a warning.
pub(crate) fn read(codex_home: &Path, profile: Option<&str>) -> CodexCliConfig {
    let mut out = CodexCliConfig {
        path: codex_home.join("config.toml"),
        ..CodexCliConfig::default()
    };
    let path = out.path.clone();
    let file = match parse(&path, &mut out.warnings) {
        Parsed::Found(f) => {
            out.found = true;
            *f
        }
        Parsed::Unusable => {
            out.found = true;
            return out;
        }
        // No base file: a profile file alone still counts, as it does for the CLI.
        Parsed::Missing => File::default(),
    };
    let profile = profile_layer(codex_home, &file, profile, &mut out);
    if profile.is_some() {
        out.found = true;
    }
    // Where the login is kept is read at the top level only, as the CLI 0.171 does (its login commands
    // take no profile).
    match &file.top.cli_auth_credentials_store {
        None => {}
        Some(toml::Value::String(s)) if CredentialsStore::parse(s.trim()).is_some() => {
            out.credentials_store = CredentialsStore::parse(s.trim());
        }
        Some(other) => out.warnings.push(format!(
            "{}: cli_auth_credentials_store = {other} is not one of \"file\", \"keyring\", \"auto\", \"ephemeral\"; codex-serve reads auth.json",
            path.display()
        )),
    }
    for key in MAPPED.iter().map(|(k, _, _)| *k) {
        let (value, from) = match profile
            .as_ref()
            .and_then(|(p, from)| Some((from, get(p, key)?)))
        {
            Some((from, v)) => (v, from.clone()),
            None => match get(&file.top, key) {
                Some(v) => (v, "top level".to_owned()),
                None => continue,
            },
        };
        match value {
            toml::Value::String(s) if !s.trim().is_empty() => {
                out.values.push((key, s.trim().to_owned(), from));
            }
            _ => out.warnings.push(format!(
                "{}: `{key}` is not a non-empty string; codex-serve ignores it",
                path.display()
            )),
        }
    }
    out
}

/// Where the codex CLI keeps the login of `codex_home` (its default, auth.json, when unset or unusable).
pub(crate) fn credentials_store(codex_home: &Path) -> CredentialsStore {
    read(codex_home, None).credentials_store.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CODEX_HOME holding `files` (name, contents).
    fn home(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    #[test]
    fn a_profile_file_is_layered_over_the_base_file() {
        let dir = home(&[
            (
                "config.toml",
                "model = \"gpt-5.5\"\nmodel_reasoning_effort = \"low\"\napproval_policy = \"never\"\n",
            ),
            (
                "deep.config.toml",
                "model_reasoning_effort = \"high\"\nopenai_base_url = \"https://proxy.example/v1\"\n",
            ),
        ]);
        let c = read(dir.path(), Some("deep"));
        assert!(c.found && c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.profile.as_deref(), Some("deep"));
        assert_eq!(c.value("model"), Some("gpt-5.5"));
        assert_eq!(c.value("model_reasoning_effort"), Some("high"));
        assert_eq!(c.value("openai_base_url"), Some("https://proxy.example/v1"));
        let place = |k: &str| c.values.iter().find(|v| v.0 == k).map(|v| v.2.clone());
        assert_eq!(place("model").as_deref(), Some("top level"));
        assert_eq!(
            place("model_reasoning_effort").as_deref(),
            Some("deep.config.toml")
        );
        // Without the flag the profile file is not read.
        assert_eq!(
            read(dir.path(), None).value("model_reasoning_effort"),
            Some("low")
        );
    }

    #[test]
    fn a_missing_or_odd_profile_falls_back_to_the_base_file_with_a_warning() {
        let dir = home(&[("config.toml", "model = \"gpt-5.5\"\n")]);
        let c = read(dir.path(), Some("nope"));
        assert_eq!(c.value("model"), Some("gpt-5.5"));
        assert!(
            c.warnings[0].contains("nope.config.toml"),
            "{:?}",
            c.warnings
        );
        let c = read(dir.path(), Some("../etc/x"));
        assert_eq!(c.value("model"), Some("gpt-5.5"));
        assert!(
            c.warnings[0].contains("not a profile name"),
            "{:?}",
            c.warnings
        );
        // A profile file alone, with no base file, is still read.
        std::fs::remove_file(dir.path().join("config.toml")).expect("rm");
        std::fs::write(dir.path().join("p.config.toml"), "model = \"gpt-9\"\n").expect("write");
        let c = read(dir.path(), Some("p"));
        assert!(c.found);
        assert_eq!(c.value("model"), Some("gpt-9"));
    }

    #[test]
    fn legacy_profiles_beside_the_flag_are_ignored_with_a_warning() {
        let dir = home(&[
            (
                "config.toml",
                "model = \"gpt-5.5\"\n[profiles.deep]\nmodel = \"legacy\"\n",
            ),
            ("deep.config.toml", "profile = \"x\"\n"),
        ]);
        let c = read(dir.path(), Some("deep"));
        assert_eq!(c.value("model"), Some("gpt-5.5"));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("[profiles.deep]"),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings[1].contains("not allowed in a profile file"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn a_legacy_selected_profile_still_wins_over_the_top_level_with_a_warning() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-5.5\"\nmodel_reasoning_effort = \"low\"\nprofile = \"work\"\n\
             chatgpt_base_url = \"https://proxy.example/backend-api/\"\napproval_policy = \"never\"\n\
             [profiles.work]\nmodel = \"gpt-6.2-sol\"\n[profiles.home]\nmodel = \"other\"\n\
             [mcp_servers.x]\ncommand = \"y\"\n",
        )
        .expect("write");
        let c = read(dir.path(), None);
        assert!(c.found, "{:?}", c.warnings);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("refuses") && c.warnings[0].contains("work.config.toml"),
            "{:?}",
            c.warnings
        );
        assert_eq!(c.profile.as_deref(), Some("work"));
        assert_eq!(c.value("model"), Some("gpt-6.2-sol"));
        assert_eq!(c.value("model_reasoning_effort"), Some("low"));
        assert_eq!(
            c.value("chatgpt_base_url"),
            Some("https://proxy.example/backend-api/")
        );
        assert_eq!(c.value("openai_base_url"), None);
        assert_eq!(c.credentials_store, None);
    }

    #[test]
    fn the_credentials_store_is_read_at_the_top_level_only() {
        let dir = tempfile::tempdir().expect("dir");
        let write =
            |text: &str| std::fs::write(dir.path().join("config.toml"), text).expect("write");
        write("cli_auth_credentials_store = \"keyring\"\n");
        assert_eq!(credentials_store(dir.path()), CredentialsStore::Keyring);
        write("cli_auth_credentials_store = \"auto\"\n[profiles.p]\ncli_auth_credentials_store = \"file\"\n");
        assert_eq!(credentials_store(dir.path()), CredentialsStore::Auto);
        write("[profiles.p]\ncli_auth_credentials_store = \"keyring\"\n");
        assert_eq!(credentials_store(dir.path()), CredentialsStore::File);
        write("cli_auth_credentials_store = \"vault\"\n");
        let c = read(dir.path(), None);
        assert_eq!(c.credentials_store, None);
        assert!(
            c.warnings[0].contains("cli_auth_credentials_store"),
            "{:?}",
            c.warnings
        );
        assert_eq!(credentials_store(dir.path()), CredentialsStore::File);
    }

    #[test]
    fn a_broken_file_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("config.toml"), "model = [\n").expect("write");
        let c = read(dir.path(), None);
        assert!(c.values.is_empty());
        assert!(c.warnings[0].contains("config.toml:"), "{:?}", c.warnings);
        assert!(!read(&dir.path().join("nope"), None).found);
    }
}
