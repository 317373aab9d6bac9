//! The login as auth.json holds it: parsing, when it is due for a refresh, and merging a token answer into
//! the file's JSON without touching any other field.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::refresh::Answer;
use super::Credentials;
use crate::jwt::{self, Claims};
use crate::secret::Secret;

/// The codex CLI 0.171 refreshes an access token that has expired or expires within this margin — and never
/// merely because `last_refresh` is old. Measured with the pinned binary: a token 296 s from expiry is
/// refreshed (`proactive_expiry`), one 304 s away is not, nor one with a `last_refresh` 11 days old.
pub(crate) const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

#[derive(Deserialize)]
struct FileView {
    #[serde(rename = "OPENAI_API_KEY")]
    api_key: Option<String>,
    auth_mode: Option<String>,
    tokens: Option<TokensView>,
    last_refresh: Option<String>,
}

#[derive(Deserialize)]
struct TokensView {
    id_token: Option<String>,
    access_token: String,
    refresh_token: String,
    account_id: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Login {
    ApiKey(Secret),
    ChatGpt {
        access: Secret,
        refresh: Secret,
        account_id: Option<String>,
        access_exp: Option<i64>,
        /// When the access token was issued: its lifetime bounds the margin.
        access_iat: Option<i64>,
        id_claims: Claims,
        last_refresh: Option<SystemTime>,
    },
}

impl Login {
    pub(crate) fn parse(raw: &[u8]) -> Result<Login, String> {
        let view: FileView = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        let key = view.api_key.filter(|k| !k.trim().is_empty());
        let wants_key = matches!(view.auth_mode.as_deref(), Some("apikey" | "api_key"));
        match (view.tokens, key) {
            (_, Some(key)) if wants_key => Ok(Login::ApiKey(Secret::new(key))),
            (Some(t), _) => {
                let id_claims = t
                    .id_token
                    .as_deref()
                    .and_then(jwt::claims)
                    .unwrap_or_default();
                let account_id = t
                    .account_id
                    .filter(|a| !a.is_empty())
                    .or_else(|| id_claims.openai.chatgpt_account_id.clone());
                let access_claims = jwt::claims(&t.access_token);
                let access_exp = access_claims.as_ref().and_then(|c| c.exp);
                let access_iat = access_claims.as_ref().and_then(|c| c.iat);
                let last_refresh = view
                    .last_refresh
                    .as_deref()
                    .and_then(|s| humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok());
                Ok(Login::ChatGpt {
                    access: Secret::new(t.access_token),
                    refresh: Secret::new(t.refresh_token),
                    account_id,
                    access_exp,
                    access_iat,
                    id_claims,
                    last_refresh,
                })
            }
            (None, Some(key)) => Ok(Login::ApiKey(Secret::new(key))),
            (None, None) => Err("it holds neither ChatGPT tokens nor an API key".into()),
        }
    }

    pub(crate) fn credentials(&self) -> Credentials {
        match self {
            Login::ApiKey(key) => Credentials::ApiKey(key.clone()),
            Login::ChatGpt {
                access, account_id, ..
            } => Credentials::ChatGpt {
                access_token: access.clone(),
                account_id: account_id.clone(),
            },
        }
    }

    /// Expired, or expiring within [`EXPIRY_MARGIN`] — or within half its lifetime, for a token that lives
    /// less than twice the margin: refreshing a token that short-lived at 5 minutes would bring another
    /// one already due, and every use would refresh. (Real access tokens live for days; only test
    /// backends hand out such tokens.) A token whose expiry cannot be read is used until the backend
    /// rejects it.
    pub(crate) fn needs_refresh(&self, now: SystemTime) -> bool {
        let Login::ChatGpt {
            access_exp: Some(exp),
            access_iat,
            ..
        } = self
        else {
            return false;
        };
        let mut margin = EXPIRY_MARGIN.as_secs() as i64;
        if let Some(iat) = access_iat.filter(|iat| iat < exp) {
            margin = margin.min((exp - iat) / 2);
        }
        exp - margin <= unix_secs(now)
    }

    pub(crate) fn expired(&self, now: SystemTime) -> bool {
        matches!(self, Login::ChatGpt { access_exp: Some(exp), .. } if *exp <= unix_secs(now))
    }

    pub(crate) fn access(&self) -> Option<&Secret> {
        match self {
            Login::ChatGpt { access, .. } => Some(access),
            Login::ApiKey(_) => None,
        }
    }

