//! Credentials from `$CODEX_HOME/auth.json`, shared with the codex CLI, and refreshed without ever losing
//! the login.
//!
//! The refresh token is single-use and rotates on every refresh, and the codex CLI refreshes the same file
//! on its own. The rules, each for a failure seen beside the real CLI 0.171:
//! - **The CLI's locks, only around the write.** A token answer is saved under `auth.lock`, then
//!   `auth.json.lock` (the CLI's order), held for the re-read and the write, never across a network call:
//!   the CLI gives up on the second lock after about 5 s and throws its fresh tokens away.
//! - **Re-read before writing.** If the file's refresh token changed while our request was in flight,
//!   another writer won: its login is kept and ours dropped.
//! - **One refresh per generation.** Callers that find the token expired (or expiring within 5 minutes, as
//!   the CLI 0.171 does) queue behind one refresh; each then re-reads, and a token that changed since it started waiting
//!   is used, whatever its lifetime. Only the first caller of a generation sends a request.
//! - **Never a refresh token twice.** A token this process sent that may have been spent (any answer but a
//!   refused connection or an explicit server error) is never sent again; its outcome is the answer for
//!   every later caller until the file holds another token.
//! - **`refresh_token_reused` is not the end yet.** Someone else spent the token first and is about to save
//!   its answer (the CLI writes about 40 ms after its own): the file is re-read for up to 5 s before the
//!   login is declared gone, with "run `codex login`".
//!
//! Storage is behind [`store::load`] and [`store::save`]: auth.json or the OS keyring, as the CLI's
//! `cli_auth_credentials_store` says ([`CredentialsStore`]). The locks are the same files whichever store
//! holds the login: the CLI takes them for a keyring save too.

mod keyring;
mod loaded;
mod login;
mod refresh;
mod renew;
mod store;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub use keyring::{account as keyring_account, KEYRING_SERVICE};
pub use loaded::StoreProblem;
use loaded::{Loaded, TORN_READ_RETRIES};
use login::Login;
use refresh::Reason;
use renew::Flight;
pub(crate) use store::replace_atomically;
pub use store::{CredentialsStore, Source as LoginSource};

use crate::headers::Identity;
use crate::secret::Secret;

/// The OAuth client id of the codex CLI; refresh tokens are bound to it.
pub const CODEX_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
pub const DEFAULT_AUTH_URL: &str = "https://auth.openai.com";
/// The codex CLI's own override for the token endpoint; honoured so both programs agree.
pub const REFRESH_URL_OVERRIDE_ENV: &str = "CODEX_REFRESH_TOKEN_URL_OVERRIDE";

/// How long a read of the keyring is reused on the hot path; a refresh, a 401 and a save read it again.
const KEYRING_FRESH: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Codex login found at {path}: run `codex login` first")]
    NotLoggedIn { path: PathBuf },
    /// The login is not where the CLI's `cli_auth_credentials_store` says, or that store is unusable.
    #[error(transparent)]
    InKeyring(StoreProblem),
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

/// How fresh a read of the keyring must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// One of the last [`KEYRING_FRESH`] will do (every request).
    Recent,
    /// Read after this call began (a refresh, a 401, waiting for another writer).
    Now,
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
    /// Where it was read from: auth.json or the OS keyring.
    pub source: LoginSource,
}

/// Where auth.json lives and where refreshes go.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub codex_home: PathBuf,
    /// Base of the token endpoint; the request goes to `{auth_url}/oauth/token`.
    pub auth_url: String,
    /// Full token URL that wins over `auth_url` (the codex CLI's `CODEX_REFRESH_TOKEN_URL_OVERRIDE`).
    pub token_url_override: Option<String>,
    /// Where the codex CLI keeps the login (its `cli_auth_credentials_store`).
    pub credentials_store: CredentialsStore,
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

    /// Where the login is read from, for people; `source` is where the last read found it (`auto` may
    /// find it in either).
    pub fn describe_store(&self, source: Option<LoginSource>) -> String {
        let keyring = || {
            format!(
                "the OS keyring (service \"{KEYRING_SERVICE}\", account \"{}\")",
                keyring::account(&self.codex_home)
            )
        };
        let file = self.auth_file().display().to_string();
        match (self.credentials_store, source) {
            (CredentialsStore::File, _) => file,
            (CredentialsStore::Keyring, _) => keyring(),
            (CredentialsStore::Auto, Some(LoginSource::Keyring)) => format!("{} (auto)", keyring()),
            (CredentialsStore::Auto, Some(LoginSource::File)) => {
                format!("{file} (auto: the OS keyring has no entry or does not answer)")
            }
            (CredentialsStore::Auto, None) => format!("{}, else {file} (auto)", keyring()),
            (CredentialsStore::Ephemeral, _) => {
                "the codex CLI's own memory (ephemeral), which other programs cannot read"
                    .to_owned()
            }
        }
    }
}

impl LoginSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginSource::File => "file",
            LoginSource::Keyring => "keyring",
        }
    }
}

/// Hands out valid credentials, refreshing the ChatGPT login when needed; cheap to call per request.
pub struct AuthManager {
    cfg: AuthConfig,
    http: reqwest::Client,
    identity: OnceLock<Identity>,
    cache: Mutex<Option<Arc<Loaded>>>,
    /// The refresh gate: held by the one caller refreshing, for the whole refresh.
    flight: tokio::sync::Mutex<Flight>,
    /// Refresh requests sent so far; a caller compares it before and after the gate to know whether a
    /// refresh ran while it waited.
    attempts: AtomicU64,
    /// One keyring read at a time: callers arriving meanwhile take its result.
    reading: tokio::sync::Mutex<()>,
}

