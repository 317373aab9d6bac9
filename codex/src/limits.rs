//! Rate limits as one snapshot, from three sources: the `x-codex-*` headers on every answer, the
//! `codex.rate_limits` stream event, and the usage endpoint (`usage.rs`). The newest one wins.

use std::sync::RwLock;
use std::time::Instant;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimitSnapshot {
    /// The short window (5 hours on ChatGPT plans).
    pub primary: Option<RateLimitWindow>,
    /// The weekly window.
    pub secondary: Option<RateLimitWindow>,
    pub credits: Option<Credits>,
    /// Which limit family was hit, on a 429.
    pub active_limit: Option<String>,
    /// Unix seconds when the snapshot was taken.
    pub captured_at: i64,
    /// The ChatGPT plan, when the source says it.
    #[serde(default)]
    pub plan_type: Option<String>,
    /// Where it came from: `headers`, `event` or `usage`.
    #[serde(default)]
    pub source: Option<String>,
}

/// The latest snapshot, ordered by when each was observed: a usage answer that was asked for before an
/// answer's headers arrived does not overwrite them.
#[derive(Debug, Default)]
pub struct LimitStore {
    latest: RwLock<Option<(Instant, RateLimitSnapshot)>>,
}

impl LimitStore {
    pub fn get(&self) -> Option<RateLimitSnapshot> {
        let held = self.latest.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().map(|(_, s)| s.clone())
    }

    /// When the held snapshot was observed.
    pub fn observed(&self) -> Option<Instant> {
        let held = self.latest.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().map(|(at, _)| *at)
    }

