//! What `codex-serve doctor` asks the backend, each asked now rather than from a cache, none of it
//! costing a generation.

use std::time::Duration;

use super::CodexClient;
use crate::error::{transport_message, CodexError};
use crate::routing::Route;

impl CodexClient {
    /// `codex-serve doctor`: the model catalog asked of the backend now (not from a cache), which costs
    /// no generation; the number of models listed.
    pub async fn check_backend(&self) -> Result<usize, CodexError> {
        Ok(self.fetch_models().await?.len())
    }

    /// `codex-serve doctor`: the workspace check asked now, not from the cache.
    pub async fn check_route(&self) -> Result<Route, String> {
        let creds = self.auth.credentials().await.map_err(|e| e.to_string())?;
        match creds.account_id() {
            Some(account) => self.router.check(&self.identity, &creds, account).await,
            None => Ok(Route::default()),
        }
    }

    /// `codex-serve doctor`: a GET of the token endpoint, which refreshes nothing; any HTTP answer (a 405
    /// for the wrong method) means it can be reached.
    pub async fn check_token_endpoint(&self) -> Result<u16, String> {
        let url = self.auth.config().token_url();
        let resp = self
            .http
            .get(&url)
            .header("connection", "close")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| transport_message(&e))?;
        Ok(resp.status().as_u16())
    }
}
