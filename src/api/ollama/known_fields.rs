//! The JSON types of the fields Ollama's API defines for `/api/chat`, `/api/generate` and `/api/show`,
//! used or not by codex-serve, with the Go types Ollama reads them into, so a wrong-typed value is refused
//! in Ollama's words ("json: cannot unmarshal string into Go struct field ChatRequest.stream of type
//! bool"). Fields Ollama decodes itself (`keep_alive`, `think`, `format`, `images`) are left to the
//! request parser.

use crate::core::typecheck::Shape::{self, Arr, Bool, Go, Int, Obj, Str};
use crate::core::typecheck::{Known, Wording};

pub(crate) const CHAT_CHECK: Known = Known(&CHAT, Wording::Ollama("ChatRequest"));
pub(crate) const GENERATE_CHECK: Known = Known(&GENERATE, Wording::Ollama("GenerateRequest"));
pub(crate) const SHOW_CHECK: Known = Known(&SHOW, Wording::Ollama("ShowRequest"));

const OPTIONS: Shape = Obj(&[]);

const TOOL_CALL: Shape = Obj(&[(
    "function",
    Go(
        "api.ToolCallFunction",
        &Obj(&[("index", Int), ("name", Str)]),
    ),
)]);

const MESSAGE: Shape = Obj(&[
    ("role", Str),
    ("content", Str),
    ("thinking", Str),
    ("tool_calls", Go("[]api.ToolCall", &Arr(&TOOL_CALL))),
    ("tool_name", Str),
]);

const TOOL: Shape = Obj(&[
    ("type", Str),
    (
        "function",
        Go(
            "api.ToolFunction",
            &Obj(&[("name", Str), ("description", Str)]),
        ),
    ),
]);

pub(crate) static CHAT: Shape = Obj(&[
    ("model", Str),
    ("messages", Go("[]api.Message", &Arr(&MESSAGE))),
    ("stream", Bool),
    ("tools", Go("api.Tools", &Arr(&TOOL))),
    ("options", OPTIONS),
    ("truncate", Bool),
    ("shift", Bool),
]);

pub(crate) static GENERATE: Shape = Obj(&[
    ("model", Str),
    ("prompt", Str),
    ("suffix", Str),
    ("system", Str),
    ("template", Str),
    ("context", Arr(&Int)),
    ("stream", Bool),
    ("raw", Bool),
    ("options", OPTIONS),
    ("truncate", Bool),
    ("shift", Bool),
]);

pub(crate) static SHOW: Shape = Obj(&[
    ("model", Str),
    ("name", Str),
    ("system", Str),
    ("template", Str),
    ("verbose", Bool),
    ("options", OPTIONS),
]);
