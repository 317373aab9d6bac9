//! The type check of known fields (`crate::core::typecheck`) as a route layer.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use crate::core::error::ApiError;
use crate::core::typecheck::{check_as, Known};

/// A route layer: a body whose known fields have the wrong types is a 400 (`invalid_type`) in the
/// route's shape before the handler sees it.
pub(crate) async fn layer(State(known): State<Known>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // The body layer in front has already read the whole body; this only takes it back out.
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            let err = ApiError::invalid(format!("the request body could not be read: {e}"));
            return super::shaped(parts.uri.path(), err);
        }
    };
    if let Err(m) = check_as(&bytes, known) {
        let err = ApiError::invalid(m.message)
            .with_param(m.param)
            .with_code("invalid_type");
        return super::shaped(parts.uri.path(), err);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
