//! Workspace routing, as the codex CLI does it: `GET {chatgpt_base}wham/accounts/check` says on which
//! origin the account's workspace lives and which `x-openai-account-routing-override` its requests carry.
//! The answer is kept per account until a 401 or a 404 from that origin says to ask again. Only an https
//! origin without credentials is accepted; anything else is logged and the default host is used.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::auth::Credentials;
use crate::headers::{self, Call, Identity};

/// A failed check is not repeated for this long: requests go to the default host meanwhile.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(300);
/// A good answer is asked again at least this often.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Accounts remembered at once.
const MAX_ACCOUNTS: usize = 256;
const MAX_BODY: usize = 1024 * 1024;

/// Where an account's requests go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// `https://host[:port]`; `None`: the configured base.
    pub origin: Option<String>,
    /// `us`, `us_cr`: sent as `x-openai-account-routing-override`.
    pub routing_override: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    accounts: Accounts,
}

/// A list of entries, or a map of `{id: {"account": entry}}`: both are seen.
#[derive(Deserialize)]
#[serde(untagged)]
enum Accounts {
    List(Vec<Entry>),
    Map(HashMap<String, Envelope>),
}

#[derive(Deserialize)]
struct Envelope {
    account: Entry,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(alias = "account_id")]
    id: String,
    #[serde(default)]
    workspace_backend_origin: Option<String>,
    #[serde(default)]
    account_routing_override: Option<String>,
}

pub struct Router {
    http: reqwest::Client,
    /// `{chatgpt_base}wham/accounts/check`; `None` when the base does not parse.
    check_url: Option<reqwest::Url>,
    cache: tokio::sync::Mutex<HashMap<String, (Instant, Option<Route>)>>,
}

impl Router {
    pub fn new(http: reqwest::Client, chatgpt_base: &str) -> Router {
        let base = if chatgpt_base.ends_with('/') {
            chatgpt_base.to_owned()
        } else {
            format!("{chatgpt_base}/")
        };
        Router {
            http,
            check_url: reqwest::Url::parse(&base)
                .and_then(|b| b.join("wham/accounts/check"))
                .ok(),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The route of this ChatGPT login's account (the default one for an API key, or when the check
    /// cannot be made). One check at a time: concurrent requests wait for its answer.
    pub async fn route(&self, id: &Identity, creds: &Credentials) -> Route {
        let Some(account) = creds.account_id() else {
            return Route::default();
        };
        let mut cache = self.cache.lock().await;
        if let Some((at, route)) = cache.get(account) {
            let fresh = match route {
                Some(_) => at.elapsed() < MAX_AGE,
                None => at.elapsed() < RETRY_FAILED_AFTER,
            };
            if fresh {
                return route.clone().unwrap_or_default();
            }
        }
        let route = match self.check(id, creds, account).await {
            Ok(route) => Some(route),
            Err(reason) => {
                tracing::warn!("workspace routing: {reason}; sending requests to the default host");
                None
            }
        };
        if cache.len() >= MAX_ACCOUNTS {
            cache.clear();
        }
        cache.insert(account.to_owned(), (Instant::now(), route.clone()));
        route.unwrap_or_default()
    }

    /// Forget the account's route: after a 401 (the login changed) or a 404 from its origin.
    pub async fn forget(&self, creds: &Credentials) {
        if let Some(account) = creds.account_id() {
            self.cache.lock().await.remove(account);
        }
    }

    pub(crate) async fn check(
        &self,
        id: &Identity,
        creds: &Credentials,
        account: &str,
    ) -> Result<Route, String> {
        let url = self
            .check_url
            .clone()
            .ok_or("the ChatGPT base URL does not parse")?;
        let resp = self
            .http
            .get(url)
            .headers(headers::for_call(Call::AccountsCheck, id, creds))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("the workspace check failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "the workspace check answered HTTP {}",
                resp.status().as_u16()
            ));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("the workspace check's answer was cut: {e}"))?;
        if body.len() > MAX_BODY {
            return Err("the workspace check's answer is too large".into());
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| format!("the workspace check's answer is not understood: {e}"))?;
        let entries: Vec<Entry> = match answer.accounts {
            Accounts::List(l) => l,
            Accounts::Map(m) => m.into_values().map(|e| e.account).collect(),
        };
        let mut matching = entries.into_iter().filter(|e| e.id == account);
        let entry = matching
            .next()
            .ok_or("the workspace check does not list this account")?;
        if matching.next().is_some() {
            return Err("the workspace check lists this account twice".into());
        }
        resolve(entry)
    }
}

