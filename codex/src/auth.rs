//! Credentials from `$CODEX_HOME/auth.json`, shared with the codex CLI.
//!
//! The refresh token is single-use and the CLI rewrites the same file without locking it, so every refresh
//! here runs under (1) an in-process gate, so concurrent requests refresh once, and (2) an exclusive `flock`
//! on `auth.json.lock`, so two codex-serve processes never spend the same token. Inside both we re-read the
//! file, because whoever held them before us may already have refreshed. The file is replaced atomically
//! (temp file in the same directory, fsync, rename) at mode 0600, and only the token fields and
//! `last_refresh` change: every other field is written back as it was.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwt::{self, Claims};
use crate::secret::Secret;

/// The OAuth client id of the codex CLI; refresh tokens are bound to it.
pub const CODEX_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
pub const DEFAULT_AUTH_URL: &str = "https://auth.openai.com";
/// The codex CLI's own override for the token endpoint; honoured so both programs agree.
pub const REFRESH_URL_OVERRIDE_ENV: &str = "CODEX_REFRESH_TOKEN_URL_OVERRIDE";

/// Refresh this long before the access token expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);
/// The codex CLI refreshes a login older than this even when the token still looks valid.
const MAX_REFRESH_AGE: Duration = Duration::from_secs(8 * 24 * 3600);
/// A torn read (the CLI truncates, then writes) is retried for about half a second in total.
const TORN_READ_RETRIES: u32 = 40;
const TORN_READ_PAUSE: Duration = Duration::from_millis(8);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Codex login found at {path}: run `codex login` first")]
    NotLoggedIn { path: PathBuf },
    #[error(
        "the codex CLI keeps this login in the OS keyring (cli_auth_credentials_store in {config}), which codex-serve cannot read yet: set cli_auth_credentials_store = \"file\" and run `codex login` again"
    )]
    InKeyring { config: PathBuf },
    #[error(
        "cannot read the Codex login at {path}: {reason}; run `codex login` to write it again"
    )]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "the Codex login has expired and could not be renewed ({code}): run `codex login` again"
    )]
    LoginExpired { code: String },
    #[error(
        "the Codex API key was rejected: check OPENAI_API_KEY in auth.json or run `codex login`"
    )]
    KeyRejected,
    #[error("could not reach the token endpoint to renew the Codex login: {0}")]
    RefreshUnavailable(String),
    #[error("could not save the renewed Codex login to {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// What a request to the backend authenticates with.
#[derive(Debug, Clone)]
pub enum Credentials {
    ChatGpt {
        access_token: Secret,
        account_id: Option<String>,
    },
    ApiKey(Secret),
}

impl Credentials {
    pub fn bearer(&self) -> &Secret {
        match self {
            Credentials::ChatGpt { access_token, .. } => access_token,
            Credentials::ApiKey(key) => key,
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match self {
            Credentials::ChatGpt { account_id, .. } => account_id.as_deref(),
            Credentials::ApiKey(_) => None,
        }
    }

    pub fn mode(&self) -> AuthMode {
        match self {
            Credentials::ChatGpt { .. } => AuthMode::ChatGpt,
            Credentials::ApiKey(_) => AuthMode::ApiKey,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    ChatGpt,
    ApiKey,
}

/// Who is logged in, for status displays. Holds no secret.
#[derive(Debug, Clone)]
pub struct LoginInfo {
    pub mode: AuthMode,
    pub email: Option<String>,
    pub plan: Option<String>,
    pub account_id: Option<String>,
    pub access_expires_at: Option<i64>,
    pub last_refresh: Option<SystemTime>,
}

/// Where auth.json lives and where refreshes go.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub codex_home: PathBuf,
    /// Base of the token endpoint; the request goes to `{auth_url}/oauth/token`.
    pub auth_url: String,
    /// Full token URL that wins over `auth_url` (the codex CLI's `CODEX_REFRESH_TOKEN_URL_OVERRIDE`).
    pub token_url_override: Option<String>,
}

impl AuthConfig {
    pub fn token_url(&self) -> String {
        match &self.token_url_override {
            Some(url) => url.clone(),
            None => format!("{}/oauth/token", self.auth_url.trim_end_matches('/')),
        }
    }

    pub fn auth_file(&self) -> PathBuf {
        self.codex_home.join("auth.json")
    }
}

// ---- the file ------------------------------------------------------------------------------------------

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

/// Identifies one version of the file on disk, so an unchanged file is not parsed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
    }
}

