//! `POST /oauth/token`: single-use refresh tokens that rotate on every refresh, and the scenarios the login
//! tests need — a delayed answer, short-lived access tokens — with a log of every token request (headers,
//! body, and what it was answered) so that a test can count refreshes and `refresh_token_reused` answers.
//!
//! A refresh token is spent the moment its request arrives, as on a real token service; only the answer
//! waits for the scenario's delay. Two clients racing with one token therefore see one success and one
//! `refresh_token_reused`, whichever answer arrives first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::server::json_response;
use crate::{MockCodex, Shared, TokenReply};

/// How the token endpoint behaves; see [`MockCodex::set_token_scenario`].
#[derive(Clone, Debug)]
pub struct TokenScenario {
    /// How long each answer waits after its request arrived (the refresh token is spent at once).
    pub delay: Duration,
    /// Lifetime of the access tokens a refresh hands out, in seconds.
    pub access_lifetime_secs: i64,
}

impl Default for TokenScenario {
    fn default() -> Self {
        TokenScenario {
            // Long enough that racing refreshers overlap in tests.
            delay: Duration::from_millis(50),
            access_lifetime_secs: 3600,
        }
    }
}

/// What one token request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenOutcome {
    /// 200 with new tokens; the refresh token sent is spent.
    Refreshed,
    /// 401 `refresh_token_reused`: the refresh token was spent before.
    Reused,
    /// 401 `refresh_token_invalidated`: a refresh token the mock never issued.
    Unknown,
    /// A reply queued with [`MockCodex::push_token_reply`], with its status.
    Scripted(u16),
    /// 400: not a refresh-token grant, or no token in it.
    BadRequest,
}

/// One `POST /oauth/token` as received, with its answer.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    /// The JSON body (a form body turned into an object; the raw text when neither parses).
    pub body: Value,
    pub outcome: TokenOutcome,
    /// The refresh token handed out in the answer, if it was a success.
    pub issued: Option<String>,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl TokenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The refresh token the request carried.
    pub fn refresh_token(&self) -> Option<&str> {
        self.body.get("refresh_token").and_then(Value::as_str)
    }
}

/// Counts over the token log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenStats {
    pub requests: usize,
    pub refreshed: usize,
    pub reused: usize,
    /// Every other answer that was not a success.
    pub failed: usize,
}

/// The token endpoint's part of the mock's state.
#[derive(Default)]
pub(crate) struct TokenState {
    scenario: TokenScenario,
    log: Vec<TokenRequest>,
    /// The newest refresh token minted per account: the one a healthy login holds.
    latest: HashMap<String, String>,
}

impl TokenState {
    /// Called for every minted token pair.
    pub(crate) fn minted(&mut self, account_id: &str, refresh_token: &str) {
        self.latest
            .insert(account_id.to_owned(), refresh_token.to_owned());
    }
}

impl MockCodex {
    /// Change how the token endpoint answers from now on.
    pub fn set_token_scenario(&self, scenario: TokenScenario) {
        self.shared.state().tokens.scenario = scenario;
    }

    /// Every token request with its headers and answer, in the order they arrived.
    pub fn token_log(&self) -> Vec<TokenRequest> {
        self.shared.state().tokens.log.clone()
    }

    pub fn token_stats(&self) -> TokenStats {
        let state = self.shared.state();
        let mut stats = TokenStats::default();
        for entry in &state.tokens.log {
            stats.requests += 1;
            match entry.outcome {
                TokenOutcome::Refreshed => stats.refreshed += 1,
                TokenOutcome::Reused => stats.reused += 1,
                _ => stats.failed += 1,
            }
        }
        stats
    }

    /// The newest refresh token minted for `account_id` (by a refresh or [`MockCodex::issue_tokens`]).
    pub fn current_refresh_token(&self, account_id: &str) -> Option<String> {
        self.shared.state().tokens.latest.get(account_id).cloned()
    }

    /// Whether `refresh_token` was issued and not spent yet: a login holding it can still be renewed.
    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        self.shared
            .state()
            .refresh
            .get(refresh_token)
            .is_some_and(|grant| !grant.used)
    }
}

/// A JSON body, or a form-encoded one turned into a JSON object.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")) {
        return serde_json::from_slice(body).ok();
    }
    let uri: Uri = format!("/?{}", std::str::from_utf8(body).ok()?)
        .parse()
        .ok()?;
    let Query(form) = Query::<BTreeMap<String, String>>::try_from_uri(&uri).ok()?;
    serde_json::to_value(form).ok()
}

fn oauth_error(code: &str, message: &str) -> (u16, Value) {
    let body =
        json!({"error": {"message": message, "type": "invalid_request_error", "code": code}});
    (401, body)
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&headers, &body);
    let recorded = request
        .clone()
        .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let (status, answer, delay) = {
        let mut state = shared.state();
        state.token_requests.push(recorded.clone());
        let queued = state.token_replies.pop_front();
        let delay = state.tokens.scenario.delay;
        let lifetime = state.tokens.scenario.access_lifetime_secs;
        let (outcome, status, answer) = match queued {
            Some(TokenReply::Status { status, body }) => {
                (TokenOutcome::Scripted(status), status, body)
            }
            Some(TokenReply::Ok) | None => answer(&mut state, request.as_ref(), lifetime),
        };
        let entry = TokenRequest {
            headers: headers
                .iter()
                .map(|(n, v)| {
                    let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (n.as_str().to_owned(), value)
                })
                .collect(),
            body: recorded,
            outcome,
            issued: answer
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|_| outcome == TokenOutcome::Refreshed)
                .map(str::to_owned),
            at: std::time::Instant::now(),
        };
        state.tokens.log.push(entry);
        (status, answer, delay)
    };
    tokio::time::sleep(delay).await;
    json_response(status, &answer)
}

/// Decides (and applies, spending the token) the answer to a refresh-token grant.
fn answer(
    state: &mut crate::State,
    request: Option<&Value>,
    lifetime: i64,
) -> (TokenOutcome, u16, Value) {
    let bad = |error: &str| (TokenOutcome::BadRequest, 400, json!({ "error": error }));
    let Some(request) = request else {
        return bad("invalid_request");
    };
    if request.get("grant_type").and_then(Value::as_str) != Some("refresh_token") {
        return bad("unsupported_grant_type");
    }
    let Some(refresh_token) = request.get("refresh_token").and_then(Value::as_str) else {
        return bad("invalid_request");
    };
    let account_id = match state.refresh.get_mut(refresh_token) {
        None => {
            let message = "Your refresh token has been invalidated. Please try signing in again.";
            let (status, body) = oauth_error("refresh_token_invalidated", message);
            return (TokenOutcome::Unknown, status, body);
        }
        Some(grant) if grant.used => {
            let message = "Your refresh token has already been used to generate a new access \
                           token. Please try signing in again.";
            let (status, body) = oauth_error("refresh_token_reused", message);
            return (TokenOutcome::Reused, status, body);
        }
        Some(grant) => {
            grant.used = true;
            grant.account_id.clone()
        }
    };
    let tokens = state.mint(&account_id, lifetime);
    (TokenOutcome::Refreshed, 200, json!(tokens))
}