    pub(crate) fn refresh_token(&self) -> Option<&Secret> {
        match self {
            Login::ChatGpt { refresh, .. } => Some(refresh),
            Login::ApiKey(_) => None,
        }
    }
}

pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The file's JSON with the answer's tokens and a new `last_refresh`; every other field as it was.
pub(crate) fn with_answer(raw: &[u8], answer: &Answer) -> Result<Vec<u8>, String> {
    let mut doc: Map<String, Value> =
        serde_json::from_slice(raw).map_err(|e| format!("auth.json is not a JSON object: {e}"))?;
    let tokens = doc
        .entry("tokens")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(tokens) = tokens else {
        return Err("`tokens` in auth.json is not an object".into());
    };
    if let Some(id) = &answer.id_token {
        tokens.insert("id_token".into(), Value::String(id.clone()));
    }
    tokens.insert(
        "access_token".into(),
        Value::String(answer.access_token.clone()),
    );
    if let Some(rt) = &answer.refresh_token {
        tokens.insert("refresh_token".into(), Value::String(rt.clone()));
    }
    doc.insert(
        "last_refresh".into(),
        Value::String(humantime::format_rfc3339_micros(SystemTime::now()).to_string()),
    );
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_modes_and_falls_back_to_the_id_token_account() {
        let key = Login::parse(br#"{"OPENAI_API_KEY":"sk-x","tokens":null}"#).expect("key");
        assert!(matches!(key, Login::ApiKey(_)));

        let id = {
            use base64::Engine;
            let p = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"https://api.openai.com/auth":{"chatgpt_account_id":"acc-9"}}"#);
            format!("e30.{p}.s")
        };
        let raw = format!(
            r#"{{"OPENAI_API_KEY":null,"tokens":{{"id_token":"{id}","access_token":"a","refresh_token":"r"}}}}"#
        );
        match Login::parse(raw.as_bytes()).expect("chatgpt") {
            Login::ChatGpt { account_id, .. } => assert_eq!(account_id.as_deref(), Some("acc-9")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn torn_or_empty_files_do_not_parse() {
        assert!(Login::parse(b"").is_err());
        assert!(Login::parse(br#"{"tokens":{"access_tok"#).is_err());
        assert!(Login::parse(br#"{}"#).is_err());
    }

    #[test]
    fn refresh_is_due_when_expired_or_within_five_minutes_never_for_age() {
        let now = SystemTime::now();
        let mk = |exp: Option<i64>, age_days: u64| Login::ChatGpt {
            access: Secret::new("a"),
            refresh: Secret::new("r"),
            account_id: None,
            access_exp: exp,
            access_iat: None,
            id_claims: Claims::default(),
            last_refresh: Some(now - Duration::from_secs(age_days * 86400)),
        };
        let n = unix_secs(now);
        assert!(!mk(Some(n + 3600), 1).needs_refresh(now));
        assert!(!mk(Some(n + 310), 1).needs_refresh(now));
        assert!(mk(Some(n + 290), 1).needs_refresh(now));
        assert!(mk(Some(n - 1), 1).needs_refresh(now));
        assert!(!mk(Some(n + 3600), 30).needs_refresh(now));
        assert!(!mk(None, 30).needs_refresh(now));
    }

    #[test]
    fn a_token_shorter_lived_than_twice_the_margin_is_refreshed_at_half_its_life() {
        let now = SystemTime::now();
        let n = unix_secs(now);
        let mk = |iat: i64, exp: i64| Login::ChatGpt {
            access: Secret::new("a"),
            refresh: Secret::new("r"),
            account_id: None,
            access_exp: Some(exp),
            access_iat: Some(iat),
            id_claims: Claims::default(),
            last_refresh: None,
        };
        // Two minutes of life, just issued: due in a minute, not at once.
        assert!(!mk(n, n + 120).needs_refresh(now));
        assert!(mk(n - 61, n + 59).needs_refresh(now));
        // A day-long token keeps the CLI's 5 minutes.
        assert!(mk(n - 86_000, n + 290).needs_refresh(now));
        assert!(!mk(n - 86_000, n + 310).needs_refresh(now));
    }

    #[test]
    fn an_answer_changes_only_the_tokens_and_last_refresh() {
        let raw = br#"{"auth_mode":"chatgpt","tokens":{"id_token":"i","access_token":"a","refresh_token":"r","account_id":"acc"},"last_refresh":"2020-01-01T00:00:00Z","future_field":{"x":[1,2]}}"#;
        let answer = Answer {
            id_token: None,
            access_token: "a2".into(),
            refresh_token: Some("r2".into()),
        };
        let out: Value =
            serde_json::from_slice(&with_answer(raw, &answer).expect("merge")).expect("json");
        assert_eq!(out["tokens"]["access_token"], "a2");
        assert_eq!(out["tokens"]["refresh_token"], "r2");
        assert_eq!(out["tokens"]["id_token"], "i");
        assert_eq!(out["tokens"]["account_id"], "acc");
        assert_eq!(out["future_field"], serde_json::json!({"x": [1, 2]}));
        assert_ne!(out["last_refresh"], "2020-01-01T00:00:00Z");
        assert!(with_answer(b"[1]", &answer).is_err());
    }
}
