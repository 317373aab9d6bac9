//! The OpenAI API: request shapes, their translation to the codex crate's types, and the answers.

pub mod chat_render;
pub mod chat_request;
pub mod known_fields;
pub mod responses_render;
pub mod responses_request;
pub mod responses_turn;
pub mod responses_wire;
