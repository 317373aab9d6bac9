//! `POST {base}/responses` with the headers the backend expects, retries before anything streamed, one
//! refresh-and-retry after a 401, and the answer as a stream of typed events.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;

use crate::auth::{AuthManager, AuthMode, Credentials};
use crate::error::CodexError;
use crate::headers::Identity;
use crate::limits::{self, LimitStore, RateLimitSnapshot};
use crate::models::ModelInfo;
use crate::render::{self, TurnIds};
use crate::request::ResponsesRequest;
use crate::routing::{self, Route, Router};
use crate::session::Sessions;
use crate::stream::ResponseStream;
use crate::usage::Usage;
use crate::version::VersionSource;
use crate::ws::conn::{WsConn, WsSettings};
use crate::ws::pool::{Pool, PoolStats};
use crate::ws::{self, Refusal, UpstreamTransport};

mod catalog;
mod checks;
mod config;
mod over_http;

pub(crate) use catalog::bundled_unless_listed;

use config::base_url;
pub(crate) use config::chatgpt_base_url;
pub use config::{
    ClientConfig, API_KEY_BASE_URL, CA_CERTIFICATE_ENV, CHATGPT_BASE_URL, DEFAULT_ORIGINATOR,
};
pub use over_http::http_client;

/// The catalog in memory: account, fetch time, list.
type MemoryCatalog = (String, Instant, Arc<Vec<ModelInfo>>);

pub struct CodexClient {
    http: reqwest::Client,
    auth: Arc<AuthManager>,
    cfg: ClientConfig,
    identity: Identity,
    installation_id: String,
    router: Router,
    sessions: Sessions,
    /// `{base}/responses` for a ChatGPT login and for an API key, parsed once: URL parsing was a visible
    /// part of each request. `None` when the base does not parse; the request then reports why.
    responses_urls: [Option<reqwest::Url>; 2],
    limits: Arc<LimitStore>,
    usage: Arc<Usage>,
    models: tokio::sync::Mutex<Option<MemoryCatalog>>,
    /// The WebSocket transport's settings, or why it cannot be used (its TLS set-up failed).
    ws: Result<WsSettings, String>,
    /// A refused upgrade, remembered for a while.
    ws_refusal: Refusal,
    /// Upstream sockets per conversation, between turns.
    pub(crate) sockets: Arc<Pool<WsConn>>,
}

/// What rendering a request needs besides the request: its model's catalog entry, the turn's ids.
pub(crate) struct Renderer<'a> {
    model: Option<&'a ModelInfo>,
    ids: TurnIds,
    kind: render::RequestKind,
    slug: String,
    client_headers: Vec<(String, String)>,
}

impl Renderer<'_> {
    /// Renders for a socket opened ahead of any turn (its upgrade's turn metadata).
    pub(crate) fn prewarm(mut self) -> Self {
        self.kind = render::RequestKind::Prewarm;
        self
    }

    /// The conversation's session id.
    pub(crate) fn session(&self) -> &str {
        &self.ids.session
    }

    /// `req` rendered whole (`held: None`), or only the part after the `held` items its socket's
    /// backend already holds.
    pub(crate) fn prepare(
        &self,
        req: ResponsesRequest,
        held: Option<usize>,
    ) -> Result<Prepared, CodexError> {
        let rendered = render::render_as(req, self.model, &self.ids, self.kind, held)
            .map_err(|e| CodexError::Decode(e.to_string()))?;
        Ok(self.prepared(rendered))
    }

    /// [`Renderer::prepare`] of `req` with its first `held` items held by the socket's backend, from a
    /// copy of `req` without them.
    pub(crate) fn prepare_tail(
        &self,
        req: &ResponsesRequest,
        held: usize,
    ) -> Result<Prepared, CodexError> {
        let rendered = render::render_tail(
            req.clone_from_item(held),
            self.model,
            &self.ids,
            self.kind,
            held,
        )
        .map_err(|e| CodexError::Decode(e.to_string()))?;
        Ok(self.prepared(rendered))
    }

    fn prepared(&self, rendered: render::Rendered) -> Prepared {
        Prepared {
            plain: Bytes::from(rendered.body),
            layout: rendered.layout,
            ids: self.ids.clone(),
            slug: self.slug.clone(),
            turn_metadata: rendered.turn_metadata,
            lite: rendered.lite,
            client_headers: self.client_headers.clone(),
        }
    }
}

/// A Responses request rendered once, for whichever transport carries it.
pub(crate) struct Prepared {
    pub(crate) plain: Bytes,
    pub(crate) layout: render::FrameLayout,
    pub(crate) ids: TurnIds,
    pub(crate) slug: String,
    pub(crate) turn_metadata: String,
    pub(crate) lite: bool,
    pub(crate) client_headers: Vec<(String, String)>,
}

