//! The `x-codex-*` rate-limit headers the backend puts on every answer, as a snapshot.

use http::HeaderMap;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RateLimitWindow {
    pub used_percent: f64,
    pub window_minutes: Option<u64>,
    /// Unix seconds.
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
}
