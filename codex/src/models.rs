//! The model catalog: `{base}/models` for this account, cached briefly, with a built-in fallback for when
//! the backend cannot be asked.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::request::ReasoningEffort;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub slug: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub default_reasoning_level: Option<ReasoningEffort>,
    #[serde(default, deserialize_with = "levels")]
    pub supported_reasoning_levels: Vec<ReasoningEffort>,
    #[serde(default)]
    pub description: Option<String>,
    /// Tokens the model can take in, when the catalog says.
    #[serde(default)]
    pub context_window: Option<i64>,
    /// `text`, `image`; the codex CLI reads a missing list as both.
    #[serde(default)]
    pub input_modalities: Option<Vec<String>>,
    #[serde(default)]
    pub supports_reasoning_summaries: Option<bool>,
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
    /// The built-in list: the backend could not be asked and nothing was cached.
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

/// Used when the backend's catalog cannot be fetched (offline, API-key mode without the endpoint).
pub fn fallback() -> Vec<ModelInfo> {
    use ReasoningEffort::{High, Low, Medium, Minimal, Xhigh};
    let m = |slug: &str, levels: &[ReasoningEffort], default: ReasoningEffort| ModelInfo {
        slug: slug.to_owned(),
        display_name: None,
        visibility: Some("list".to_owned()),
        default_reasoning_level: Some(default),
        supported_reasoning_levels: levels.to_vec(),
        description: None,
        context_window: None,
        input_modalities: None,
        supports_reasoning_summaries: None,
    };
    vec![
        m("gpt-5.5", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-6.1-terra", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-5.6-luna", &[Low, Medium, High], Medium),
        m("gpt-6-sol", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-6-astra", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-6.2-astra", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-6.1-sol", &[Low, Medium, High, Xhigh], Medium),
        m("gpt-6.2-sol", &[Low, Medium, High], Medium),
        m("gpt-5.6-luna", &[Medium, High], Medium),
        m(
            "gpt-5.6-sol",
            &[ReasoningEffort::None, Low, Medium, High],
            Medium,
        ),
        m("gpt-5.6-terra", &[Low, Medium, High], Medium),
        m("gpt-5", &[Minimal, Low, Medium, High], Medium),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_backend_catalog_shape() {
        let a: CatalogAnswer = serde_json::from_str(
            r#"{"models":[{"slug":"m","visibility":"list","default_reasoning_level":"medium",
                "supported_reasoning_levels":[{"effort":"low","description":"x"},{"effort":"ultra"}],"priority":1}]}"#,
        )
        .expect("catalog");
        assert_eq!(
            a.models[0].supported_reasoning_levels,
            vec![ReasoningEffort::Low]
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