#[derive(Debug)]
enum Login {
    ApiKey(Secret),
    ChatGpt {
        access: Secret,
        refresh: Secret,
        account_id: Option<String>,
        access_exp: Option<i64>,
        id_claims: Claims,
        last_refresh: Option<SystemTime>,
    },
}

#[derive(Debug)]
struct Loaded {
    stamp: Stamp,
    login: Login,
}

impl Login {
    fn parse(raw: &[u8]) -> Result<Login, String> {
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
                let access_exp = jwt::claims(&t.access_token).and_then(|c| c.exp);
                let last_refresh = view
                    .last_refresh
                    .as_deref()
                    .and_then(|s| humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok());
                Ok(Login::ChatGpt {
                    access: Secret::new(t.access_token),
                    refresh: Secret::new(t.refresh_token),
                    account_id,
                    access_exp,
                    id_claims,
                    last_refresh,
                })
            }
            (None, Some(key)) => Ok(Login::ApiKey(Secret::new(key))),
            (None, None) => Err("it holds neither ChatGPT tokens nor an API key".into()),
        }
    }

    fn credentials(&self) -> Credentials {
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

    fn needs_refresh(&self, now: SystemTime) -> bool {
        let Login::ChatGpt {
            access_exp,
            last_refresh,
            ..
        } = self
        else {
            return false;
        };
        let now_s = unix_secs(now);
        let expiring =
            access_exp.is_some_and(|exp| exp - (EXPIRY_MARGIN.as_secs() as i64) <= now_s);
        let stale = last_refresh
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > MAX_REFRESH_AGE);
        expiring || stale
    }

    fn expired(&self, now: SystemTime) -> bool {
        matches!(self, Login::ChatGpt { access_exp: Some(exp), .. } if *exp <= unix_secs(now))
    }

    fn access(&self) -> Option<&Secret> {
        match self {
            Login::ChatGpt { access, .. } => Some(access),
            Login::ApiKey(_) => None,
        }
    }

    fn refresh_token(&self) -> Option<&Secret> {
        match self {
            Login::ChatGpt { refresh, .. } => Some(refresh),
            Login::ApiKey(_) => None,
        }
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---- the manager ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: String,
    refresh_token: Option<String>,
}

/// Hands out valid credentials, refreshing the ChatGPT login when needed; cheap to call per request.
pub struct AuthManager {
    cfg: AuthConfig,
    http: reqwest::Client,
    cache: Mutex<Option<Arc<Loaded>>>,
    refresh_gate: tokio::sync::Mutex<()>,
}

impl AuthManager {
    pub fn new(cfg: AuthConfig, http: reqwest::Client) -> Self {
        AuthManager {
            cfg,
            http,
            cache: Mutex::new(None),
            refresh_gate: tokio::sync::Mutex::new(()),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.cfg
    }

    /// Credentials for the next request, refreshed first when the access token is about to expire.
    pub async fn credentials(&self) -> Result<Credentials, AuthError> {
        let loaded = self.current().await?;
        if loaded.login.needs_refresh(SystemTime::now()) {
            if let Some(stale) = loaded.login.access() {
                return self.refresh(stale, &loaded).await;
            }
        }
        Ok(loaded.login.credentials())
    }

    /// The backend rejected `rejected`: pick up a newer login from the file, or refresh.
    pub async fn after_unauthorized(
        &self,
        rejected: &Credentials,
    ) -> Result<Credentials, AuthError> {
        let loaded = self.current().await?;
        match (&loaded.login, rejected) {
            (Login::ApiKey(_), Credentials::ApiKey(old))
                if loaded.login.credentials().bearer() == old =>
            {
                Err(AuthError::KeyRejected)
            }
            (Login::ApiKey(_), _) => Ok(loaded.login.credentials()),
            (Login::ChatGpt { access, .. }, _) => {
                if access != rejected.bearer() {
                    return Ok(loaded.login.credentials());
                }
                self.refresh(access, &loaded).await
            }
        }
    }

    /// Who is logged in, without any secret; reads the file as it is now.
    pub async fn login_info(&self) -> Result<LoginInfo, AuthError> {
        let loaded = self.current().await?;
        Ok(match &loaded.login {
            Login::ApiKey(_) => LoginInfo {
                mode: AuthMode::ApiKey,
                email: None,
                plan: None,
                account_id: None,
                access_expires_at: None,
                last_refresh: None,
            },
            Login::ChatGpt {
                account_id,
                access_exp,
                id_claims,
                last_refresh,
                ..
            } => LoginInfo {
                mode: AuthMode::ChatGpt,
                email: id_claims.email.clone(),
                plan: id_claims.openai.chatgpt_plan_type.clone(),
                account_id: account_id.clone(),
                access_expires_at: *access_exp,
                last_refresh: *last_refresh,
            },
        })
    }

    /// The login as the file holds it now; parsed again only when the file changed.
    async fn current(&self) -> Result<Arc<Loaded>, AuthError> {
        let path = self.cfg.auth_file();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => return Err(self.missing_error(&path, e)),
        };
        let now_stamp = stamp(&meta);
        if let Some(hit) = self.cached().filter(|c| c.stamp == now_stamp) {
            return Ok(hit);
        }
        // A file caught mid-rewrite (the CLI truncates, then writes) is not worth waiting for when the last
        // good read still holds a live token: use that, and read again on the next request.
        let cached = self
            .cached()
            .filter(|c| !c.login.expired(SystemTime::now()));
        let attempts = if cached.is_some() {
            1
        } else {
            TORN_READ_RETRIES
        };
        let loaded = match read_file_tries(&path, attempts).await {
            Ok(l) => Arc::new(l),
            Err(AuthError::Unreadable { .. }) if cached.is_some() => {
                tracing::debug!("auth.json is being rewritten; using the last good read");
                return cached.ok_or_else(|| AuthError::NotLoggedIn { path: path.clone() });
            }
            Err(e) => return Err(e),
        };
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }

