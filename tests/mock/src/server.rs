//! The backend endpoints: `POST /responses`, `POST /oauth/token`; the router of both listeners.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures_util::StreamExt as _;
use serde_json::{json, Value};

use crate::events::{self, split_chars, split_words, DEFAULT_MODEL};
use crate::{control, log, models, now_secs, Chunk, RecordedRequest, Reply, Shared};

/// The backend's routes, at the root (as codex-serve's tests use them) and under `/backend-api/codex`
/// and `/backend-api/` (as the codex CLI calls them with `openai_base_url` and `chatgpt_base_url` moved
/// to the mock). Anything else (plugins, analytics, settings) is a 404, as the CLI copes with.
pub(crate) fn router(shared: Arc<Shared>, scheme: &'static str) -> Router {
    let backend = Router::new()
        .route("/responses", post(responses).get(crate::ws::upgrade))
        .route("/responses/compact", post(compact))
        .route("/models", get(models::models));
    let accounts = Router::new().route("/accounts/check", get(models::accounts_check));
    Router::new()
        .merge(backend.clone())
        .nest("/backend-api/codex", backend)
        .nest("/wham", accounts.clone())
        .nest("/backend-api/wham", accounts.clone())
        .nest("/api/codex", accounts)
        .route("/oauth/token", post(crate::token::token))
        .merge(control::routes())
        .merge(crate::usage::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            (Arc::clone(&shared), log::Scheme(scheme)),
            log::record,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn not_found() -> Fail {
    detail(404, "Not Found")
}

pub(crate) type Answer = Result<Response, Fail>;

/// An error answer, small enough to travel in a `Result`; rendered as JSON.
pub(crate) struct Fail {
    status: u16,
    body: Value,
}

impl Fail {
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    pub(crate) fn body(&self) -> &Value {
        &self.body
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    text_response(status, "application/json", body.to_string())
}

fn text_response(status: u16, content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let value = HeaderValue::from_static(content_type);
    resp.headers_mut().insert(CONTENT_TYPE, value);
    resp
}

/// `{"detail": message}`, the backend's shape for plain errors.
pub(crate) fn detail(status: u16, message: impl Into<String>) -> Fail {
    let body = json!({ "detail": message.into() });
    Fail { status, body }
}

/// `{"error": {message, type, code}}`, the shape of authentication errors.
fn auth_error(code: &str, message: &str) -> Fail {
    let body =
        json!({"error": {"message": message, "type": "invalid_request_error", "code": code}});
    Fail { status: 401, body }
}

fn token_expired() -> Fail {
    let message = "Your authentication token has expired. Please try signing in again.";
    auth_error("token_expired", message)
}

/// Set (replace) each header; an empty value removes the header instead.
fn set_headers(resp: &mut Response, headers: &[(String, String)]) -> Result<(), Fail> {
    for (name, value) in headers {
        let invalid = || {
            detail(
                500,
                format!("mock: invalid scripted header {name}: {value}"),
            )
        };
        let name = HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
        if value.is_empty() {
            resp.headers_mut().remove(name);
            continue;
        }
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
        resp.headers_mut().insert(name, value);
    }
    Ok(())
}

fn owned_headers(headers: &[(&str, String)]) -> Vec<(String, String)> {
    let owned = headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone()));
    owned.collect()
}

/// Accept an `sk-` API key, or a live access token minted by the mock sent with its account id.
pub(crate) fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Fail> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(token_expired)?;
    if token.starts_with("sk-") {
        return Ok(());
    }
    let state = shared.state();
    let grant = state.access.get(token).filter(|g| g.exp > now_secs());
    let grant = grant.ok_or_else(token_expired)?;
    let account = headers
        .get("chatgpt-account-id")
        .and_then(|v| v.to_str().ok());
    if account == Some(grant.account_id.as_str()) {
        Ok(())
    } else {
        Err(detail(403, "account mismatch"))
    }
}

/// 401 for a token older than [`crate::MockCodex::reject_responses_until_refresh`] asked for.
pub(crate) fn reject_stale_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Fail> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let state = shared.state();
    let stale = state
        .access
        .get(token)
        .is_some_and(|g| g.serial < state.responses_reject_before);
    if stale {
        Err(token_expired())
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------- POST /responses

async fn responses(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let parsed = serde_json::from_slice::<Value>(&body);
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    shared.state().requests.push(RecordedRequest {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), lossy(v.as_bytes())))
            .collect(),
        body: parsed
            .as_ref()
            .map_or_else(|_| Value::String(lossy(&body)), Clone::clone),
    });
    authorize(&shared, &headers)?;
    reject_stale_token(&shared, &headers)?;
    let request = parsed.map_err(|e| detail(400, format!("mock: body is not JSON: {e}")))?;
    let queued = shared.state().replies.pop_front();
    let reply = match queued {
        Some(reply) => reply,
        None => default_reply(&shared, &request).await?,
    };
    render(reply).await
}

