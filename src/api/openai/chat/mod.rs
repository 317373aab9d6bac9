//! `POST /v1/chat/completions`: the serde types of request and answer ([`wire`]), the request's translation
//! into the neutral plan ([`translate`]), and the answer as one `chat.completion` or a stream of chunks
//! ([`render`]).

pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod wire;
