//! The model catalog: `{base}/models?client_version=…` for this account, cached briefly; when the backend
//! cannot be asked, the codex CLI's `models_cache.json`, then the catalog the pinned CLI bundles.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::request::ReasoningEffort;

/// One catalog entry: the fields that shape requests and listings. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub slug: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    /// The oldest codex CLI the backend serves this model to.
    #[serde(default)]
    pub minimal_client_version: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default, deserialize_with = "level")]
    pub default_reasoning_level: Option<ReasoningEffort>,
    #[serde(default, deserialize_with = "levels")]
    pub supported_reasoning_levels: Vec<ReasoningEffort>,
    #[serde(default)]
    pub description: Option<String>,
    /// Tokens the model can take in, when the catalog says.
    #[serde(default)]
    pub context_window: Option<i64>,
    #[serde(default)]
    pub max_context_window: Option<i64>,
    /// `text`, `image`; the codex CLI reads a missing list as both.
    #[serde(default)]
    pub input_modalities: Option<Vec<String>>,
    #[serde(default)]
    pub supports_reasoning_summaries: Option<bool>,
    /// `none`, `auto`, `concise`, `detailed`: the summary asked for when the client names none.
    #[serde(default)]
    pub default_reasoning_summary: Option<String>,
    /// The Responses Lite request shape (tools in an `additional_tools` item, no top-level tools).
    #[serde(default)]
    pub use_responses_lite: bool,
    #[serde(default)]
    pub supports_parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub support_verbosity: Option<bool>,
    #[serde(default)]
    pub default_verbosity: Option<String>,
    /// Images are sent with `"detail": "original"`.
    #[serde(default)]
    pub supports_image_detail_original: bool,
    /// `false`: Responses for this model go over HTTP + SSE with `--upstream-transport auto`. The codex
    /// CLI 0.171 uses the WebSocket for every model of its built-in provider, whose catalog entries
    /// carry no such field, so only an explicit `false` opts a model out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_websockets: Option<bool>,
}

impl ModelInfo {
    pub fn listed(&self) -> bool {
        self.visibility.as_deref() != Some("hide")
    }

    /// Whether the model takes images; a catalog entry without `input_modalities` takes text and images,
    /// as the codex CLI reads it.
    pub fn takes_images(&self) -> bool {
        self.input_modalities
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == "image"))
    }

    /// Whether the model reasons (it lists reasoning efforts or summarises its reasoning).
    pub fn reasons(&self) -> bool {
        !self.supported_reasoning_levels.is_empty()
            || self.default_reasoning_level.is_some()
            || self.supports_reasoning_summaries == Some(true)
    }

    /// The context window, when the catalog gives a positive one.
    pub fn context_length(&self) -> Option<u64> {
        self.context_window
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
    }

    /// Whether the catalog allows `effort`; a model with no levels listed is not restricted.
    pub fn allows(&self, effort: ReasoningEffort) -> bool {
        self.supported_reasoning_levels.is_empty()
            || self.supported_reasoning_levels.contains(&effort)
    }
}

/// An effort this build does not know is read as none given, not as a broken catalog.
fn level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ReasoningEffort>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|e| ReasoningEffort::parse(&e)))
}

/// Levels come as `[{"effort": "low", "description": ...}]`; unknown efforts are skipped, not fatal.
fn levels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ReasoningEffort>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Level {
        Obj { effort: String },
        Str(String),
    }
    let raw = Option::<Vec<Level>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|l| match l {
            Level::Obj { effort } | Level::Str(effort) => ReasoningEffort::parse(&effort),
        })
        .collect())
}

/// Where a catalog came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogSource {
    /// Fetched from the backend within the last five minutes.
    Backend,
    /// The disk cache, fetched for this account within the last five minutes.
    DiskCache,
    /// An older disk cache: the backend could not be asked.
    StaleCache,
    /// The codex CLI's `$CODEX_HOME/models_cache.json`: the backend could not be asked.
    CliCache,
    /// The built-in list (the pinned codex CLI's bundled catalog): the backend could not be asked and
    /// nothing was cached.
    Fallback,
}

#[derive(Serialize, Deserialize)]
struct DiskCatalog {
    fetched_at: u64,
    models: Vec<ModelInfo>,
}

/// `{dir}/models-{account}.json`, the account id reduced to file-name-safe characters.
pub(crate) fn disk_path(dir: &Path, account: &str) -> PathBuf {
    let safe: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("models-{safe}.json"))
}

/// The cached catalog and its age; `None` when absent or unreadable.
pub(crate) fn read_disk(path: &Path) -> Option<(Duration, Vec<ModelInfo>)> {
    let cached: DiskCatalog = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some((
        Duration::from_secs(now.saturating_sub(cached.fetched_at)),
        cached.models,
    ))
}

