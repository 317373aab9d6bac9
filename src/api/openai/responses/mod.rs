//! The Responses API: the request's shape (`wire`), its translation to the codex crate's types
//! (`translate`), the turn that carries one response (`turn`) and its events made schema-valid (`render`).

pub(crate) mod render;
pub(crate) mod translate;
pub(crate) mod turn;
pub(crate) mod wire;
