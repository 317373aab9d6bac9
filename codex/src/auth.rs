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
mod store;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

pub use keyring::{account as keyring_account, KEYRING_SERVICE};
pub use loaded::StoreProblem;
use loaded::{Loaded, TORN_READ_RETRIES};
use login::Login;
use refresh::{Failure, Reason};
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
/// After `refresh_token_reused`, how long the file is watched for the winner's login.
const REUSE_PATIENCE: Duration = Duration::from_secs(5);
const REUSE_POLL: Duration = Duration::from_millis(25);
/// Refresh tokens remembered as sent (with their outcome); older ones are long gone from any file.
const SENT_MEMORY: usize = 32;
/// Another codex-serve process refreshing holds `codex-serve/refresh.lock` for at most its token request.
const PEER_PATIENCE: Duration = Duration::from_secs(35);

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

/// What came of sending one refresh token.
#[derive(Debug, Clone)]
enum Outcome {
    Refreshed,
    Refused(String),
    Unavailable(String),
}

/// The single flight's memory, behind the refresh gate.
#[derive(Default)]
struct Flight {
    /// The last refresh token sent and its outcome: the answer for the callers that waited for it.
    last: Option<(Secret, Outcome)>,
    /// Tokens sent that may have been spent: never sent again (bounded, newest last).
    spent: VecDeque<(Secret, Outcome)>,
}

impl Flight {
    fn spent_outcome(&self, token: &Secret) -> Option<&Outcome> {
        self.spent.iter().find(|(t, _)| t == token).map(|(_, o)| o)
    }

    fn remember(&mut self, token: &Secret, outcome: Outcome, spent: bool) {
        if spent {
            if self.spent.len() >= SENT_MEMORY {
                self.spent.pop_front();
            }
            self.spent.push_back((token.clone(), outcome.clone()));
        }
        self.last = Some((token.clone(), outcome));
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
        let loaded = self.current(Fresh::Now).await?;
        match (&loaded.login, rejected) {
            (Login::ApiKey(key), Credentials::ApiKey(old)) if key == old => {
                Err(AuthError::KeyRejected)
            }
            _ => Ok(loaded.login.credentials()),
        }
    }

