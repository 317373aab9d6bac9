//! The OpenAI API: request shapes, their translation to the codex crate's types, and the answers.

pub mod chat;
pub mod chat_request;
pub mod fold;
pub mod models;
pub mod reasoning_cache;
pub mod response_store;
pub mod responses;
pub mod responses_request;
