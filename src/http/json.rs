//! Request bodies as typed requests: the parser is protocol-neutral and lives in `crate::core::json`.

pub(crate) use crate::core::json::parse_json;
