//! The OpenAI API: request shapes, their translation to the codex crate's types, and the answers.

pub(crate) mod chat;
pub(crate) mod known_fields;
pub(crate) mod responses;