impl CodexClient {
    pub fn new(
        http: reqwest::Client,
        auth: Arc<AuthManager>,
        cfg: ClientConfig,
        installation_id: String,
    ) -> Self {
        let identity = Identity::new(&cfg.originator, &cfg.client_version);
        // Token requests carry the same originator and user agent, as the codex CLI's do.
        auth.use_identity(identity.clone());
        let router = Router::new(http.clone(), &chatgpt_base_url(&cfg));
        let responses_url =
            |mode| reqwest::Url::parse(&format!("{}/responses", base_url(&cfg, mode))).ok();
        let responses_urls = [
            responses_url(AuthMode::ChatGpt),
            responses_url(AuthMode::ApiKey),
        ];
        let limits = Arc::new(LimitStore::default());
        let usage = Arc::new(Usage::new(
            http.clone(),
            auth.clone(),
            &chatgpt_base_url(&cfg),
            identity.clone(),
            limits.clone(),
        ));
        let ws = ws::client_config(cfg.extra_ca.as_deref())
            .map(|tls| WsSettings {
                connect_timeout: cfg.connect_timeout,
                idle_timeout: cfg.idle_timeout,
                max_message_bytes: cfg.max_event_bytes,
                tls,
                limits: limits.clone(),
            })
            .map_err(|e| e.to_string());
        CodexClient {
            ws,
            ws_refusal: Refusal::default(),
            sockets: Pool::new(cfg.upstream_sockets),
            http,
            auth,
            cfg,
            identity,
            installation_id,
            router,
            sessions: Sessions::default(),
            responses_urls,
            limits,
            usage,
            models: tokio::sync::Mutex::new(None),
        }
    }

    pub fn auth(&self) -> &AuthManager {
        &self.auth
    }

    /// The newest rate-limit snapshot: from an answer's headers or stream, or from the usage endpoint.
    pub fn rate_limits(&self) -> Option<RateLimitSnapshot> {
        self.limits.get()
    }

    /// [`Self::rate_limits`], asking the usage endpoint first when nothing is known or what is known is
    /// over a minute old (and it was not asked in the last minute).
    pub async fn rate_limits_now(&self) -> Option<RateLimitSnapshot> {
        self.usage.refresh_if_stale().await;
        self.limits.get()
    }

    /// Asks the usage endpoint now, whatever was asked before (`doctor`).
    pub async fn fetch_usage(&self) -> Result<RateLimitSnapshot, CodexError> {
        self.usage.fetch().await
    }

    /// How many times the usage endpoint was asked.
    pub fn usage_polls(&self) -> u64 {
        self.usage.polls()
    }

    /// The usage endpoint's URL.
    pub fn usage_url(&self) -> &str {
        self.usage.url()
    }

    fn base_url(&self, mode: AuthMode) -> &str {
        base_url(&self.cfg, mode)
    }

    pub(crate) fn record_limits(&self, headers: &HeaderMap) -> Option<RateLimitSnapshot> {
        let snap = limits::from_headers(headers, unix_now())?;
        self.limits.offer(Instant::now(), snap.clone());
        Some(snap)
    }

    /// The client version presented to the backend, and where it came from.
    pub fn client_version(&self) -> (&str, &VersionSource) {
        (&self.cfg.client_version, &self.cfg.client_version_source)
    }

    /// Sends `req`, rendered in the shape its model's catalog entry asks for, and returns its event
    /// stream once the backend has answered 200. A model that needs a newer client than the one presented
    /// is refused here, with both versions named.
    pub async fn stream(&self, req: ResponsesRequest) -> Result<ResponseStream, CodexError> {
        self.stream_with(req, None).await
    }

    /// The codex CLI's prewarm: `req` sent with `generate: false` on its conversation's upstream socket,
    /// which the backend answers without generating; the socket then holds the request, and the next
    /// turn sends only what it adds. Does nothing off the WebSocket transport or with
    /// `--no-upstream-prewarm`.
    pub async fn prewarm(&self, req: ResponsesRequest) -> Result<(), CodexError> {
        if !self.cfg.upstream_prewarm {
            return Ok(());
        }
        let mut events = self.stream_with(req, Some(false)).await?;
        while let Some(ev) = events.next().await {
            if ev?.event.is_terminal() {
                break;
            }
        }
        Ok(())
    }

    async fn stream_with(
        &self,
        mut req: ResponsesRequest,
        generate: Option<bool>,
    ) -> Result<ResponseStream, CodexError> {
        // A login that cannot be used stops here, before the catalog would fall back to the built-in list
        // and hide why.
        let creds = self.auth.credentials().await?;
        let (catalog, _) = self.models_for(&creds).await;
        let model = catalog.iter().find(|m| m.slug == req.model);
        let bundled = bundled_unless_listed(model, &req.model);
        self.check_version(&req.model, model.or(bundled.as_ref()))?;
        let r = self.renderer(&mut req, model);
        if self.wants_websocket(model.or(bundled.as_ref())) {
            let lite = model.is_some_and(|m| m.use_responses_lite);
            match self.stream_pooled(req, &r, lite, generate, creds).await? {
                Ok(stream) => {
                    self.usage.on_request();
                    return Ok(stream);
                }
                // Refused, or every socket busy: HTTP + SSE.
                Err(back) => req = back,
            }
        }
        if generate == Some(false) {
            // A prewarm only means something on a socket.
            return Ok(ResponseStream::local(Vec::new()));
        }
        self.stream_http(&r.prepare(req, None)?).await
    }