impl AuthManager {
    pub fn new(cfg: AuthConfig, http: reqwest::Client) -> Self {
        AuthManager {
            cfg,
            http,
            identity: OnceLock::new(),
            cache: Mutex::new(None),
            flight: tokio::sync::Mutex::new(Flight::default()),
            attempts: AtomicU64::new(0),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.cfg
    }

    /// Who the client says it is (`originator`, user agent); token requests carry the same, as the codex
    /// CLI's do. The first call wins.
    pub fn use_identity(&self, identity: Identity) {
        let _ = self.identity.set(identity);
    }

    /// Credentials for the next request, refreshed first when the access token has expired or expires
    /// within 5 minutes (the codex CLI's margin).
    pub async fn credentials(&self) -> Result<Credentials, AuthError> {
        let loaded = self.current(Fresh::Recent).await?;
        if loaded.login.needs_refresh(SystemTime::now()) {
            return self.refresh(&loaded, Reason::ProactiveExpiry).await;
        }
        Ok(loaded.login.credentials())
    }

    /// The first step after the backend rejected `rejected` with a 401, as the codex CLI does: read the
    /// stored login again and retry with it — a newer token if another process refreshed, or the same one
    /// once more.
    pub async fn reload_after_unauthorized(
        &self,
        rejected: &Credentials,
    ) -> Result<Credentials, AuthError> {
        Ok(self.reread_after(rejected).await?.login.credentials())
    }

    /// The stored login read again after the backend rejected `rejected`; the same API key again is an
    /// error, since no retry can change the answer.
    async fn reread_after(&self, rejected: &Credentials) -> Result<Arc<Loaded>, AuthError> {
        let loaded = self.current(Fresh::Now).await?;
        match (&loaded.login, rejected) {
            (Login::ApiKey(key), Credentials::ApiKey(old)) if key == old => {
                Err(AuthError::KeyRejected)
            }
            _ => Ok(loaded),
        }
    }

    /// The second step after a 401: refresh (`unauthorized_recovery`), unless the stored login changed
    /// since `rejected` was handed out.
    pub async fn after_unauthorized(
        &self,
        rejected: &Credentials,
    ) -> Result<Credentials, AuthError> {
        let loaded = self.reread_after(rejected).await?;
        match (&loaded.login, rejected) {
            (Login::ApiKey(_), _) => Ok(loaded.login.credentials()),
            (Login::ChatGpt { access, .. }, _) if access != rejected.bearer() => {
                Ok(loaded.login.credentials())
            }
            (Login::ChatGpt { .. }, _) => self.refresh(&loaded, Reason::UnauthorizedRecovery).await,
        }
    }

    /// Who is logged in, without any secret; reads the file as it is now.
    pub async fn login_info(&self) -> Result<LoginInfo, AuthError> {
        let loaded = self.current(Fresh::Recent).await?;
        let source = loaded.source;
        Ok(match &loaded.login {
            Login::ApiKey(_) => LoginInfo {
                mode: AuthMode::ApiKey,
                email: None,
                plan: None,
                account_id: None,
                access_expires_at: None,
                last_refresh: None,
                source,
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
                source,
            },
        })
    }

    /// The stored login now. From auth.json: parsed again only when the file changed. From the keyring
    /// (or `auto`, which asks it first): read again when `fresh` asks for it, else at most every
    /// [`KEYRING_FRESH`].
    async fn current(&self, fresh: Fresh) -> Result<Arc<Loaded>, AuthError> {
        let home = &self.cfg.codex_home;
        let mode = self.cfg.credentials_store;
        if mode != CredentialsStore::File {
            let asked = Instant::now();
            let recent = |c: &Arc<Loaded>| match fresh {
                Fresh::Recent => c.fetched.elapsed() < KEYRING_FRESH,
                Fresh::Now => c.fetched >= asked,
            };
            if let Some(hit) = self.cached().filter(recent) {
                return Ok(hit);
            }
            let _one = self.reading.lock().await;
            if let Some(hit) = self.cached().filter(recent) {
                return Ok(hit);
            }
            let (loaded, _) = loaded::read(home, mode, TORN_READ_RETRIES).await?;
            let loaded = Arc::new(loaded);
            self.keep(loaded.clone());
            return Ok(loaded);
        }
        let version = match store::current_version(home) {
            Ok(v) => v,
            Err(e) => return Err(loaded::load_error(home, mode, store::LoadError::from_io(e))),
        };
        if let Some(hit) = self.cached().filter(|c| c.version == version) {
            return Ok(hit);
        }
        // A file caught mid-rewrite (older CLIs truncate, then write) is not worth waiting for when the last
        // good read still holds a live token: use that, and read again on the next request.
        let cached = self
            .cached()
            .filter(|c| !c.login.expired(SystemTime::now()));
        let attempts = if cached.is_some() {
            1
        } else {
            TORN_READ_RETRIES
        };
        let loaded = match loaded::read(home, mode, attempts).await {
            Ok((l, _)) => Arc::new(l),
            Err(AuthError::Unreadable { .. }) if cached.is_some() => {
                tracing::debug!("auth.json is being rewritten; using the last good read");
                return cached.ok_or_else(|| AuthError::NotLoggedIn {
                    path: store::auth_file(home),
                });
            }
            Err(e) => return Err(e),
        };
        self.keep(loaded.clone());
        Ok(loaded)
    }

    fn cached(&self) -> Option<Arc<Loaded>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keep(&self, loaded: Arc<Loaded>) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
    }
}
