//! The Anthropic Messages API's routes: `POST /v1/messages` (extract, translate, prepare, drive) and
//! `POST /v1/messages/count_tokens`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

// The parts of the Anthropic API the router names directly.
use crate::api::anthropic::count;
use crate::api::anthropic::error::AnthropicError;
use crate::api::anthropic::render::{Meta, Sse, Whole};
use crate::api::anthropic::translate::Translated;
use crate::api::anthropic::wire::MessagesRequest;
pub(crate) use crate::api::anthropic::{error, known_fields};
use crate::core::app::App;
use crate::core::driver::{self, Folded};
use crate::core::error::ApiError;
use crate::core::exchange::Exchange;
use crate::core::piece::Render;
use crate::core::prepare::{prepare, session_id, PreparedTurn};
use crate::http::answer::streamed;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AnthropicError> {
    let mut req: MessagesRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    let streaming = req.stream;
    let requested = req.model.clone();
    if requested.trim().is_empty() {
        return Err(ApiError::invalid("`model` must not be empty")
            .with_param("model")
            .into());
    }
    let Translated { mut plan, thinking } = req.translate()?;
    plan.target = app.model_map.map(&requested).to_owned();
    plan.requested = requested;
    plan.session = session_id(&headers);
    let mut clock = UpstreamClock::default();
    let PreparedTurn {
        request: upstream,
        model,
    } = clock.time(prepare(&app, plan)).await?;
    let estimate = count::input_tokens(&upstream.instructions, &upstream.input, &upstream.tools);
    let exchange = clock.time(Exchange::begin(&app, upstream)).await?;
    let meta = Meta {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        model,
        estimate,
    };
    let mut log = RequestLog {
        model: Some(meta.model.clone()),
        ..RequestLog::default()
    };
    let mut resp = if streaming {
        streamed(
            driver::stream(app, exchange, Folded::render(Sse::new(meta, thinking))),
            <Sse as Render>::CONTENT_TYPE,
        )
    } else {
        let m = clock
            .time(driver::collect(
                &app,
                exchange,
                Folded::gather(Whole::new(meta, thinking)),
            ))
            .await?;
        log.tokens = Some((
            m.usage.input_tokens + m.usage.cache_read_input_tokens,
            m.usage.output_tokens,
        ));
        axum::Json(m).into_response()
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

/// `{"input_tokens": N}`: an estimate, see [`count`].
pub async fn count_tokens(body: Bytes) -> Result<Response, AnthropicError> {
    let req: MessagesRequest = parse_json(&body)?;
    let Translated { plan, .. } = req.translate()?;
    let instructions = plan.instructions.as_deref().unwrap_or_default();
    let n = count::input_tokens(instructions, &plan.input, &plan.tools);
    Ok(axum::Json(serde_json::json!({ "input_tokens": n })).into_response())
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        crate::http::error::respond(&self.0, self.body())
    }
}
