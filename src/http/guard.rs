//! What stands in front of every route on a TCP listener: the Host check (a DNS-rebinding guard), CORS for
//! the origins the user allowed and no others, and the bearer key. The Unix socket and stdio need none of
//! this: the socket's mode and the peer-uid check are their access control.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, HOST, ORIGIN, VARY, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::http::error::ApiError;

/// The bearer key TCP clients must send. It never prints; where it came from is the server's business.
pub(crate) struct ApiKey {
    secret: Vec<u8>,
}

impl ApiKey {
    pub(crate) fn new(secret: Vec<u8>) -> ApiKey {
        ApiKey { secret }
    }

    /// Constant time in the key's content (a length mismatch returns early: the length is no secret).
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.secret.as_slice().ct_eq(presented))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The rules for one server's TCP listeners.
#[derive(Clone, Debug)]
pub(crate) struct NetworkPolicy {
    /// `None` only with `--no-auth`, which start-up allows on loopback listeners only.
    pub(crate) key: Option<Arc<ApiKey>>,
    /// Extra names the Host header may carry (`--allow-host`), lowercase, without a trailing dot.
    pub(crate) allowed_hosts: Arc<[String]>,
    /// Origins that get CORS headers (`--cors-origin`), exactly as browsers send them.
    pub(crate) cors_origins: Arc<[HeaderValue]>,
}

/// One TCP connection's standing, in each of its requests' extensions. It is unauthenticated until a
/// request on it passes the key check (any request, with `--no-auth`); until then it holds a place among
/// its listener's unauthenticated connections (`ticket`, given back by dropping it) and runs against
/// `--unauth-header-timeout`.
#[derive(Clone, Debug)]
pub(crate) struct ConnAuth(Arc<ConnAuthState>);

#[derive(Debug)]
struct ConnAuthState {
    ticket: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    passed: CancellationToken,
}

impl ConnAuth {
    pub(crate) fn new(ticket: Option<Box<dyn std::any::Any + Send>>) -> ConnAuth {
        ConnAuth(Arc::new(ConnAuthState {
            ticket: Mutex::new(ticket),
            passed: CancellationToken::new(),
        }))
    }

    /// A request passed the key check: give the unauthenticated place back and lift the deadline.
    fn passed(&self) {
        if let Ok(mut ticket) = self.0.ticket.lock() {
            ticket.take();
        }
        self.0.passed.cancel();
    }

    /// Resolves once a request on this connection has passed the key check.
    pub(crate) async fn wait_passed(&self) {
        self.0.passed.cancelled().await
    }
}

/// Wraps `router` (its routes, fallback and method fallback alike) in the TCP rules. Host is checked
/// first, so a rebinding page learns nothing, not even whether it needs a key; CORS sits outside the key
/// check because browsers send preflights without credentials, and so that an allowed page can read a 401.
pub(crate) fn apply<S>(router: Router<S>, policy: NetworkPolicy) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(middleware::from_fn_with_state(policy.clone(), require_key))
        .layer(middleware::from_fn_with_state(policy.clone(), cors))
        .layer(middleware::from_fn_with_state(policy, check_host))
}

async fn check_host(State(policy): State<NetworkPolicy>, req: Request, next: Next) -> Response {
    // An absolute-form target (`GET http://host/ HTTP/1.1`) names the host too; both must pass.
    let from_uri = req.uri().authority().map(|a| a.as_str().to_owned());
    let from_header = req.headers().get(HOST).map(|v| v.as_bytes().to_vec());
    let path = req.uri().path().to_owned();
    // RFC 9112: more than one Host is a bad request; checking only the first would let a second one by.
    if req.headers().get_all(HOST).iter().nth(1).is_some() {
        let err =
            ApiError::invalid("the request has more than one Host header").with_code("bad_host");
        return super::closing_if_unread(req.headers(), super::shaped(&path, err));
    }
    let verdict = match (&from_uri, &from_header) {
        (None, None) => Err("the request has no Host header".to_owned()),
        _ => from_uri
            .iter()
            .map(|a| a.as_bytes())
            .chain(from_header.as_deref())
            .try_for_each(|h| host_allowed(h, &policy.allowed_hosts)),
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(why) => {
            let err = ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!("{why}; codex-serve answers TCP requests only for loopback names (localhost, 127.0.0.1, [::1]) and hosts given with --allow-host"),
            )
            .with_code("host_not_allowed");
            super::closing_if_unread(req.headers(), super::shaped(&path, err))
        }
    }
}

