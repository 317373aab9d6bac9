//! The Responses API: the request's shape (`wire`), its translation to the codex crate's types
//! (`translate`), the turn that carries one response (`turn`), its events made schema-valid (`render`)
//! and the turn as the core driver runs it, framed for SSE or WebSocket or sent whole (`answer`).

pub(crate) mod answer;
pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod turn;
pub(crate) mod wire;