/// `POST /responses/compact`: the history comes back as one summary message (recorded like `/responses`).
async fn compact(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    let parsed = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    shared.state().requests.push(RecordedRequest {
        path: "/responses/compact".to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), lossy(v.as_bytes())))
            .collect(),
        body: parsed.clone(),
    });
    authorize(&shared, &headers)?;
    let queued = shared.state().replies.pop_front();
    if let Some(reply) = queued {
        return render(reply).await;
    }
    let items = parsed
        .get("input")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if parsed.get("model").and_then(Value::as_str).is_none() {
        return Err(detail(400, "Missing required parameter: 'model'."));
    }
    let summary = format!("Summary of {items} earlier items.");
    Ok(json_response(
        200,
        &json!({"output": [{"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": summary}]}]}),
    ))
}

async fn render(reply: Reply) -> Answer {
    match reply {
        Reply::Sse { headers, chunks } => {
            // A pause (the delay, or a yield) before each chunk makes hyper flush it on its own.
            let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
                if chunk.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(chunk.delay_ms)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                Ok::<_, Infallible>(chunk.bytes)
            });
            let mut resp = Response::new(Body::from_stream(stream));
            let now = now_secs();
            let defaults = [
                ("content-type", "text/event-stream".to_owned()),
                ("x-codex-primary-used-percent", "12.5".to_owned()),
                ("x-codex-primary-window-minutes", "300".to_owned()),
                ("x-codex-primary-reset-at", (now + 3600).to_string()),
                ("x-codex-secondary-used-percent", "40.0".to_owned()),
                ("x-codex-secondary-window-minutes", "10080".to_owned()),
                ("x-codex-secondary-reset-at", (now + 3 * 86_400).to_string()),
            ];
            set_headers(&mut resp, &owned_headers(&defaults))?;
            set_headers(&mut resp, &headers)?;
            Ok(resp)
        }
        Reply::Status {
            status,
            headers,
            body,
        } => {
            StatusCode::from_u16(status)
                .map_err(|_| detail(500, format!("mock: invalid scripted status {status}")))?;
            let content_type = match serde_json::from_str::<Value>(&body) {
                Ok(_) => "application/json",
                Err(_) => "text/plain; charset=utf-8",
            };
            let mut resp = text_response(status, content_type, body);
            set_headers(&mut resp, &headers)?;
            Ok(resp)
        }
        Reply::Hang => std::future::pending().await,
    }
}

