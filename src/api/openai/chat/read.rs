//! A chat completion request from its body: the type check, the parse and the translation, with the
//! history a client resends read once ([`crate::core::resent`]).

use std::sync::Arc;

use bytes::Bytes;

use super::wire::ChatCompletionRequest;
use crate::api::openai::known_fields::CHAT_CHECK;
use crate::core::app::App;
use crate::core::error::ApiError;
use crate::core::json::parse_json;
use crate::core::prepare::Plan;
use crate::core::resent::{self, Resent, Settled, MIN_BODY_BYTES};
use crate::core::typecheck::check_as;

/// The request as the handler needs it.
pub(crate) struct Chat {
    pub(crate) plan: Plan,
    pub(crate) streaming: bool,
    pub(crate) include_usage: bool,
}

/// Reads `body`. When it resends the messages of a recent body, only the rest is read; any error on
/// that path reads the body whole again, so an error names the same field and index either way.
pub(crate) fn read(app: &App, body: Bytes, session: Option<&str>) -> Result<Chat, ApiError> {
    read_with(&app.chat_bodies, &|m| app.fill_model(m), body, session)
}

/// [`read`] with the kept bodies and the default model's filler given.
fn read_with(
    bodies: &Resent<Settled>,
    fill_model: &dyn Fn(&mut String),
    body: Bytes,
    session: Option<&str>,
) -> Result<Chat, ApiError> {
    if let Some(hit) = bodies.find(&body) {
        let earlier = Some(hit.state.clone());
        if let Ok((chat, Some(settled))) = attempt(fill_model, &hit.rest, earlier, session) {
            if let Some(spans) = hit.whole(resent::spans(&hit.rest)) {
                bodies.keep(body, spans, Arc::new(settled), Some(&hit));
            }
            return Ok(chat);
        }
    }
    // `attempt` settles the messages of a body large enough to keep.
    let (chat, settled) = attempt(fill_model, &body, None, session)?;
    if let Some(settled) = settled {
        if let Some(spans) = resent::spans(&body) {
            bodies.keep(body, spans, Arc::new(settled), None);
        }
    }
    Ok(chat)
}

fn attempt(
    fill_model: &dyn Fn(&mut String),
    bytes: &[u8],
    earlier: Option<Arc<Settled>>,
    session: Option<&str>,
) -> Result<(Chat, Option<Settled>), ApiError> {
    if let Err(m) = check_as(bytes, CHAT_CHECK) {
        return Err(ApiError::invalid(m.message)
            .with_param(m.param)
            .with_code("invalid_type"));
    }
    let mut req: ChatCompletionRequest = parse_json(bytes)?;
    fill_model(&mut req.model);
    let streaming = req.stream;
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let keep = earlier.is_some() || bytes.len() >= MIN_BODY_BYTES;
    let (plan, settled) = req.translate_after(session, earlier, keep)?;
    Ok((
        Chat {
            plan,
            streaming,
            include_usage,
        },
        settled,
    ))
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
