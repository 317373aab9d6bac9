//! The Anthropic Messages API: `POST /v1/messages` (streaming or not) and `POST /v1/messages/count_tokens`,
//! for Claude Code and the Anthropic SDKs.
//!
//! Claude model names are mapped to Codex models by [`model_map`]; requests become the codex crate's
//! typed Responses request; answers come from the shared event folder as Anthropic's content blocks.
//! Errors are Anthropic's `{"type":"error","error":{"type","message"}}`.

pub mod blocks;
pub mod count;
pub mod error;
pub mod known_fields;
pub mod render;
pub mod translate;
pub mod wire;