/// The text of the last user message in `input`.
fn last_user_text(request: &Value) -> String {
    let items = match request.get("input") {
        Some(Value::String(text)) => return text.clone(),
        Some(Value::Array(items)) => items,
        _ => return String::new(),
    };
    let is_user = |item: &&Value| item.get("role").and_then(Value::as_str) == Some("user");
    match items
        .iter()
        .rev()
        .find(is_user)
        .and_then(|item| item.get("content"))
    {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("input_text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// The output of the last tool call, when it comes after the last user message in `input`.
fn tool_output(request: &Value) -> Option<String> {
    let items = request.get("input").and_then(Value::as_array)?;
    let after_user = items
        .iter()
        .rposition(|item| item.get("role").and_then(Value::as_str) == Some("user"))
        .map_or(0, |i| i + 1);
    let is_output = |item: &&Value| {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        kind == "function_call_output" || kind == "custom_tool_call_output"
    };
    let item = items.get(after_user..)?.iter().rev().find(is_output)?;
    match item.get("output") {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Array(parts)) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        Some(other) => Some(other.to_string()),
        None => Some(String::new()),
    }
}

/// A rough token count: characters of every string in `instructions` and `input`, divided by 4.
fn approx_input_tokens(request: &Value) -> u64 {
    fn chars(value: &Value) -> usize {
        match value {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.iter().map(chars).sum(),
            Value::Object(map) => map.values().map(chars).sum(),
            _ => 0,
        }
    }
    let total = ["instructions", "input"]
        .iter()
        .filter_map(|k| request.get(k))
        .map(chars);
    u64::try_from(total.sum::<usize>() / 4)
        .unwrap_or(u64::MAX)
        .max(1)
}

fn word_count(text: &str) -> u64 {
    u64::try_from(text.split_whitespace().count()).unwrap_or(u64::MAX)
}

/// The answer when nothing is queued: an echo of the last user message, or a `mock:` directive.
pub(crate) async fn default_reply(shared: &Shared, request: &Value) -> Result<Reply, Fail> {
    let text = last_user_text(request);
    let model = request.get("model").and_then(Value::as_str);
    let input_tokens = approx_input_tokens(request);
    // Like the backend's prompt cache: a request whose cache key was seen before finds the earlier
    // request's prefix cached.
    let cached = match request.get("prompt_cache_key").and_then(Value::as_str) {
        Some(key) => {
            let mut state = shared.state();
            let before = state.prompt_cache.insert(key.to_owned(), input_tokens);
            before.map_or(0, |b| b.min(input_tokens))
        }
        None => 0,
    };
    let resp_id = shared.next_response_id();
    let directive = crate::scenarios::directive_text(&text)
        .trim()
        .strip_prefix("mock:")
        .map(|rest| {
            let (command, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (command, arg.trim())
        });
    if let Some(mut events) =
        crate::scenarios::compaction_events(request, &text, &resp_id, (input_tokens, cached))
    {
        events::set_model(&mut events, model.unwrap_or(DEFAULT_MODEL));
        return Ok(events::sse_reply(&events));
    }
    if let Some(output) = crate::scenarios::tool_result_text(request) {
        let answer = format!("tool said: {output}");
        let usage = (input_tokens, cached, word_count(&answer).max(1), 0);
        let mut events = events::text_events(&resp_id, &split_words(&answer, 3), usage);
        events::set_model(&mut events, model.unwrap_or(DEFAULT_MODEL));
        return Ok(events::sse_reply(&events));
    }
    let mut events = match directive {
        Some(("reasoning", rest)) => {
            let answer = format!("echo: {rest}");
            let summary = "thinking about it";
            let encrypted = STANDARD.encode(format!("codex-mock reasoning for {resp_id}"));
            let (output, reasoning) = (word_count(&answer), word_count(summary));
            events::reasoning_then_text_events(
                &resp_id,
                &split_words(summary, 3),
                &split_words(&answer, 3),
                &encrypted,
                (input_tokens, cached, output + reasoning, reasoning),
            )
        }
        // Call the tool once; when the request carries its output, answer that output as text (so an
        // agent loop such as the codex CLI's ends).
        Some(("call", _)) if tool_output(request).is_some() => {
            let output = tool_output(request).unwrap_or_default();
            let answer = format!("tool said: {}", output.trim());
            let usage = (input_tokens, cached, word_count(&answer), 0);
            events::text_events(&resp_id, &split_words(&answer, 3), usage)
        }
        Some(("reasoning_tool", rest)) => {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, "{}"));
            if name.is_empty() || serde_json::from_str::<Value>(args.trim()).is_err() {
                return Err(detail(
                    400,
                    "mock: usage is `mock:reasoning_tool NAME ARGS_JSON`",
                ));
            }
            let encrypted = STANDARD.encode(format!("codex-mock reasoning for {resp_id}"));
            let deltas = split_chars(args.trim(), 3);
            let usage = (input_tokens, cached, 4, 3);
            events::reasoning_then_call_events(
                &resp_id,
                &split_words("deciding to call a tool", 3),
                &encrypted,
                ("call_1", name, &deltas),
                usage,
            )
        }
        Some(("tool" | "call", rest)) => {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, "{}"));
            let args = args.trim();
            if name.is_empty() || serde_json::from_str::<Value>(args).is_err() {
                return Err(detail(400, "mock: usage is `mock:tool NAME ARGS_JSON`"));
            }
            let usage = (input_tokens, cached, word_count(args).max(1), 0);
            let call = ("call_1", name, split_chars(args, 3));
            events::function_call_events(&resp_id, &[(call.0, call.1, &call.2)], usage)
        }
        Some(("status", rest)) => {
            let (code, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let status = code
                .parse::<u16>()
                .ok()
                .filter(|s| StatusCode::from_u16(*s).is_ok());
            let status =
                status.ok_or_else(|| detail(400, "mock: usage is `mock:status CODE BODY`"))?;
            let body = body.trim().to_owned();
            return Ok(Reply::Status {
                status,
                headers: Vec::new(),
                body,
            });
        }
        Some(("fixture", name)) => return fixture_reply(shared, name).await,
        Some(("usage_limit", _)) => return Ok(usage_limit_reply()),
        _ => {
            let answer = format!("echo: {text}");
            let usage = (input_tokens, cached, word_count(&answer), 0);
            events::text_events(&resp_id, &split_words(&answer, 3), usage)
        }
    };
    events::set_model(&mut events, model.unwrap_or(DEFAULT_MODEL));
    Ok(events::sse_reply(&events))
}

/// Replay `reference/NAME.sse` verbatim, one chunk per SSE frame.
async fn fixture_reply(shared: &Shared, name: &str) -> Result<Reply, Fail> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(detail(400, format!("mock: bad fixture name {name:?}")));
    }
    let path = shared.fixtures.join(format!("{name}.sse"));
    let text = tokio::fs::read_to_string(&path).await;
    let text = text.map_err(|e| detail(400, format!("mock: fixture {}: {e}", path.display())))?;
    let frames = text
        .split_inclusive("\n\n")
        .map(|f| Chunk::now(f.to_owned()));
    Ok(Reply::Sse {
        headers: Vec::new(),
        chunks: frames.collect(),
    })
}

fn usage_limit_reply() -> Reply {
    let reset_at = now_secs() + 3600;
    let body = json!({"error": {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": "plus",
        "resets_at": reset_at,
    }});
    let headers = [
        ("x-codex-primary-used-percent", "100.0".to_owned()),
        ("x-codex-primary-window-minutes", "300".to_owned()),
        ("x-codex-primary-reset-at", reset_at.to_string()),
        ("x-codex-secondary-used-percent", "42.0".to_owned()),
        ("x-codex-secondary-window-minutes", "10080".to_owned()),
    ];
    let headers = owned_headers(&headers);
    Reply::Status {
        status: 429,
        headers,
        body: body.to_string(),
    }
}