fn resolve(entry: Entry) -> Result<Route, String> {
    let routing_override = match entry.account_routing_override.as_deref() {
        Some("NO_CONSTRAINT") | None => None,
        Some(v @ ("us" | "us_cr")) => Some(v.to_owned()),
        Some(other) => return Err(format!("unknown account_routing_override {other:?}")),
    };
    let origin = match entry.workspace_backend_origin.as_deref() {
        None | Some("NO_CONSTRAINT") => None,
        Some(origin) => Some(https_origin(origin)?),
    };
    Ok(Route {
        origin,
        routing_override,
    })
}

/// `origin` as `https://host[:port]` when it is exactly an https origin without credentials.
pub fn https_origin(origin: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!(
            "workspace backend {origin:?} refused: {why} (an HTTPS origin without credentials is required)"
        ))
    };
    let Ok(url) = reqwest::Url::parse(origin) else {
        return refuse("not a URL");
    };
    if url.scheme() != "https" {
        return refuse("not https");
    }
    if url.host_str().is_none() {
        return refuse("no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("it carries credentials");
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || origin.trim() != origin
    {
        return refuse("not an origin (it has a path, query or fragment)");
    }
    Ok(url.origin().ascii_serialization())
}

/// `url` moved to `origin`, its path kept.
pub fn on_origin(url: &reqwest::Url, origin: &str) -> Option<reqwest::Url> {
    let o = reqwest::Url::parse(origin).ok()?;
    let mut moved = url.clone();
    moved.set_scheme(o.scheme()).ok()?;
    moved.set_host(o.host_str()).ok()?;
    moved.set_port(o.port()).ok()?;
    Some(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(origin: Option<&str>, ov: Option<&str>) -> Entry {
        Entry {
            id: "a".into(),
            workspace_backend_origin: origin.map(Into::into),
            account_routing_override: ov.map(Into::into),
        }
    }

    #[test]
    fn only_https_origins_without_credentials_are_accepted() {
        assert_eq!(
            https_origin("https://eu.chatgpt.com").as_deref(),
            Ok("https://eu.chatgpt.com")
        );
        assert_eq!(
            https_origin("https://localhost:8443/").as_deref(),
            Ok("https://localhost:8443")
        );
        for bad in [
            "http://chatgpt.com",
            "https://user:pw@chatgpt.com",
            "https://chatgpt.com/backend-api",
            "https://chatgpt.com/?q=1",
            " https://chatgpt.com",
            "chatgpt.com",
        ] {
            assert!(https_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_routed_and_personal_workspaces() {
        let r = resolve(entry(Some("https://us.example"), Some("us_cr"))).expect("route");
        assert_eq!(r.origin.as_deref(), Some("https://us.example"));
        assert_eq!(r.routing_override.as_deref(), Some("us_cr"));
        let r = resolve(entry(Some("NO_CONSTRAINT"), Some("NO_CONSTRAINT"))).expect("route");
        assert_eq!(r, Route::default());
        assert!(resolve(entry(Some("https://x"), Some("mars"))).is_err());
        assert!(resolve(entry(Some("http://x"), None)).is_err());
    }

    #[test]
    fn moves_a_url_to_another_origin() {
        let u =
            reqwest::Url::parse("https://chatgpt.com/backend-api/codex/responses").expect("url");
        let m = on_origin(&u, "https://localhost:8443").expect("moved");
        assert_eq!(
            m.as_str(),
            "https://localhost:8443/backend-api/codex/responses"
        );
    }

    #[test]
    fn parses_both_answer_shapes() {
        let a: Answer = serde_json::from_str(
            r#"{"accounts":[{"id":"a","plan_type":"pro","workspace_backend_origin":"https://x","account_routing_override":"us"}],"default_account_id":"a"}"#,
        )
        .expect("list");
        assert!(matches!(a.accounts, Accounts::List(ref l) if l.len() == 1));
        let a: Answer =
            serde_json::from_str(r#"{"accounts":{"a":{"account":{"account_id":"a"}}}}"#)
                .expect("map");
        assert!(matches!(a.accounts, Accounts::Map(ref m) if m["a"].account.id == "a"));
    }
}
