//! Reading claims out of the id and access tokens. Signatures are not verified: the tokens come from our own
//! credential file and we only use them to schedule refreshes and to show who is logged in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// The claims codex-serve cares about. Everything is optional: a token we cannot read is treated as
/// "expiry unknown", never as an error that blocks a request.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Claims {
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub email: Option<String>,
    #[serde(rename = "https://api.openai.com/auth", default)]
    pub openai: OpenAiClaims,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpenAiClaims {
    pub chatgpt_account_id: Option<String>,
    pub chatgpt_plan_type: Option<String>,
}

/// Decodes the payload of a JWT; `None` when it is not a JWT we can read.
pub fn claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    // Some issuers pad; the URL-safe engine without padding rejects '=' so strip it first.
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn reads_exp_and_account_claims() {
        let t = make(
            r#"{"exp":1700000000,"email":"a@b.c","https://api.openai.com/auth":{"chatgpt_account_id":"acc-1","chatgpt_plan_type":"pro"}}"#,
        );
        let c = claims(&t).expect("claims");
        assert_eq!(c.exp, Some(1_700_000_000));
        assert_eq!(c.email.as_deref(), Some("a@b.c"));
        assert_eq!(c.openai.chatgpt_account_id.as_deref(), Some("acc-1"));
        assert_eq!(c.openai.chatgpt_plan_type.as_deref(), Some("pro"));
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert!(claims("not a jwt").is_none());
        assert!(claims("a.!!!.c").is_none());
        assert!(claims(&make("[1,2]")).is_none());
    }
}
