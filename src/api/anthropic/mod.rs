//! The Anthropic Messages API: `POST /v1/messages` (streaming or not) and `POST /v1/messages/count_tokens`,
//! for Claude Code and the Anthropic SDKs.
//!
//! Claude model names are mapped to Codex models by [`model_map`]; requests become the codex crate's
//! typed Responses request; answers come from the shared event folder as Anthropic's content blocks.
//! Errors are Anthropic's `{"type":"error","error":{"type","message"}}`.

pub(crate) mod blocks;
pub(crate) mod count;
pub(crate) mod error;
pub(crate) mod known_fields;
pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod wire;