    /// The second step after a 401: refresh (`unauthorized_recovery`), unless the stored login changed
    /// since `rejected` was handed out.
    pub async fn after_unauthorized(
        &self,
        rejected: &Credentials,
    ) -> Result<Credentials, AuthError> {
        let loaded = self.current(Fresh::Now).await?;
        match (&loaded.login, rejected) {
            (Login::ApiKey(key), Credentials::ApiKey(old)) if key == old => {
                Err(AuthError::KeyRejected)
            }
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

    /// Refreshes the login the caller saw as `seen`: once for all callers of this generation.
    async fn refresh(&self, seen: &Loaded, reason: Reason) -> Result<Credentials, AuthError> {
        let (Some(seen_access), Some(_)) = (seen.login.access(), seen.login.refresh_token()) else {
            return Ok(seen.login.credentials());
        };
        let attempts_before = self.attempts.load(Ordering::SeqCst);
        let mut flight = self.flight.lock().await;

        // A newer login than the one the caller saw (refreshed by whoever held the gate, or written by
        // another process): use it, whatever its lifetime.
        let now = self.current(Fresh::Now).await?;
        let Some(refresh_token) = now.login.refresh_token().cloned() else {
            return Ok(now.login.credentials());
        };
        if now.login.access() != Some(seen_access) {
            return Ok(now.login.credentials());
        }
        // A refresh of this very token ended while the caller waited: its result is the caller's too.
        if self.attempts.load(Ordering::SeqCst) != attempts_before {
            if let Some((token, outcome)) = &flight.last {
                if *token == refresh_token {
                    return self.settled(outcome.clone(), &now, reason);
                }
            }
        }
        // A token this process sent that may have been spent is never sent again.
        if let Some(outcome) = flight.spent_outcome(&refresh_token) {
            return self.settled(outcome.clone(), &now, reason);
        }

        // Another codex-serve process on this CODEX_HOME may be refreshing: wait for it (this lock is ours
        // alone; the CLI never takes it), then look again.
        let _peers = self.peer_lock().await;
        let now = self.current(Fresh::Now).await?;
        if now.login.access() != Some(seen_access)
            || now.login.refresh_token() != Some(&refresh_token)
        {
            return Ok(now.login.credentials());
        }

        let identity = self.identity.get();
        let url = self.cfg.token_url();
        let sent = refresh::send(&self.http, &url, identity, &refresh_token, reason).await;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        match sent {
            Ok(answer) => {
                flight.remember(&refresh_token, Outcome::Refreshed, true);
                self.save(&refresh_token, &answer).await
            }
            Err(failure) => {
                let is_reuse = failure.is_reuse();
                let (outcome, spent) = match failure {
                    Failure::Refused { code } => (Outcome::Refused(code), true),
                    Failure::Unavailable {
                        reason,
                        maybe_spent,
                    } => (Outcome::Unavailable(reason), maybe_spent),
                };
                flight.remember(&refresh_token, outcome.clone(), spent);
                let why = match &outcome {
                    Outcome::Refused(c) | Outcome::Unavailable(c) => c.clone(),
                    Outcome::Refreshed => String::new(),
                };
                tracing::warn!(reason = %why, spent, "the token endpoint did not renew the Codex login");
                if matches!(outcome, Outcome::Refused(_)) {
                    // Whoever spent it first is about to save its answer; after another refusal, a login
                    // saved meanwhile is still worth one look.
                    let patience = if is_reuse {
                        REUSE_PATIENCE
                    } else {
                        Duration::ZERO
                    };
                    if let Some(newer) = self.await_newer(&refresh_token, patience).await {
                        tracing::info!("adopted the login another process renewed concurrently");
                        return Ok(newer);
                    }
                }
                self.settled(outcome, &now, reason)
            }
        }
    }

    /// What a caller gets from a refresh that was settled without a newer login to show for it.
    fn settled(
        &self,
        outcome: Outcome,
        now: &Loaded,
        reason: Reason,
    ) -> Result<Credentials, AuthError> {
        // An early refresh that failed leaves a token that still works: use it until it expires (or the
        // backend rejects it), rather than fail a request that would succeed.
        let still_good = reason == Reason::ProactiveExpiry && !now.login.expired(SystemTime::now());
        match outcome {
            Outcome::Refreshed => Ok(now.login.credentials()),
            Outcome::Refused(code) | Outcome::Unavailable(code) if still_good => {
                tracing::debug!(reason = %code, "the Codex login could not be renewed yet; using the current token");
                Ok(now.login.credentials())
            }
            Outcome::Refused(code) => Err(AuthError::LoginExpired { code }),
            Outcome::Unavailable(why) => Err(AuthError::RefreshUnavailable(why)),
        }
    }

    /// Saves a token answer under the CLI's locks — unless the file's refresh token is no longer the one
    /// sent: then another writer won while the request was in flight, and its login is kept instead. If the
    /// answer cannot be saved, it is still used from memory (the token it replaces is spent).
    async fn save(
        &self,
        sent: &Secret,
        answer: &refresh::Answer,
    ) -> Result<Credentials, AuthError> {
        let home = &self.cfg.codex_home;
        let path = store::auth_file(home);
        let write_err = |reason: String| AuthError::Write {
            path: path.clone(),
            reason,
        };
        let mode = self.cfg.credentials_store;
        let locks = store::lock(home).await;
        let (on_disk, raw) = loaded::read(home, mode, TORN_READ_RETRIES).await?;
        if on_disk.login.refresh_token() != Some(sent) {
            drop(locks);
            tracing::info!(
                "the stored login changed while the token request was in flight; keeping that login"
            );
            let loaded = Arc::new(on_disk);
            self.keep(loaded.clone());
            return Ok(loaded.login.credentials());
        }
        let bytes = login::with_answer(&raw, answer).map_err(write_err)?;
        let login = Login::parse(&bytes).map_err(write_err)?;
        let written = match &locks {
            Ok(_) => match store::save(home, mode, &bytes).await {
                Ok(LoginSource::File) => {
                    store::current_version(home).map(|v| (v, LoginSource::File))
                }
                Ok(LoginSource::Keyring) => {
                    Ok((store::Version::of_secret(&bytes), LoginSource::Keyring))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        drop(locks);
        let (version, source) = match written {
            Ok((version, source)) => {
                tracing::info!(store = ?source, "renewed the Codex login");
                (version, source)
            }
            Err(e) => {
                // Kept for the stored login's current version: a newer one (the CLI's, `codex login`)
                // replaces it.
                tracing::error!(error = %e, store = mode.as_str(), path = %path.display(), "renewed the Codex login but could not save it; using it from memory");
                (on_disk.version, on_disk.source)
            }
        };
        let loaded = Arc::new(Loaded {
            version,
            login,
            source,
            fetched: Instant::now(),
        });
        self.keep(loaded.clone());
        Ok(loaded.login.credentials())
    }

    /// Watches the file for up to `patience` for a refresh token other than `spent`.
    async fn await_newer(&self, spent: &Secret, patience: Duration) -> Option<Credentials> {
        let deadline = Instant::now() + patience;
        loop {
            if let Ok(now) = self.current(Fresh::Now).await {
                if now.login.refresh_token().is_some_and(|t| t != spent) {
                    return Some(now.login.credentials());
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(REUSE_POLL).await;
        }
    }

    /// `$CODEX_HOME/codex-serve/refresh.lock`, held across a token request so that two codex-serve
    /// processes never spend one token. Best effort: without it (no directory, a stuck peer) the refresh
    /// goes ahead, and `refresh_token_reused` handling covers the race.
    async fn peer_lock(&self) -> Option<nix::fcntl::Flock<std::fs::File>> {
        let dir = self.cfg.codex_home.join("codex-serve");
        let made = std::os::unix::fs::DirBuilderExt::mode(
            std::fs::DirBuilder::new().recursive(true),
            0o700,
        )
        .create(&dir);
        if let Err(e) = made {
            tracing::debug!(error = %e, "no codex-serve directory for the refresh lock");
            return None;
        }
        match tokio::time::timeout(PEER_PATIENCE, store::lock_one(&dir.join("refresh.lock"))).await
        {
            Ok(Ok(lock)) => Some(lock),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "refreshing without waiting for other codex-serve processes");
                None
            }
            Err(_) => None,
        }
    }
}
