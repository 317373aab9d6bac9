//! What can go wrong talking to the Codex backend, typed so the server can give each case the right status
//! and a message a person can act on. No variant ever holds a token.

use std::time::Duration;

use crate::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum CodexError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The plan's usage limit (429 `usage_limit_reached`): never retried.
    #[error("{message}")]
    UsageLimit {
        message: String,
        plan_type: Option<String>,
        /// Unix seconds.
        resets_at: Option<i64>,
        /// The limit that ran out (`x-codex-active-limit`), described for people.
        active_limit: Option<String>,
    },
    /// The plan does not include Codex.
    #[error("{message}")]
    UsageNotIncluded { message: String },
    /// Any other 429.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The backend refused the login even after a refresh.
    #[error("the Codex backend refused the login: {message}")]
    Unauthorized { message: String },
    /// A 4xx about the request itself (unsupported model or parameter, …), with the backend's message.
    #[error("{message}")]
    Rejected {
        status: u16,
        message: String,
        code: Option<String>,
    },
    /// 5xx after retries.
    #[error("the Codex backend answered HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("could not reach the Codex backend: {0}")]
    Transport(String),
    #[error("the Codex backend sent nothing for {}s", .0.as_secs())]
    IdleTimeout(Duration),
    /// `response.failed` or an `error` event.
    #[error("{message}")]
    Failed { code: String, message: String },
    #[error("the Codex backend closed the stream before response.completed")]
    StreamClosed,
    #[error("unreadable event from the Codex backend: {0}")]
    Decode(String),
}

impl CodexError {
    /// Worth another try before anything was streamed: network trouble and 5xx.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CodexError::Upstream { .. } | CodexError::Transport(_) | CodexError::IdleTimeout(_)
        )
    }
}