    fn cached(&self) -> Option<Arc<Loaded>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn missing_error(&self, path: &Path, e: std::io::Error) -> AuthError {
        if e.kind() != std::io::ErrorKind::NotFound {
            return AuthError::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            };
        }
        let config = self.cfg.codex_home.join("config.toml");
        let in_keyring = std::fs::read_to_string(&config).is_ok_and(|text| {
            text.lines().any(|l| {
                let l = l.trim();
                l.starts_with("cli_auth_credentials_store") && l.contains("keyring")
            })
        });
        if in_keyring {
            AuthError::InKeyring { config }
        } else {
            AuthError::NotLoggedIn {
                path: path.to_owned(),
            }
        }
    }

    /// Refreshes the login whose access token is `stale`, once for all concurrent callers and processes.
    async fn refresh(&self, stale: &Secret, seen: &Loaded) -> Result<Credentials, AuthError> {
        let _gate = self.refresh_gate.lock().await;
        // Another task of ours may have refreshed while we waited at the gate.
        let now_loaded = self.current().await?;
        if now_loaded.login.access() != Some(stale)
            && !now_loaded.login.needs_refresh(SystemTime::now())
        {
            return Ok(now_loaded.login.credentials());
        }

        let path = self.cfg.auth_file();
        let _lock = lock_file(&self.cfg.codex_home.join("auth.json.lock")).await?;
        // Under the lock, the file is the truth: another process may have refreshed before us.
        let fresh = read_file(&path).await?;
        if fresh.login.access() != Some(stale) && !fresh.login.needs_refresh(SystemTime::now()) {
            return Ok(self.adopt(fresh));
        }
        let Some(refresh_token) = fresh.login.refresh_token().cloned() else {
            return Ok(self.adopt(fresh));
        };

        match self.post_refresh(&refresh_token).await {
            Ok(answer) => {
                write_tokens(&path, &answer).await?;
                let written = read_file(&path).await?;
                tracing::info!("renewed the Codex login");
                Ok(self.adopt(written))
            }
            Err(RefreshFailure::Permanent(code)) => {
                // The codex CLI may have refreshed (without our lock) and spent this token first.
                let again = read_file(&path).await?;
                if again
                    .login
                    .refresh_token()
                    .is_some_and(|t| *t != refresh_token)
                {
                    tracing::info!("adopted the login the codex CLI renewed concurrently");
                    return Ok(self.adopt(again));
                }
                Err(AuthError::LoginExpired { code })
            }
            Err(RefreshFailure::Transient(reason)) => {
                // A proactive refresh that failed for a passing reason: the old token still works for now.
                if !seen.login.expired(SystemTime::now())
                    && seen.login.access() == fresh.login.access()
                {
                    tracing::warn!(%reason, "could not renew the Codex login yet; using the current token");
                    return Ok(self.adopt(fresh));
                }
                Err(AuthError::RefreshUnavailable(reason))
            }
        }
    }

    fn adopt(&self, loaded: Loaded) -> Credentials {
        let creds = loaded.login.credentials();
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(loaded));
        creds
    }

    async fn post_refresh(&self, refresh_token: &Secret) -> Result<TokenAnswer, RefreshFailure> {
        let body = serde_json::json!({
            "client_id": CODEX_CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose(),
        });
        let resp = self
            .http
            .post(self.cfg.token_url())
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| RefreshFailure::Transient(redacted_transport(&e)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RefreshFailure::Transient(redacted_transport(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| RefreshFailure::Transient(format!("unreadable token answer: {e}")));
        }
        let code = oauth_error_code(&bytes).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        if status.is_client_error() {
            Err(RefreshFailure::Permanent(code))
        } else {
            Err(RefreshFailure::Transient(code))
        }
    }
}

