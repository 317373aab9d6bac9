//! The model catalog for the login (backend, disk cache, the codex CLI's cache, the built-in list) and
//! the client-version gate it sets for each model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::CodexClient;
use crate::auth::Credentials;
use crate::error::{error_from_response, transport_message, CodexError};
use crate::headers::{self, Call};
use crate::models::{self, CatalogAnswer, CatalogSource, ModelInfo};

/// How long the backend's catalog is used before it is asked again.
const MODELS_TTL: Duration = Duration::from_secs(300);

impl CodexClient {
    /// The 400 `client_version_too_old` for a model whose `minimal_client_version` is above the client
    /// version codex-serve presents, in `catalog` (the login's, read by the caller); `Ok` for any other
    /// model, known or not.
    pub fn version_gate(&self, catalog: &[ModelInfo], slug: &str) -> Result<(), CodexError> {
        let model = catalog.iter().find(|m| m.slug == slug);
        let bundled = bundled_unless_listed(model, slug);
        self.check_version(slug, model.or(bundled.as_ref()))
    }

    pub(super) fn check_version(
        &self,
        slug: &str,
        entry: Option<&ModelInfo>,
    ) -> Result<(), CodexError> {
        match entry.and_then(|m| m.minimal_client_version.as_deref()) {
            Some(needed) if models::version_below(&self.cfg.client_version, needed) => {
                Err(CodexError::Rejected {
                    status: 400,
                    message: format!(
                        "The model '{slug}' needs codex CLI {needed} or newer, and codex-serve presents \
                         client version {} (from {}). Update the codex CLI (npm install -g \
                         @openai/codex) and restart codex-serve, or pass --client-version.",
                        self.cfg.client_version, self.cfg.client_version_source
                    ),
                    code: Some("client_version_too_old".into()),
                })
            }
            _ => Ok(()),
        }
    }

    /// The model catalog for this login, and where it came from: the backend (asked at most every five
    /// minutes, and the answer kept on disk per account), the disk cache (fresh, or stale when the backend
    /// cannot be asked), or the built-in list.
    pub async fn models(&self) -> (Arc<Vec<ModelInfo>>, CatalogSource) {
        match self.auth.credentials().await {
            Ok(creds) => self.models_for(&creds).await,
            Err(_) => (Arc::new(models::fallback()), CatalogSource::Fallback),
        }
    }

    /// [`CodexClient::models`] for credentials the caller has just read: the login's file is not
    /// checked again within one request.
    pub async fn models_for(&self, creds: &Credentials) -> (Arc<Vec<ModelInfo>>, CatalogSource) {
        let account = creds.account_id().unwrap_or("api-key").to_owned();
        let mut cache = self.models.lock().await;
        if let Some((acc, at, list)) = cache.as_ref() {
            if *acc == account && at.elapsed() < MODELS_TTL {
                return (list.clone(), CatalogSource::Backend);
            }
        }
        let disk = self
            .cfg
            .cache_dir
            .as_ref()
            .map(|d| models::disk_path(d, &account));
        let cached = disk.as_deref().and_then(models::read_disk);
        if let Some((age, list)) = &cached {
            if *age < MODELS_TTL {
                let list = Arc::new(list.clone());
                let fetched = Instant::now()
                    .checked_sub(*age)
                    .unwrap_or_else(Instant::now);
                *cache = Some((account, fetched, list.clone()));
                return (list, CatalogSource::DiskCache);
            }
        }
        match self.fetch_models().await {
            Ok(list) => {
                if let Some(path) = &disk {
                    models::write_disk(path, &list);
                }
                let list = Arc::new(list);
                *cache = Some((account, Instant::now(), list.clone()));
                (list, CatalogSource::Backend)
            }
            Err(e) => {
                tracing::debug!(error = %e, "the model catalog could not be fetched");
                let cli = self
                    .cfg
                    .codex_home
                    .as_deref()
                    .and_then(models::read_cli_cache);
                match (cached, cli) {
                    (Some((_, stale)), _) => (Arc::new(stale), CatalogSource::StaleCache),
                    (None, Some(cli)) => (Arc::new(cli), CatalogSource::CliCache),
                    (None, None) => (Arc::new(models::fallback()), CatalogSource::Fallback),
                }
            }
        }
    }

    pub(super) async fn fetch_models(&self) -> Result<Vec<ModelInfo>, CodexError> {
        let creds = self.auth.credentials().await?;
        let url = format!("{}/models", self.base_url(creds.mode()));
        let resp = self
            .http
            .get(url)
            .headers(headers::for_call(Call::Models, &self.identity, &creds))
            .query(&[("client_version", &self.cfg.client_version)])
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| CodexError::Transport(transport_message(&e)))?;
        self.record_limits(resp.headers());
        if !resp.status().is_success() {
            return Err(error_from_response(resp).await);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CodexError::Transport(transport_message(&e)))?;
        let answer: CatalogAnswer =
            serde_json::from_slice(&bytes).map_err(|e| CodexError::Decode(e.to_string()))?;
        Ok(answer.models)
    }
}

/// The backend hides the models a client is too old for: the built-in catalog still knows them.
pub(crate) fn bundled_unless_listed(listed: Option<&ModelInfo>, slug: &str) -> Option<ModelInfo> {
    match listed {
        Some(_) => None,
        None => models::fallback().into_iter().find(|m| m.slug == slug),
    }
}