/// Accepts `host[:port]` when the host is a loopback IP, `localhost`, or an allowed name.
fn host_allowed(raw: &[u8], allowed: &[String]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(raw);
    let refuse = || Err(format!("Host '{}' is not allowed", shown.escape_debug()));
    let Ok(authority) = axum::http::uri::Authority::try_from(raw) else {
        return refuse();
    };
    if authority.as_str().contains('@') {
        return refuse();
    }
    let host = authority.host();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        if ip.to_canonical().is_loopback() {
            return Ok(());
        }
    }
    let name = bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase();
    if name == "localhost" || allowed.contains(&name) {
        return Ok(());
    }
    refuse()
}

async fn cors(State(policy): State<NetworkPolicy>, req: Request, next: Next) -> Response {
    // Only an origin on the list is ever echoed; any other gets a response with no CORS headers at all.
    let origin = req
        .headers()
        .get(ORIGIN)
        .filter(|o| {
            policy
                .cors_origins
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(o.as_bytes()))
        })
        .cloned();
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(origin, req.headers());
    }
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-request-id, retry-after"),
    );
    headers.append(VARY, HeaderValue::from_static("origin"));
    resp
}

fn preflight(origin: HeaderValue, req: &HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let headers = resp.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    // SDKs send headers of their own (x-stainless-*, openai-*); the origin is trusted, so the headers it
    // asks for are granted. The value already parsed as a header, so it is safe to send back.
    if let Some(asked) = req.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    headers.insert(
        VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    resp
}

async fn require_key(State(policy): State<NetworkPolicy>, req: Request, next: Next) -> Response {
    let pass = |req: Request| {
        if let Some(conn) = req.extensions().get::<ConnAuth>() {
            conn.passed();
        }
        next.run(req)
    };
    let Some(key) = policy.key.as_deref() else {
        return pass(req).await;
    };
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| bearer_token(v.as_bytes()));
    let header_key = req.headers().get("x-api-key").map(HeaderValue::as_bytes);
    let presented = [bearer, header_key];
    // Every presented value is compared, so the time taken does not depend on which one matched.
    let matched = presented
        .iter()
        .flatten()
        .fold(false, |ok, p| key.matches(p) | ok);
    if matched {
        return pass(req).await;
    }
    let message = if presented.iter().all(Option::is_none) {
        "No API key provided. codex-serve's TCP listener needs its key as `Authorization: Bearer KEY` or `x-api-key: KEY`; the key is in the file named at start-up (or CODEX_SERVE_API_KEY)."
    } else {
        "Incorrect API key provided. Use the key from the file named at start-up (or CODEX_SERVE_API_KEY)."
    };
    let err = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
        .with_code("invalid_api_key");
    let mut resp = super::shaped(req.uri().path(), err);
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    super::closing_if_unread(req.headers(), resp)
}

/// The token of `Bearer TOKEN` (the scheme is case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_allowed_hosts_pass() {
        let allowed = vec!["devbox.lan".to_owned()];
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "127.0.0.1:1",
            "127.9.9.9",
            "[::1]:8080",
            "[::ffff:127.0.0.1]",
            "devbox.lan:443",
            "DevBox.lan",
        ] {
            assert!(host_allowed(ok.as_bytes(), &allowed).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1",
            "[::2]",
            "user@localhost",
            "",
            "local host",
        ] {
            assert!(host_allowed(bad.as_bytes(), &allowed).is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearer"), None);
    }

    #[test]
    fn compares_whole_keys_only() {
        let key = ApiKey::new(b"csk-abc".to_vec());
        assert!(key.matches(b"csk-abc"));
        assert!(!key.matches(b"csk-ab"));
        assert!(!key.matches(b"csk-abcd"));
        assert!(!key.matches(b""));
        assert!(!format!("{key:?}").contains("abc"));
    }
}
