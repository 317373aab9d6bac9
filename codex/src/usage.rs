//! The usage endpoint, `GET {chatgpt_base_url}wham/usage` (`{base}api/codex/usage` for a base outside
//! `/backend-api`, as the codex CLI does): the rate limits and credits of a ChatGPT login without spending
//! a request. Asked at most once a minute: when a request starts and the last ask is a minute old, and on
//! demand when nothing is known yet. Never while idle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::auth::{AuthManager, AuthMode};
use crate::client::unix_now;
use crate::error::CodexError;
use crate::error::{error_from_response, transport_message};
use crate::headers::{self, Call, Identity};
use crate::limits::{Credits, LimitStore, RateLimitSnapshot, RateLimitWindow};

/// The least time between two asks.
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 256 * 1024;

/// The answer's shape (codex-rs `RateLimitStatusPayload`). Everything is optional here: a field the
/// backend drops must not cost the rest.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    plan_type: Option<String>,
    #[serde(default)]
    rate_limit: Option<Details>,
    #[serde(default)]
    credits: Option<CreditDetails>,
}

#[derive(Debug, Deserialize)]
struct Details {
    #[serde(default)]
    primary_window: Option<Window>,
    #[serde(default)]
    secondary_window: Option<Window>,
}

#[derive(Debug, Deserialize)]
struct Window {
    used_percent: f64,
    #[serde(default)]
    limit_window_seconds: Option<u64>,
    #[serde(default)]
    reset_after_seconds: Option<i64>,
    #[serde(default)]
    reset_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CreditDetails {
    #[serde(default)]
    has_credits: Option<bool>,
    #[serde(default)]
    unlimited: Option<bool>,
    #[serde(default)]
    balance: Option<String>,
}

impl Window {
    fn window(&self, now: i64) -> RateLimitWindow {
        RateLimitWindow {
            used_percent: self.used_percent,
            window_minutes: self.limit_window_seconds.map(|s| s / 60),
            resets_at: self.reset_at.or(self.reset_after_seconds.map(|s| now + s)),
        }
    }
}

fn snapshot(p: Payload, now: i64) -> RateLimitSnapshot {
    let (primary, secondary) = match &p.rate_limit {
        Some(d) => (
            d.primary_window.as_ref().map(|w| w.window(now)),
            d.secondary_window.as_ref().map(|w| w.window(now)),
        ),
        None => (None, None),
    };
    RateLimitSnapshot {
        primary,
        secondary,
        credits: p.credits.map(|c| Credits {
            has_credits: c.has_credits,
            unlimited: c.unlimited,
            balance: c.balance,
        }),
        active_limit: None,
        captured_at: now,
        plan_type: p.plan_type,
        source: Some("usage".into()),
    }
}

/// `{base}wham/usage` or `{base}api/codex/usage`.
pub fn usage_url(chatgpt_base_url: &str) -> String {
    let base = chatgpt_base_url.trim_end_matches('/');
    if base.contains("/backend-api") {
        format!("{base}/wham/usage")
    } else {
        format!("{base}/api/codex/usage")
    }
}

pub(crate) struct Usage {
    http: reqwest::Client,
    auth: Arc<AuthManager>,
    identity: Identity,
    url: String,
    store: Arc<LimitStore>,
    /// When the endpoint was last asked (or an ask began).
    last_ask: Mutex<Option<Instant>>,
    polls: AtomicU64,
}

impl Usage {
    pub(crate) fn new(
        http: reqwest::Client,
        auth: Arc<AuthManager>,
        chatgpt_base_url: &str,
        identity: Identity,
        store: Arc<LimitStore>,
    ) -> Usage {
        Usage {
            http,
            auth,
            url: usage_url(chatgpt_base_url),
            identity,
            store,
            last_ask: Mutex::new(None),
            polls: AtomicU64::new(0),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Claims the next ask if the last one is at least a minute old; one caller wins.
    fn claim(&self) -> bool {
        let mut last = self.last_ask.lock().unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= POLL_INTERVAL);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// A request is starting: ask in the background if the last ask is a minute old.
    pub(crate) fn on_request(self: &Arc<Self>) {
        if !self.claim() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.ask().await {
                tracing::debug!(error = %e, "the usage endpoint could not be asked");
            }
        });
    }