    /// How `req` (for `model`, its catalog entry) is rendered: the ids of its conversation, now.
    pub(crate) fn renderer<'a>(
        &self,
        req: &mut ResponsesRequest,
        model: Option<&'a ModelInfo>,
    ) -> Renderer<'a> {
        let conversation = self.sessions.id_for(req.prompt_cache_key.as_deref());
        let ids = TurnIds::new(
            conversation.session,
            conversation.context_window,
            self.installation_id.clone(),
        );
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Renderer {
            model,
            ids,
            kind: render::RequestKind::Turn {
                started_at_ms: now_ms,
            },
            slug: req.model.clone(),
            client_headers: std::mem::take(&mut req.client_headers),
        }
    }

    /// Remembers that the backend refused the upgrade, for a while.
    pub(crate) fn refused(&self, e: &CodexError) {
        tracing::info!(error = %e, remember_s = ws::REFUSAL_MEMORY.as_secs(),
            "the Codex backend refused the WebSocket upgrade; using HTTP + SSE");
        self.ws_refusal.remember();
    }

    /// The upstream sockets open now (`status`).
    pub fn upstream_sockets(&self) -> PoolStats {
        self.sockets.stats()
    }

    /// Whether a request for the model of catalog entry `model` goes over the WebSocket: the configured
    /// transport, the entry's `prefer_websockets`, and no refusal remembered.
    pub(crate) fn wants_websocket(&self, model: Option<&ModelInfo>) -> bool {
        let prefer_websockets = model.and_then(|m| m.prefer_websockets).unwrap_or(true);
        self.cfg
            .upstream_transport
            .wants_websocket(prefer_websockets)
            && self.ws.is_ok()
            && !self.ws_refusal.active()
    }

    /// `{base}/responses` for this login, on the workspace's origin when it has one.
    pub(crate) fn responses_url(
        &self,
        creds: &Credentials,
        route: &Route,
    ) -> Result<reqwest::Url, CodexError> {
        let slot = match creds.mode() {
            AuthMode::ChatGpt => 0,
            AuthMode::ApiKey => 1,
        };
        let url = self.responses_urls[slot].clone().ok_or_else(|| {
            CodexError::Transport(format!(
                "the upstream URL {}/responses does not parse",
                self.base_url(creds.mode())
            ))
        })?;
        Ok(route
            .origin
            .as_deref()
            .and_then(|o| routing::on_origin(&url, o))
            .unwrap_or(url))
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub(crate) fn ws_settings(&self) -> Result<&WsSettings, CodexError> {
        self.ws.as_ref().map_err(|e| {
            CodexError::Transport(format!("the WebSocket transport cannot be used: {e}"))
        })
    }

    /// The transport Responses requests take now, for `status`: `websocket`, `http`, or `http` with the
    /// reason when a refusal is remembered.
    pub fn transport_status(&self) -> String {
        match (
            self.cfg.upstream_transport,
            self.ws_refusal.since(),
            &self.ws,
        ) {
            (UpstreamTransport::Http, _, _) => "http".into(),
            (_, _, Err(e)) => format!("http (WebSocket unusable: {e})"),
            (t, Some(ago), _) => format!(
                "http (WebSocket upgrade refused {}s ago; {t} tries again after {}s)",
                ago.as_secs(),
                ws::REFUSAL_MEMORY.saturating_sub(ago).as_secs()
            ),
            (UpstreamTransport::Auto, None, _) => {
                "auto (WebSocket where the catalog prefers it)".into()
            }
            (UpstreamTransport::WebSocket, None, _) => "websocket".into(),
        }
    }

    /// After a 401, as the codex CLI: re-read the login and retry (the same token once more, or one
    /// another process saved); after a second 401, refresh and retry.
    pub(crate) async fn recover_unauthorized(
        &self,
        step: u32,
        creds: &Credentials,
    ) -> Result<Credentials, CodexError> {
        tracing::info!(
            step,
            "the Codex backend answered 401; recovering the login and retrying"
        );
        Ok(if step == 1 {
            self.auth.reload_after_unauthorized(creds).await?
        } else {
            self.router.forget(creds).await;
            self.auth.after_unauthorized(creds).await?
        })
    }

    /// The account's workspace route (ChatGPT logins; none for an API key).
    pub(crate) async fn route(&self, creds: &Credentials) -> Route {
        match creds.mode() {
            AuthMode::ChatGpt => self.router.route(&self.identity, creds).await,
            AuthMode::ApiKey => Route::default(),
        }
    }
}

/// 200 ms × 2^(n−1), ±10 %, as the codex CLI does.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 200u64 * (1u64 << (attempt - 1).min(6));
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 % 21)
        .unwrap_or(10);
    Duration::from_millis(base * (90 + jitter) / 100)
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_jitters_within_ten_percent() {
        for n in 1..=4 {
            let d = backoff(n).as_millis() as u64;
            let base = 200 * (1 << (n - 1));
            assert!(d >= base * 9 / 10 && d <= base * 11 / 10, "{n}: {d}");
        }
    }
}
