//! The JSON types of the fields Anthropic's Messages API defines, used or not by codex-serve, so a
//! wrong-typed value is refused as Anthropic refuses it ("temperature: Input should be a valid number").

use crate::core::typecheck::Shape::{self, Arr, Bool, Int, Num, Obj, OneOf, Str};
use crate::core::typecheck::{Known, Wording};

pub(crate) const MESSAGES_CHECK: Known = Known(&MESSAGES, Wording::Anthropic);

const OBJ: Shape = Obj(&[]);

const TEXT_BLOCK: Shape = Obj(&[("type", Str), ("text", Str), ("cache_control", OBJ)]);

const BLOCK: Shape = Obj(&[
    ("type", Str),
    ("text", Str),
    ("source", OBJ),
    ("id", Str),
    ("name", Str),
    ("input", OBJ),
    ("tool_use_id", Str),
    ("content", OneOf(&[Str, Arr(&OBJ)])),
    ("is_error", Bool),
    ("thinking", Str),
    ("signature", Str),
    ("data", Str),
    ("cache_control", OBJ),
]);

const MESSAGE: Shape = Obj(&[("role", Str), ("content", OneOf(&[Str, Arr(&BLOCK)]))]);

pub(crate) static MESSAGES: Shape = Obj(&[
    ("model", Str),
    ("messages", Arr(&MESSAGE)),
    ("max_tokens", Int),
    ("system", OneOf(&[Str, Arr(&TEXT_BLOCK)])),
    ("metadata", Obj(&[("user_id", Str)])),
    ("stop_sequences", Arr(&Str)),
    ("stream", Bool),
    ("temperature", Num),
    ("top_p", Num),
    ("top_k", Int),
    (
        "tools",
        Arr(&Obj(&[
            ("type", Str),
            ("name", Str),
            ("description", Str),
            ("input_schema", OBJ),
            ("cache_control", OBJ),
        ])),
    ),
    (
        "tool_choice",
        Obj(&[
            ("type", Str),
            ("name", Str),
            ("disable_parallel_tool_use", Bool),
        ]),
    ),
    ("thinking", Obj(&[("type", Str), ("budget_tokens", Int)])),
    ("service_tier", Str),
    ("container", Str),
    ("mcp_servers", Arr(&OBJ)),
    ("context_management", OBJ),
    ("output_config", OBJ),
    ("output_format", OBJ),
    ("speed", Str),
]);