    /// Asks now, and waits, when nothing is known or it is over a minute old, unless it was asked in the
    /// last minute.
    pub(crate) async fn refresh_if_stale(&self) {
        let fresh = self
            .store
            .observed()
            .is_some_and(|t| t.elapsed() < POLL_INTERVAL);
        if fresh || !self.claim() {
            return;
        }
        if let Err(e) = self.ask().await {
            tracing::debug!(error = %e, "the usage endpoint could not be asked");
        }
    }

    /// Asks regardless of the last ask.
    pub(crate) async fn fetch(&self) -> Result<RateLimitSnapshot, CodexError> {
        *self.last_ask.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.ask().await
    }

    async fn ask(&self) -> Result<RateLimitSnapshot, CodexError> {
        let creds = self.auth.credentials().await?;
        if creds.mode() == AuthMode::ApiKey {
            return Err(CodexError::Rejected {
                status: 400,
                message: "an API key has no ChatGPT usage limits".into(),
                code: None,
            });
        }
        self.polls.fetch_add(1, Ordering::Relaxed);
        // The time it was asked orders it against the answers' headers: anything seen after this moment
        // is at least as new.
        let asked = Instant::now();
        // The catalog call's identity headers; a plain JSON answer on a connection of its own, as it is
        // asked once a minute at most and not worth an idle connection kept in the pool.
        let mut h = headers::for_call(Call::Models, &self.identity, &creds);
        h.remove(http::header::ACCEPT_ENCODING);
        h.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        h.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        let rb = self.http.get(&self.url).headers(h).timeout(TIMEOUT);
        let resp = rb
            .send()
            .await
            .map_err(|e| CodexError::Transport(transport_message(&e)))?;
        if !resp.status().is_success() {
            return Err(error_from_response(resp).await);
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| CodexError::Transport(transport_message(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CodexError::Decode("the usage answer is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let payload: Payload = serde_json::from_slice(&body)
            .map_err(|e| CodexError::Decode(format!("the usage answer: {e}")))?;
        let snap = snapshot(payload, unix_now());
        self.store.offer(asked, snap.clone());
        tracing::debug!(url = %self.url, "rate limits from the usage endpoint");
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usage_answer() {
        let p: Payload = serde_json::from_str(
            r#"{"plan_type":"plus","rate_limit":{"allowed":true,"limit_reached":false,
                "primary_window":{"used_percent":20,"limit_window_seconds":18000,"reset_after_seconds":100,"reset_at":5000},
                "secondary_window":{"used_percent":45,"limit_window_seconds":604800,"reset_after_seconds":7}},
                "credits":{"has_credits":true,"unlimited":false,"balance":"12.5"}}"#,
        )
        .expect("payload");
        let s = snapshot(p, 1000);
        let primary = s.primary.expect("primary");
        assert_eq!(
            (
                primary.used_percent,
                primary.window_minutes,
                primary.resets_at
            ),
            (20.0, Some(300), Some(5000))
        );
        assert_eq!(s.secondary.expect("secondary").resets_at, Some(1007));
        assert_eq!(s.credits.expect("credits").balance.as_deref(), Some("12.5"));
        assert_eq!(s.plan_type.as_deref(), Some("plus"));
        let bare: Payload = serde_json::from_str(r#"{"plan_type":"free"}"#).expect("bare");
        assert!(snapshot(bare, 0).primary.is_none());
    }

    #[test]
    fn the_path_follows_the_base() {
        assert_eq!(
            usage_url("https://chatgpt.com/backend-api/"),
            "https://chatgpt.com/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("http://127.0.0.1:9/"),
            "http://127.0.0.1:9/api/codex/usage"
        );
    }
}
