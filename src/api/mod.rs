//! Layer 3, one folder per API: its wire types, the translation of a request into the neutral plan, and
//! the rendering of answers and errors in its shape. Nothing here knows axum.

pub(crate) mod anthropic;
pub(crate) mod ollama;
pub(crate) mod openai;
