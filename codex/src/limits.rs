//! The `x-codex-*` rate-limit headers the backend puts on every answer, as a snapshot.

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
    })
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
