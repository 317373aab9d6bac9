//! Prewarm when a client opens codex-serve's Responses WebSocket: the conversation's upstream socket
//! is opened at once, as the codex CLI opens its socket when a session starts (see
//! `CodexClient::preconnect`), so that the client's first turn finds it open.

use std::sync::Arc;

use http::HeaderMap;

use crate::core::app::App;
use crate::core::prepare::session_id;

/// The conversation key a client's socket will use, known when it opens: `x-session-id` (the key
/// when a frame names none), else the codex CLI's `session-id`, which its frames repeat as
/// `prompt_cache_key`. Without one the key comes from the first frame, too late to open ahead.
pub(crate) fn conversation_key(headers: &HeaderMap) -> Option<String> {
    session_id(headers).or_else(|| {
        headers
            .get("session-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// Opens the conversation's upstream socket while the client gets ready to send its first frame
/// (the upgrade only: it costs no generation), for the model the client's upgrade names (the codex
/// CLI's), else the server's default. Announced before the socket's
/// first frame is read, so that the first turn waits for this socket rather than opening its own. See
/// `CodexClient::preconnect` for when it does nothing.
pub(crate) fn open_ahead(app: &Arc<App>, key: String, codex_headers: Vec<(String, String)>) {
    let Some(ahead) = app.codex.announce_socket(&key) else {
        return;
    };
    let mut model = hinted_model(&codex_headers).unwrap_or_default();
    app.fill_model(&mut model);
    let app = app.clone();
    tokio::spawn(async move {
        match app.codex.preconnect(ahead, &model, codex_headers).await {
            Ok(opened) => {
                tracing::debug!(opened, %model, "upstream socket opened ahead of the first turn")
            }
            Err(e) => tracing::debug!(error = %e, "opening the upstream socket ahead failed"),
        }
    });
}

/// The model the client's upgrade names: the codex CLI's `x-codex-routing-hint` (`model=gpt-5.5`, to
/// its built-in provider), else the `model` of its `x-codex-turn-metadata` (to a custom provider).
fn hinted_model(codex_headers: &[(String, String)]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TurnMetadata {
        model: Option<String>,
    }
    let header = |name: &str| {
        codex_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let hinted = header("x-codex-routing-hint").and_then(|hint| {
        hint.split([',', ';'])
            .find_map(|part| part.trim().strip_prefix("model="))
            .map(str::to_owned)
    });
    hinted
        .or_else(|| {
            let meta = header("x-codex-turn-metadata")?;
            serde_json::from_str::<TurnMetadata>(meta).ok()?.model
        })
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_model_comes_from_the_routing_hint_else_the_turn_metadata() {
        let hint = headers(&[
            ("x-codex-routing-hint", "model=gpt-6.2-sol"),
            ("x-codex-turn-metadata", r#"{"model":"gpt-5.5"}"#),
        ]);
        assert_eq!(hinted_model(&hint).as_deref(), Some("gpt-6.2-sol"));
        let meta = headers(&[(
            "x-codex-turn-metadata",
            r#"{"turn_id":"","model":"gpt-5.5"}"#,
        )]);
        assert_eq!(hinted_model(&meta).as_deref(), Some("gpt-5.5"));
        for none in [
            headers(&[]),
            headers(&[("x-codex-turn-metadata", "not json")]),
            headers(&[("x-codex-routing-hint", "model=")]),
        ] {
            assert_eq!(hinted_model(&none), None, "{none:?}");
        }
    }

    #[test]
    fn the_conversation_key_is_x_session_id_else_the_clis_session_id() {
        let mut h = HeaderMap::new();
        assert_eq!(conversation_key(&h), None);
        h.insert("session-id", "01a235aa".parse().expect("value"));
        assert_eq!(conversation_key(&h).as_deref(), Some("01a235aa"));
        h.insert("x-session-id", "conv-1".parse().expect("value"));
        assert_eq!(conversation_key(&h).as_deref(), Some("conv-1"));
    }
}
