//! The OpenAI API: request shapes, their translation to the codex crate's types, and the answers.

pub mod chat;
pub mod chat_request;
pub mod known_fields;
pub mod models;
pub mod response_store;
pub mod responses;
pub mod responses_request;
