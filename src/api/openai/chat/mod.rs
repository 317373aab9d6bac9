//! `POST /v1/chat/completions`: the serde types of request and answer ([`wire`]), the request's translation
//! into the neutral plan ([`translate`]), both from the body with the resent history read once
//! ([`read`]), and the answer as one `chat.completion` or a stream of chunks
//! ([`render`]).

pub(crate) mod read;
pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod wire;
