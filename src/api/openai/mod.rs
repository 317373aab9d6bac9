//! The OpenAI API: request shapes, their translation to the codex crate's types, and the answers.

pub(crate) mod chat;
pub(crate) mod known_fields;
pub(crate) mod responses_render;
pub(crate) mod responses_request;
pub(crate) mod responses_turn;
pub(crate) mod responses_wire;
