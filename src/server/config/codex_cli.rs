//! The codex CLI's own settings in `$CODEX_HOME/config.toml` (and the profile its `profile` key selects)
//! that codex-serve takes as defaults: where the backend is and which model and effort to use. The file is
//! the CLI's, so it is read leniently: keys codex-serve doesn't use are ignored, and a value it can't use
//! is skipped with a warning instead of stopping the server.

use std::path::{Path, PathBuf};

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
    profile: Option<String>,
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Keys>,
    #[serde(flatten)]
    top: Keys,
}

/// What was found: the file, the profile in force, and the values of the mapped keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct CodexCliConfig {
    pub(crate) path: PathBuf,
    pub(crate) found: bool,
    pub(crate) profile: Option<String>,
    /// `(cli key, value, where: "profile x" or "top level")`, strings only.
    pub(crate) values: Vec<(&'static str, String, String)>,
    /// `cli_auth_credentials_store` (`file`, `keyring`, `auto`), if set.
    pub(crate) credentials_store: Option<String>,
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
        "cli_auth_credentials_store" => k.cli_auth_credentials_store.as_ref(),
        _ => None,
    }
}

/// Reads `codex_home/config.toml`. A missing file is no settings; an unreadable or broken one is a warning.
pub(crate) fn read(codex_home: &Path) -> CodexCliConfig {
    let path = codex_home.join("config.toml");
    let mut out = CodexCliConfig {
        path: path.clone(),
        ..CodexCliConfig::default()
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.warnings.push(format!(
                "cannot read {}: {e}; its settings are not used",
                path.display()
            ));
            return out;
        }
    };
    out.found = true;
    let file: File = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map_or(1, |s| super::file::line_of(&text, s.start));
            out.warnings.push(format!(
                "{}:{line}: {}; the codex CLI's settings are not used",
                path.display(),
                e.message().trim()
            ));
            return out;
        }
    };
    let profile = match &file.profile {
        Some(name) => match file.profiles.get(name) {
            Some(p) => Some((name.clone(), p.clone())),
            None => {
                out.warnings.push(format!(
                    "{}: profile = {name:?} names no [profiles.{name}] table; using the top-level settings",
                    path.display()
                ));
                None
            }
        },
        None => None,
    };
    out.profile = profile.as_ref().map(|(n, _)| n.clone());
    let names = MAPPED
        .iter()
        .map(|(k, _, _)| *k)
        .chain(["cli_auth_credentials_store"]);
    for key in names {
        let (value, from) = match profile.as_ref().and_then(|(n, p)| Some((n, get(p, key)?))) {
            Some((n, v)) => (v, format!("profile {n}")),
            None => match get(&file.top, key) {
                Some(v) => (v, "top level".to_owned()),
                None => continue,
            },
        };
        match value {
            toml::Value::String(s) if !s.trim().is_empty() => {
                if key == "cli_auth_credentials_store" {
                    out.credentials_store = Some(s.trim().to_owned());
                } else {
                    out.values.push((key, s.trim().to_owned(), from));
                }
            }
            _ => out.warnings.push(format!(
                "{}: `{key}` is not a non-empty string; codex-serve ignores it",
                path.display()
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selected_profile_wins_over_the_top_level() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-5.5\"\nmodel_reasoning_effort = \"low\"\nprofile = \"work\"\n\
             chatgpt_base_url = \"https://proxy.example/backend-api/\"\napproval_policy = \"never\"\n\
             [profiles.work]\nmodel = \"gpt-6.2-sol\"\n[profiles.home]\nmodel = \"other\"\n\
             [mcp_servers.x]\ncommand = \"y\"\n",
        )
        .expect("write");
        let c = read(dir.path());
        assert!(c.found && c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.profile.as_deref(), Some("work"));
        assert_eq!(c.value("model"), Some("gpt-6.2-sol"));
        assert_eq!(c.value("model_reasoning_effort"), Some("low"));
        assert_eq!(
            c.value("chatgpt_base_url"),
            Some("https://proxy.example/backend-api/")
        );
        assert_eq!(c.value("openai_base_url"), None);
    }

    #[test]
    fn a_broken_file_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("config.toml"), "model = [\n").expect("write");
        let c = read(dir.path());
        assert!(c.values.is_empty());
        assert!(c.warnings[0].contains("config.toml:"), "{:?}", c.warnings);
        assert!(!read(&dir.path().join("nope")).found);
    }
}
