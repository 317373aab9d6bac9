//! `POST /v1/chat/completions`: the request's serde types ([`wire`]), its translation into the neutral
//! plan ([`translate`]), and the answer as one `chat.completion` or a stream of chunks ([`render`]).

pub(crate) mod render;
pub(crate) mod translate;