    /// Keeps `snap` if it is at least as new as the held one. What it does not say (credits on an answer
    /// without credit headers, the plan) is kept from the older one; the active limit is not, as it only
    /// holds for the answer that named it.
    pub fn offer(&self, at: Instant, mut snap: RateLimitSnapshot) {
        let mut held = self.latest.write().unwrap_or_else(|p| p.into_inner());
        if let Some((old_at, old)) = held.as_ref() {
            if at < *old_at {
                return;
            }
            snap.primary = snap.primary.or_else(|| old.primary.clone());
            snap.secondary = snap.secondary.or_else(|| old.secondary.clone());
            snap.credits = snap.credits.or_else(|| old.credits.clone());
            snap.plan_type = snap.plan_type.or_else(|| old.plan_type.clone());
        }
        *held = Some((at, snap));
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimitWindow {
    pub used_percent: f64,
    pub window_minutes: Option<u64>,
    /// Unix seconds.
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub has_credits: Option<bool>,
    pub unlimited: Option<bool>,
    pub balance: Option<String>,
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The header names of one window, spelled out: this runs on every answer, and building the names with
/// `format!` was most of its cost.
struct WindowHeaders {
    used_percent: &'static str,
    window_minutes: &'static str,
    reset_at: &'static str,
    reset_after_seconds: &'static str,
}

const PRIMARY: WindowHeaders = WindowHeaders {
    used_percent: "x-codex-primary-used-percent",
    window_minutes: "x-codex-primary-window-minutes",
    reset_at: "x-codex-primary-reset-at",
    reset_after_seconds: "x-codex-primary-reset-after-seconds",
};

const SECONDARY: WindowHeaders = WindowHeaders {
    used_percent: "x-codex-secondary-used-percent",
    window_minutes: "x-codex-secondary-window-minutes",
    reset_at: "x-codex-secondary-reset-at",
    reset_after_seconds: "x-codex-secondary-reset-after-seconds",
};

fn window(h: &HeaderMap, names: &WindowHeaders, now: i64) -> Option<RateLimitWindow> {
    let used_percent = get(h, names.used_percent)?.parse().ok()?;
    let window_minutes = get(h, names.window_minutes).and_then(|v| v.parse().ok());
    let resets_at = get(h, names.reset_at)
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            get(h, names.reset_after_seconds)
                .and_then(|v| v.parse::<i64>().ok())
                .map(|secs| now + secs)
        });
    Some(RateLimitWindow {
        used_percent,
        window_minutes,
        resets_at,
    })
}

/// `rate_limits` of a `codex.rate_limits` stream event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventLimits {
    #[serde(default)]
    pub limit_reached: Option<bool>,
    #[serde(default)]
    pub primary: Option<EventWindow>,
    #[serde(default)]
    pub secondary: Option<EventWindow>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventWindow {
    #[serde(default)]
    pub used_percent: Option<f64>,
    #[serde(default)]
    pub window_minutes: Option<u64>,
    #[serde(default)]
    pub reset_at: Option<i64>,
    #[serde(default)]
    pub reset_after_seconds: Option<i64>,
}

impl EventWindow {
    fn window(&self, now: i64) -> Option<RateLimitWindow> {
        Some(RateLimitWindow {
            used_percent: self.used_percent?,
            window_minutes: self.window_minutes,
            resets_at: self.reset_at.or(self.reset_after_seconds.map(|s| now + s)),
        })
    }
}

/// A snapshot from a `codex.rate_limits` event; `None` when it names no window.
pub fn from_event(limits: &EventLimits, now: i64) -> Option<RateLimitSnapshot> {
    let primary = limits.primary.as_ref().and_then(|w| w.window(now));
    let secondary = limits.secondary.as_ref().and_then(|w| w.window(now));
    if primary.is_none() && secondary.is_none() {
        return None;
    }
    Some(RateLimitSnapshot {
        primary,
        secondary,
        credits: None,
        active_limit: None,
        captured_at: now,
        plan_type: None,
        source: Some("event".into()),
    })
}

/// The limit that ran out, for people: the display name the backend gives a limit id
/// (`x-codex-<id>-limit-name`) when it sends one, and which window is used up.
pub fn describe_active(h: &HeaderMap, snap: Option<&RateLimitSnapshot>) -> Option<String> {
    let id = get(h, "x-codex-active-limit").filter(|v| !v.is_empty())?;
    let pool = id.strip_prefix("codex_").unwrap_or(id);
    let name = get(h, &format!("x-codex-{pool}-limit-name"))
        .filter(|v| !v.is_empty())
        .unwrap_or(id);
    let full = |w: &Option<RateLimitWindow>| w.as_ref().is_some_and(|w| w.used_percent >= 100.0);
    let window = match snap {
        Some(s) if full(&s.secondary) => " (its weekly window is used up)",
        Some(s) if full(&s.primary) => " (its 5-hour window is used up)",
        _ => "",
    };
    Some(format!("`{name}`{window}"))
}

/// A snapshot from response headers; `None` when the answer carries none.
pub fn from_headers(h: &HeaderMap, now: i64) -> Option<RateLimitSnapshot> {
    let primary = window(h, &PRIMARY, now);
    let secondary = window(h, &SECONDARY, now);
    let flag = |name: &str| get(h, name).map(|v| v.eq_ignore_ascii_case("true"));
    let credits = Credits {
        has_credits: flag("x-codex-credits-has-credits"),
        unlimited: flag("x-codex-credits-unlimited"),
        balance: get(h, "x-codex-credits-balance").map(str::to_owned),
    };
    let credits = (credits != Credits::default()).then_some(credits);
    if primary.is_none() && secondary.is_none() && credits.is_none() {
        return None;
    }
    Some(RateLimitSnapshot {
        primary,
        secondary,
        credits,
        active_limit: get(h, "x-codex-active-limit").map(str::to_owned),
        captured_at: now,
        plan_type: get(h, "x-codex-plan-type").map(str::to_owned),
        source: Some("headers".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_windows_and_old_relative_resets() {
        let mut h = HeaderMap::new();
        h.insert("x-codex-primary-used-percent", "12.5".parse().expect("hv"));
        h.insert("x-codex-primary-window-minutes", "300".parse().expect("hv"));
        h.insert(
            "x-codex-primary-reset-at",
            "1704069000".parse().expect("hv"),
        );
        h.insert("x-codex-secondary-used-percent", "40".parse().expect("hv"));
        h.insert(
            "x-codex-secondary-reset-after-seconds",
            "60".parse().expect("hv"),
        );
        let s = from_headers(&h, 1000).expect("snapshot");
        let p = s.primary.expect("primary");
        assert_eq!(
            (p.used_percent, p.window_minutes, p.resets_at),
            (12.5, Some(300), Some(1_704_069_000))
        );
        assert_eq!(s.secondary.expect("secondary").resets_at, Some(1060));
        assert!(from_headers(&HeaderMap::new(), 0).is_none());
    }

    #[test]
    fn the_newest_snapshot_wins_and_keeps_what_it_does_not_say() {
        let store = LimitStore::default();
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(5);
        let window = |p| {
            Some(RateLimitWindow {
                used_percent: p,
                ..RateLimitWindow::default()
            })
        };
        let usage = RateLimitSnapshot {
            primary: window(20.0),
            credits: Some(Credits {
                balance: Some("3".into()),
                ..Credits::default()
            }),
            source: Some("usage".into()),
            ..RateLimitSnapshot::default()
        };
        let headers = RateLimitSnapshot {
            primary: window(12.5),
            active_limit: Some("codex".into()),
            source: Some("headers".into()),
            ..RateLimitSnapshot::default()
        };
        store.offer(t1, headers.clone());
        // Asked before the headers arrived: older, so it changes nothing.
        store.offer(t0, usage.clone());
        assert_eq!(store.get(), Some(headers));
        store.offer(t1 + std::time::Duration::from_millis(1), usage.clone());
        let now = store.get().expect("held");
        assert_eq!(now.primary, window(20.0));
        assert_eq!(now.active_limit, None);
        let later = RateLimitSnapshot {
            secondary: window(50.0),
            ..RateLimitSnapshot::default()
        };
        store.offer(Instant::now() + std::time::Duration::from_secs(1), later);
        let now = store.get().expect("held");
        assert_eq!(now.primary, window(20.0));
        assert_eq!(now.credits.and_then(|c| c.balance).as_deref(), Some("3"));
    }

    #[test]
    fn reads_the_stream_event() {
        let e: EventLimits = serde_json::from_str(
            r#"{"allowed":true,"limit_reached":false,"primary":{"used_percent":7,"window_minutes":300,"reset_after_seconds":100},"secondary":{"used_percent":29,"window_minutes":10080,"reset_at":5000}}"#,
        )
        .expect("event");
        let s = from_event(&e, 10).expect("snapshot");
        assert_eq!(s.primary.expect("primary").resets_at, Some(110));
        assert_eq!(s.secondary.expect("secondary").used_percent, 29.0);
    }
}