enum RefreshFailure {
    /// The token endpoint refused (reused, expired or revoked token): only `codex login` helps.
    Permanent(String),
    Transient(String),
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

/// Reads and parses auth.json, retrying briefly when it looks half-written.
async fn read_file(path: &Path) -> Result<Loaded, AuthError> {
    read_file_tries(path, TORN_READ_RETRIES).await
}

async fn read_file_tries(path: &Path, attempts: u32) -> Result<Loaded, AuthError> {
    let mut last_reason = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            // Jittered, so retries do not fall into step with a writer's rhythm.
            let jitter = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::from(d.subsec_nanos()) % 10)
                .unwrap_or(5);
            tokio::time::sleep(TORN_READ_PAUSE + Duration::from_millis(jitter)).await;
        }
        let (raw, meta) = match read_with_meta(path) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AuthError::NotLoggedIn {
                    path: path.to_owned(),
                })
            }
            Err(e) => {
                return Err(AuthError::Unreadable {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        match Login::parse(&raw) {
            Ok(login) => {
                return Ok(Loaded {
                    stamp: stamp(&meta),
                    login,
                })
            }
            Err(reason) => last_reason = reason,
        }
    }
    Err(AuthError::Unreadable {
        path: path.to_owned(),
        reason: last_reason,
    })
}

fn read_with_meta(path: &Path) -> std::io::Result<(Vec<u8>, std::fs::Metadata)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let mut raw = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut raw)?;
    Ok((raw, meta))
}

async fn lock_file(path: &Path) -> Result<Flock<std::fs::File>, AuthError> {
    let path = path.to_owned();
    let err_path = path.clone();
    let write_err = move |reason: String| AuthError::Write {
        path: err_path.clone(),
        reason,
    };
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| e.to_string())?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e.to_string())
    })
    .await
    .map_err(|e| write_err(e.to_string()))?
    .map_err(write_err)
}

/// Writes the refreshed tokens into auth.json, keeping every other field as the file has it now.
async fn write_tokens(path: &Path, answer: &TokenAnswer) -> Result<(), AuthError> {
    let write_err = |reason: String| AuthError::Write {
        path: path.to_owned(),
        reason,
    };
    let (raw, _) = read_with_meta(path).map_err(|e| write_err(e.to_string()))?;
    let mut doc: Map<String, Value> = serde_json::from_slice(&raw)
        .map_err(|e| write_err(format!("file changed under us: {e}")))?;
    let tokens = doc
        .entry("tokens")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(tokens) = tokens else {
        return Err(write_err("`tokens` is not an object".into()));
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
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| write_err(e.to_string()))?;
    bytes.push(b'\n');
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || replace_atomically(&path, &bytes))
        .await
        .map_err(|e| write_err(e.to_string()))?
        .map_err(|e| write_err(e.to_string()))
}

/// Temp file in the same directory (created 0600 by tempfile), fsync, rename over, fsync the directory.
pub(crate) fn replace_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".auth.json.")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
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
    fn refresh_is_due_near_expiry_or_after_eight_days() {
        let now = SystemTime::now();
        let mk = |exp: Option<i64>, age_days: u64| Login::ChatGpt {
            access: Secret::new("a"),
            refresh: Secret::new("r"),
            account_id: None,
            access_exp: exp,
            id_claims: Claims::default(),
            last_refresh: Some(now - Duration::from_secs(age_days * 86400)),
        };
        let n = unix_secs(now);
        assert!(!mk(Some(n + 3600), 1).needs_refresh(now));
        assert!(mk(Some(n + 60), 1).needs_refresh(now));
        assert!(mk(Some(n - 1), 1).needs_refresh(now));
        assert!(mk(None, 9).needs_refresh(now));
        assert!(!mk(None, 1).needs_refresh(now));
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