/// Best effort: a catalog that cannot be cached is fetched again next time.
pub(crate) fn write_disk(path: &Path, models: &[ModelInfo]) {
    let fetched_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let doc = DiskCatalog {
        fetched_at,
        models: models.to_vec(),
    };
    let written = serde_json::to_vec(&doc)
        .map_err(std::io::Error::other)
        .and_then(|bytes| {
            if let Some(dir) = path.parent() {
                std::os::unix::fs::DirBuilderExt::mode(
                    std::fs::DirBuilder::new().recursive(true),
                    0o700,
                )
                .create(dir)?;
            }
            crate::auth::replace_atomically(path, &bytes)
        });
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), error = %e, "could not cache the model catalog");
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CatalogAnswer {
    pub models: Vec<ModelInfo>,
}

/// The catalog the pinned codex CLI (0.171.0) bundles, reduced to the fields above: used when neither
/// the backend nor a cache can answer.
const BUNDLED: &str = include_str!("bundled_models.json");

/// The built-in list, newest first as the CLI orders it (by `priority`).
pub fn fallback() -> Vec<ModelInfo> {
    let mut list = serde_json::from_str::<CatalogAnswer>(BUNDLED)
        .map(|a| a.models)
        .unwrap_or_default();
    list.sort_by_key(|m| m.priority.unwrap_or(i64::MAX));
    list
}

/// The codex CLI's own cache, `$CODEX_HOME/models_cache.json`
/// (`{"fetched_at", "etag", "client_version", "identity", "models"}`); `None` when absent or unreadable.
pub fn read_cli_cache(codex_home: &Path) -> Option<Vec<ModelInfo>> {
    #[derive(Deserialize)]
    struct CliCache {
        models: Vec<ModelInfo>,
    }
    let bytes = std::fs::read(codex_home.join("models_cache.json")).ok()?;
    let cache: CliCache = serde_json::from_slice(&bytes).ok()?;
    (!cache.models.is_empty()).then_some(cache.models)
}

/// `a < b` for dotted versions such as `0.171.0` (a missing part counts as 0; a non-numeric one makes the
/// versions incomparable, and then nothing is refused).
pub fn version_below(a: &str, b: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<u64>> {
        v.trim()
            .split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().ok())
            .collect()
    }
    match (parts(a), parts(b)) {
        (Some(mut x), Some(mut y)) => {
            x.resize(3, 0);
            y.resize(3, 0);
            x < y
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_is_the_pinned_clis_catalog() {
        let list = fallback();
        assert_eq!(list.len(), 14);
        assert_eq!(list[0].slug, "gpt-6.2-sol");
        let classic: Vec<_> = list.iter().filter(|m| !m.use_responses_lite).collect();
        assert_eq!(classic.len(), 1);
        assert_eq!(classic[0].slug, "gpt-5.5");
        assert_eq!(
            classic[0].minimal_client_version.as_deref(),
            Some("0.124.0")
        );
        let sol = &list[0];
        assert_eq!(sol.context_window, Some(500_000));
        assert!(sol.allows(ReasoningEffort::Ultra) && sol.allows(ReasoningEffort::Max));
        assert_eq!(sol.default_reasoning_level, Some(ReasoningEffort::Low));
        assert_eq!(list.iter().filter(|m| m.listed()).count(), 11);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_below("0.99.0", "0.124.0"));
        assert!(version_below("0.166", "0.166.1"));
        assert!(!version_below("0.171.0", "0.166.0"));
        assert!(!version_below("0.171.0", "0.171.0"));
        assert!(!version_below("dev", "0.1.0"));
    }

    #[test]
    fn reads_the_clis_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_cli_cache(dir.path()).is_none());
        std::fs::write(
            dir.path().join("models_cache.json"),
            r#"{"fetched_at":"2026-12-01T22:00:00Z","etag":"\"x\"","client_version":"0.171.0",
               "identity":null,"models":[{"slug":"gpt-6.2-sol","use_responses_lite":true,"extra":1}]}"#,
        )
        .expect("write");
        let list = read_cli_cache(dir.path()).expect("cache");
        assert!(list[0].use_responses_lite);
    }

    #[test]
    fn parses_the_backend_catalog_shape() {
        let a: CatalogAnswer = serde_json::from_str(
            r#"{"models":[{"slug":"m","visibility":"list","default_reasoning_level":"medium",
                "supported_reasoning_levels":[{"effort":"low","description":"x"},{"effort":"ultra"},{"effort":"future"}],"priority":1}]}"#,
        )
        .expect("catalog");
        assert_eq!(
            a.models[0].supported_reasoning_levels,
            vec![ReasoningEffort::Low, ReasoningEffort::Ultra]
        );
        assert!(a.models[0].allows(ReasoningEffort::Low));
        assert!(!a.models[0].allows(ReasoningEffort::High));
        assert!(a.models[0].takes_images() && a.models[0].reasons());
        assert_eq!(a.models[0].context_length(), None);

        let a: CatalogAnswer = serde_json::from_str(
            r#"{"models":[{"slug":"t","input_modalities":["text"],"context_window":272000,
                "supported_reasoning_levels":[],"supports_reasoning_summaries":false}]}"#,
        )
        .expect("catalog");
        assert!(!a.models[0].takes_images() && !a.models[0].reasons());
        assert_eq!(a.models[0].context_length(), Some(272_000));
    }
}
