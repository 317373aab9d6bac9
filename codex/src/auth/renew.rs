//! Renewing the ChatGPT login once for all callers (the rules are in the parent module's docs): the
//! refresh gate's memory of what each token sent got, the refresh of one generation, saving the answer
//! under the codex CLI's locks, and watching for the login another process renewed.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::loaded::{self, Loaded, TORN_READ_RETRIES};
use super::login::{self, Login};
use super::refresh::{self, Failure, Reason};
use super::{store, AuthError, AuthManager, Credentials, Fresh, LoginSource};
use crate::secret::Secret;

/// After `refresh_token_reused`, how long the file is watched for the winner's login.
const REUSE_PATIENCE: Duration = Duration::from_secs(5);
const REUSE_POLL: Duration = Duration::from_millis(25);
/// Refresh tokens remembered as sent (with their outcome); older ones are long gone from any file.
const SENT_MEMORY: usize = 32;
/// Another codex-serve process refreshing holds `codex-serve/refresh.lock` for at most its token request.
const PEER_PATIENCE: Duration = Duration::from_secs(35);

/// What came of sending one refresh token.
#[derive(Debug, Clone)]
enum Outcome {
    Refreshed,
    Refused(String),
    Unavailable(String),
}

/// The single flight's memory, behind the refresh gate.
#[derive(Default)]
pub(super) struct Flight {
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

impl AuthManager {
    /// Refreshes the login the caller saw as `seen`: once for all callers of this generation.
    pub(super) async fn refresh(
        &self,
        seen: &Loaded,
        reason: Reason,
    ) -> Result<Credentials, AuthError> {
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
