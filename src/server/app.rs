//! Building the [`App`] from a [`Config`]: the codex client with its login, and the defaults, caches and
//! limits every request uses.

use std::path::PathBuf;
use std::sync::Arc;

use codex_client::auth::REFRESH_URL_OVERRIDE_ENV;
use codex_client::{AuthConfig, AuthManager, ClientConfig, CodexClient};

use crate::core::app::Defaults;
use crate::core::app::{App, UpstreamLimit};
use crate::core::model_map::ModelMap;
use crate::core::reasoning_cache::ReasoningCache;
use crate::core::resent::Resent;
use crate::core::response_store::ResponseStore;
use crate::server::config::Config;

pub(crate) fn build_app(config: &Config) -> Result<App, String> {
    let (c, limits) = (&config.codex, &config.limits);
    let home = c.home.clone();
    let version =
        codex_client::version::detect(c.client_version.as_deref(), c.codex_bin.as_deref());
    let client_cfg = ClientConfig {
        upstream_url: c.upstream_url.clone(),
        chatgpt_base_url: c.chatgpt_base_url.clone(),
        originator: c.originator.clone(),
        client_version: version.version,
        client_version_source: version.source,
        codex_home: Some(home.clone()),
        extra_ca: std::env::var_os(codex_client::client::CA_CERTIFICATE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        idle_timeout: c.upstream_idle_timeout,
        max_retries: c.upstream_retries,
        cache_dir: Some(home.join("codex-serve")),
        // As many idle connections as requests may be in flight: a burst up to the limit then reuses
        // connections instead of opening new ones.
        max_idle_connections: limits.max_upstream.max(1),
        upstream_transport: c.upstream_transport,
        upstream_sockets: c.upstream_sockets,
        upstream_prewarm: c.upstream_prewarm,
        ..ClientConfig::default()
    };
    let http = codex_client::client::http_client(&client_cfg).map_err(|e| e.to_string())?;
    let auth = AuthManager::new(
        AuthConfig {
            codex_home: home.clone(),
            auth_url: c.auth_url.clone(),
            token_url_override: std::env::var(REFRESH_URL_OVERRIDE_ENV)
                .ok()
                .filter(|v| !v.is_empty()),
            credentials_store: crate::server::config::codex_cli::credentials_store(&home),
        },
        http.clone(),
    );
    let installation_id = codex_client::installation::load_or_create(&home);
    let codex = CodexClient::new(http, Arc::new(auth), client_cfg, installation_id);
    let d = &config.defaults;
    Ok(App {
        codex,
        defaults: Defaults {
            instructions: d.instructions.clone(),
            reasoning_effort: d.reasoning_effort,
            reasoning_summary: d.reasoning_summary,
        },
        list_effort_variants: d.list_effort_variants,
        reasoning: ReasoningCache::new(
            limits.reasoning_cache_entries,
            limits.reasoning_cache_max_bytes,
            limits.reasoning_cache_ttl,
        ),
        upstream_limit: UpstreamLimit::new(limits.max_upstream, limits.max_queue),
        responses: ResponseStore::new(
            limits.response_store_max,
            limits.response_store_max_bytes,
            limits.response_store_ttl,
        ),
        chat_bodies: Resent::default(),
        max_body_bytes: limits.max_body_bytes,
        body_read_timeout: limits.body_read_timeout,
        ollama_version: d.ollama_version.clone(),
        model_map: ModelMap::new(d.model_map.clone()),
        default_model: d.model.clone(),
    })
}
