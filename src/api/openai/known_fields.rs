//! The JSON types of every field OpenAI's published API defines for chat completions
//! (`CreateChatCompletionRequest`) and Responses (`CreateResponse`), used or not by codex-serve, so a
//! wrong-typed value is refused as OpenAI refuses it. `tests/python/test_known_fields.py` checks these
//! tables against the OpenAPI document, field by field.

use crate::core::typecheck::Shape::{self, Arr, Bool, Int, Num, Obj, OneOf, Str};
use crate::core::typecheck::{Known, Wording};

pub(crate) const CHAT_CHECK: Known = Known(&CHAT, Wording::OpenAi);
pub(crate) const RESPONSES_CHECK: Known = Known(&RESPONSES, Wording::OpenAi);

/// A free-form object (metadata, a JSON schema, options codex-serve passes over).
const OBJ: Shape = Obj(&[]);
const STRS: Shape = Arr(&Str);

const FUNCTION_DEF: Shape = Obj(&[
    ("name", Str),
    ("description", Str),
    ("parameters", OBJ),
    ("strict", Bool),
]);

const TOOL_CALL: Shape = Obj(&[
    ("id", Str),
    ("type", Str),
    ("function", Obj(&[("name", Str), ("arguments", Str)])),
]);

const CHAT_PART: Shape = Obj(&[
    ("type", Str),
    ("text", Str),
    ("refusal", Str),
    ("image_url", Obj(&[("url", Str), ("detail", Str)])),
]);

const CHAT_MESSAGE: Shape = Obj(&[
    ("role", Str),
    ("content", OneOf(&[Str, Arr(&CHAT_PART)])),
    ("name", Str),
    ("refusal", Str),
    ("tool_calls", Arr(&TOOL_CALL)),
    ("tool_call_id", Str),
    ("function_call", Obj(&[("name", Str), ("arguments", Str)])),
]);

pub(crate) static CHAT: Shape = Obj(&[
    ("model", Str),
    ("messages", Arr(&CHAT_MESSAGE)),
    ("metadata", OBJ),
    ("top_logprobs", Int),
    ("temperature", Num),
    ("top_p", Num),
    ("user", Str),
    ("safety_identifier", Str),
    ("prompt_cache_key", Str),
    ("prompt_cache_retention", Str),
    ("prompt_cache_options", OBJ),
    ("service_tier", Str),
    ("modalities", STRS),
    ("verbosity", Str),
    ("reasoning_effort", Str),
    ("max_completion_tokens", Int),
    ("frequency_penalty", Num),
    ("presence_penalty", Num),
    ("web_search_options", OBJ),
    (
        "response_format",
        Obj(&[
            ("type", Str),
            (
                "json_schema",
                Obj(&[
                    ("name", Str),
                    ("description", Str),
                    ("schema", OBJ),
                    ("strict", Bool),
                ]),
            ),
        ]),
    ),
    ("audio", OBJ),
    ("store", Bool),
    ("moderation", OBJ),
    ("stream", Bool),
    ("stop", OneOf(&[Str, STRS])),
    ("logit_bias", OBJ),
    ("logprobs", Bool),
    ("max_tokens", Int),
    ("n", Int),
    ("prediction", OBJ),
    ("seed", Int),
    (
        "stream_options",
        Obj(&[("include_usage", Bool), ("include_obfuscation", Bool)]),
    ),
    (
        "tools",
        Arr(&Obj(&[
            ("type", Str),
            ("function", FUNCTION_DEF),
            ("custom", OBJ),
        ])),
    ),
    (
        "tool_choice",
        OneOf(&[
            Str,
            Obj(&[("type", Str), ("function", Obj(&[("name", Str)]))]),
        ]),
    ),
    ("parallel_tool_calls", Bool),
    ("function_call", OneOf(&[Str, Obj(&[("name", Str)])])),
    ("functions", Arr(&FUNCTION_DEF)),
]);

const RESPONSE_PART: Shape = Obj(&[("type", Str), ("text", Str)]);

/// An input item: a message (`role`, `content`), a function call or its output, reasoning, ….
/// `arguments` is a JSON string on a `function_call` but an object on the codex CLI's `tool_search_call`.
const INPUT_ITEM: Shape = Obj(&[
    ("type", Str),
    ("role", Str),
    ("content", OneOf(&[Str, Arr(&RESPONSE_PART)])),
    ("call_id", Str),
    ("name", Str),
    ("arguments", OneOf(&[Str, OBJ])),
    ("output", OneOf(&[Str, Arr(&RESPONSE_PART)])),
]);

pub(crate) static RESPONSES: Shape = Obj(&[
    ("model", Str),
    ("input", OneOf(&[Str, Arr(&INPUT_ITEM)])),
    ("instructions", Str),
    ("metadata", OBJ),
    ("top_logprobs", Int),
    ("temperature", Num),
    ("top_p", Num),
    ("user", Str),
    ("safety_identifier", Str),
    ("prompt_cache_key", Str),
    ("prompt_cache_retention", Str),
    ("prompt_cache_options", OBJ),
    ("previous_response_id", Str),
    ("background", Bool),
    ("max_tool_calls", Int),
    (
        "text",
        Obj(&[
            (
                "format",
                Obj(&[
                    ("type", Str),
                    ("name", Str),
                    ("description", Str),
                    ("schema", OBJ),
                    ("strict", Bool),
                ]),
            ),
            ("verbosity", Str),
        ]),
    ),
    (
        "tools",
        Arr(&Obj(&[
            ("type", Str),
            ("name", Str),
            ("description", Str),
            ("parameters", OBJ),
            ("strict", Bool),
        ])),
    ),
    (
        "tool_choice",
        OneOf(&[Str, Obj(&[("type", Str), ("name", Str)])]),
    ),
    ("prompt", OBJ),
    ("service_tier", Str),
    ("truncation", Str),
    (
        "reasoning",
        Obj(&[("effort", Str), ("summary", Str), ("generate_summary", Str)]),
    ),
    ("include", STRS),
    ("parallel_tool_calls", Bool),
    ("store", Bool),
    ("moderation", OBJ),
    ("stream", Bool),
    ("stream_options", Obj(&[("include_obfuscation", Bool)])),
    ("conversation", OneOf(&[Str, OBJ])),
    ("context_management", Arr(&OBJ)),
    ("max_output_tokens", Int),
]);
