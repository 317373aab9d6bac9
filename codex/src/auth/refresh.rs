//! The token request, as the codex CLI 0.171 sends it (seen on the wire): `POST {token_url}` with the JSON
//! body `{client_id, grant_type, refresh_reason, refresh_token}` in that order, and the headers of
//! `headers::for_token` (`content-type: application/json`, `originator`, `user-agent`, `accept: */*`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::CODEX_CLIENT_ID;
use crate::headers::Identity;
use crate::secret::Secret;

/// The longest wait for the token endpoint's answer.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a refresh is made; the CLI sends it as `refresh_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// The access token has expired or expires within the margin.
    ProactiveExpiry,
    /// The backend answered 401 to the current access token.
    UnauthorizedRecovery,
}

#[derive(Serialize)]
struct Body<'a> {
    client_id: &'static str,
    grant_type: &'static str,
    refresh_reason: Reason,
    refresh_token: &'a str,
}

/// A successful answer: new tokens (the refresh token usually rotates).
#[derive(Deserialize)]
pub(crate) struct Answer {
    pub(crate) id_token: Option<String>,
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The token endpoint refused this refresh token (a 4xx: reused, expired, revoked…), with its code.
    Refused { code: String },
    /// No usable answer. `maybe_spent` when the request reached the endpoint and may have used the token
    /// (no answer in time, a cut answer, an unreadable success); not after a refused connection or an
    /// explicit server error.
    Unavailable { reason: String, maybe_spent: bool },
}

impl Failure {
    pub(crate) fn is_reuse(&self) -> bool {
        matches!(self, Failure::Refused { code } if code == "refresh_token_reused")
    }
}

/// Sends one refresh request for `refresh_token`.
pub(crate) async fn send(
    http: &reqwest::Client,
    url: &str,
    identity: Option<&Identity>,
    refresh_token: &Secret,
    reason: Reason,
) -> Result<Answer, Failure> {
    let body = Body {
        client_id: CODEX_CLIENT_ID,
        grant_type: "refresh_token",
        refresh_reason: reason,
        refresh_token: refresh_token.expose(),
    };
    let mut rb = http.post(url).timeout(TOKEN_TIMEOUT);
    rb = match identity {
        // As the CLI: the user agent of its early refresh has no `(originator; version)` suffix, the one
        // after a 401 has it.
        Some(id) => rb.headers(crate::headers::for_token(
            id,
            reason == Reason::UnauthorizedRecovery,
        )),
        None => rb
            .header("content-type", "application/json")
            .header("accept", "*/*"),
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| Failure::Unavailable {
        reason: e.to_string(),
        maybe_spent: false,
    })?;
    let resp = rb
        .body(bytes)
        .send()
        .await
        .map_err(|e| Failure::Unavailable {
            maybe_spent: !e.is_connect(),
            reason: redacted_transport(&e),
        })?;
    let status = resp.status();
    // reqwest undoes the `zstd` or `gzip` the request offers (as the CLI's does), so this is the plain
    // answer; it is read within a bound, since a compressed answer could unpack to anything.
    let bytes = read_bounded(resp)
        .await
        .map_err(|reason| Failure::Unavailable {
            reason,
            maybe_spent: status.is_success(),
        })?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| Failure::Unavailable {
            reason: format!("unreadable token answer: {e}"),
            maybe_spent: true,
        });
    }
    let code = oauth_error_code(&bytes).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(Failure::Refused { code })
    } else {
        Err(Failure::Unavailable {
            reason: code,
            maybe_spent: false,
        })
    }
}

/// A token answer is a few KiB; anything decoding to more is not one.
const MAX_ANSWER: usize = 1 << 20;

/// The answer's body, at most [`MAX_ANSWER`] bytes once decoded.
async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| redacted_transport(&e))? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("token answer larger than {MAX_ANSWER} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// reqwest errors carry the URL but never the body; still, strip the query just in case.
fn redacted_transport(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find('?') {
        e.truncate(i);
    }
    e
}

/// The error code of a token endpoint answer: `{"error":{"code":..}}`, `{"error":"invalid_grant"}` or
/// `{"code":..}`.
fn oauth_error_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let pick = |v: &Value| v.as_str().map(str::to_owned);
    match v.get("error") {
        Some(Value::Object(e)) => e
            .get("code")
            .and_then(pick)
            .or_else(|| e.get("type").and_then(pick)),
        Some(Value::String(s)) => Some(s.clone()),
        _ => v.get("code").and_then(pick),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_clis_keys_in_its_order() {
        let body = Body {
            client_id: CODEX_CLIENT_ID,
            grant_type: "refresh_token",
            refresh_reason: Reason::UnauthorizedRecovery,
            refresh_token: "rt",
        };
        assert_eq!(
            serde_json::to_string(&body).expect("json"),
            r#"{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"unauthorized_recovery","refresh_token":"rt"}"#
        );
    }

    #[test]
    fn oauth_error_codes_in_every_shape() {
        assert_eq!(
            oauth_error_code(br#"{"error":{"code":"refresh_token_reused"}}"#).as_deref(),
            Some("refresh_token_reused")
        );
        assert_eq!(
            oauth_error_code(br#"{"error":"invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(oauth_error_code(b"<html>").as_deref(), None);
    }
}
