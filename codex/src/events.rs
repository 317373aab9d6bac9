//! Typed events of the Responses stream, as the backend sends them.
//!
//! Fields the backend has been seen to omit (indices, ids) are optional; event types we do not know are
//! kept as `Other` so that a new backend event never breaks a stream.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum ResponseEvent {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject },
    #[serde(rename = "response.in_progress")]
    InProgress {},
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        #[serde(default)]
        output_index: Option<u32>,
        item: OutputItem,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        #[serde(default)]
        output_index: Option<u32>,
        item: OutputItem,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        #[serde(default)]
        item_id: Option<String>,
        #[serde(default)]
        output_index: Option<u32>,
        delta: String,
    },
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta {
        #[serde(default)]
        output_index: Option<u32>,
        delta: String,
    },
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded {
        #[serde(default)]
        summary_index: Option<u32>,
    },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta {
        delta: String,
        #[serde(default)]
        summary_index: Option<u32>,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta { delta: String },
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        #[serde(default)]
        item_id: Option<String>,
        #[serde(default)]
        output_index: Option<u32>,
        delta: String,
    },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: ResponseObject },
    #[serde(rename = "response.failed")]
    Failed { response: ResponseObject },
    /// The backend's own rate-limit report, sent in the stream before `response.created`.
    #[serde(rename = "codex.rate_limits")]
    RateLimits {
        #[serde(default)]
        plan_type: Option<String>,
        #[serde(default)]
        rate_limits: Option<crate::limits::EventLimits>,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
    /// Informational events we do not act on (`.done` events whose `output_item.done` is authoritative,
    /// `response.metadata`, content part bookkeeping, new event types).
    #[serde(other)]
    Other,
}

/// The `response` object carried by lifecycle events. Thin on purpose: the backend's own objects vary.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseObject {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub error: Option<ResponseError>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub input_tokens_details: InputTokensDetails,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_tokens_details: OutputTokensDetails,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct InputTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An item of the response's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum OutputItem {
    #[serde(rename = "message")]
    Message {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        content: Vec<MessageContent>,
    },
    #[serde(rename = "reasoning")]
    Reasoning {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        summary: Vec<SummaryPart>,
        #[serde(default)]
        encrypted_content: Option<String>,
    },
    #[serde(rename = "function_call")]
    FunctionCall {
        #[serde(default)]
        id: Option<String>,
        call_id: String,
        name: String,
        #[serde(default)]
        arguments: String,
    },
    /// Built-in backend items (web search, local shell, image generation, …): never the client's tools.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum MessageContent {
    #[serde(rename = "output_text")]
    OutputText {
        #[serde(default)]
        text: String,
    },
    #[serde(rename = "refusal")]
    Refusal {
        #[serde(default)]
        refusal: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SummaryPart {
    #[serde(default)]
    pub text: String,
}

// ---- parsing without buffering ----------------------------------------------------------------------
//
// The derived `Deserialize` above is internally tagged, so serde first copies every event into a generic
// `Content` tree (each string and number allocated) and then reads the variant from that copy. For
// `response.completed`, which repeats the whole answer, that copy was a third of codex-serve's work per
// request. The backend writes `type` first, so `from_json` reads it from the text and parses the payload
// straight into the variant's fields; events nothing acts on are only checked to be JSON. Anything that
// does not start with `{"type":"` goes the derived way, and the results are the same (see the tests).

/// `type` when it is the object's first key, written compactly and without escapes.
fn leading_type(data: &str) -> Option<&str> {
    let rest = data.strip_prefix(r#"{"type":""#)?;
    let end = rest.find('"')?;
    let kind = &rest[..end];
    (!kind.contains('\\')).then_some(kind)
}

/// Each payload names `type` again so that a second `type` key is refused as the derived form refuses it.
#[derive(Deserialize)]
struct WithResponse {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    response: ResponseObject,
}

#[derive(Deserialize)]
struct WithItem {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    #[serde(default)]
    output_index: Option<u32>,
    item: OutputItem,
}

// Each payload has exactly its variant's fields: a field another variant has would otherwise be checked
// here and ignored there.

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    #[serde(default)]
    item_id: Option<String>,
    #[serde(default)]
    output_index: Option<u32>,
    delta: String,
}

#[derive(Deserialize)]
struct RefusalDelta {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    #[serde(default)]
    output_index: Option<u32>,
    delta: String,
}

#[derive(Deserialize)]
struct ReasoningDelta {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    delta: String,
}

#[derive(Deserialize)]
struct SummaryDelta {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    delta: String,
    #[serde(default)]
    summary_index: Option<u32>,
}

#[derive(Deserialize)]
struct SummaryPartAdded {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    #[serde(default)]
    summary_index: Option<u32>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Bare {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
}

impl ResponseEvent {
    /// Whether this event ends the response: completed, incomplete, failed, or an error. Nothing follows it.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ResponseEvent::Completed { .. }
                | ResponseEvent::Incomplete { .. }
                | ResponseEvent::Failed { .. }
                | ResponseEvent::Error { .. }
        )
    }

    /// Parses one event's JSON: the same result as `serde_json::from_str`, without the intermediate copy.
    pub fn from_json(data: &str) -> Result<ResponseEvent, serde_json::Error> {
        use serde_json::from_str;
        let Some(kind) = leading_type(data) else {
            return from_str(data);
        };
        Ok(match kind {
            "response.created" => ResponseEvent::Created {
                response: from_str::<WithResponse>(data)?.response,
            },
            "response.completed" => ResponseEvent::Completed {
                response: from_str::<WithResponse>(data)?.response,
            },
            "response.incomplete" => ResponseEvent::Incomplete {
                response: from_str::<WithResponse>(data)?.response,
            },
            "response.failed" => ResponseEvent::Failed {
                response: from_str::<WithResponse>(data)?.response,
            },
            "response.in_progress" => {
                from_str::<Bare>(data)?;
                ResponseEvent::InProgress {}
            }
            "response.output_item.added" => {
                let p: WithItem = from_str(data)?;
                ResponseEvent::OutputItemAdded {
                    output_index: p.output_index,
                    item: p.item,
                }
            }
            "response.output_item.done" => {
                let p: WithItem = from_str(data)?;
                ResponseEvent::OutputItemDone {
                    output_index: p.output_index,
                    item: p.item,
                }
            }
            "response.output_text.delta" => {
                let p: Delta = from_str(data)?;
                ResponseEvent::OutputTextDelta {
                    item_id: p.item_id,
                    output_index: p.output_index,
                    delta: p.delta,
                }
            }
            "response.function_call_arguments.delta" => {
                let p: Delta = from_str(data)?;
                ResponseEvent::FunctionCallArgumentsDelta {
                    item_id: p.item_id,
                    output_index: p.output_index,
                    delta: p.delta,
                }
            }
            "response.refusal.delta" => {
                let p: RefusalDelta = from_str(data)?;
                ResponseEvent::RefusalDelta {
                    output_index: p.output_index,
                    delta: p.delta,
                }
            }
            "response.reasoning_summary_part.added" => ResponseEvent::ReasoningSummaryPartAdded {
                summary_index: from_str::<SummaryPartAdded>(data)?.summary_index,
            },
            "response.reasoning_summary_text.delta" => {
                let p: SummaryDelta = from_str(data)?;
                ResponseEvent::ReasoningSummaryTextDelta {
                    delta: p.delta,
                    summary_index: p.summary_index,
                }
            }
            "response.reasoning_text.delta" => ResponseEvent::ReasoningTextDelta {
                delta: from_str::<ReasoningDelta>(data)?.delta,
            },
            // Rare (once per answer at most): the derived parser is fine here.
            "codex.rate_limits" => from_str(data)?,
            "error" => {
                let p: ErrorEvent = from_str(data)?;
                ResponseEvent::Error {
                    code: p.code,
                    message: p.message,
                }
            }
            _ => {
                from_str::<Bare>(data)?;
                ResponseEvent::Other
            }
        })
    }
}

/// One event as received: the parsed form for folding, and the JSON text for clients that want the
/// backend's own objects (the Responses API pass-through).
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub event: ResponseEvent,
    pub data: String,
}

impl StreamEvent {
    pub fn parse(data: String) -> Result<StreamEvent, serde_json::Error> {
        let event = ResponseEvent::from_json(&data)?;
        Ok(StreamEvent { event, data })
    }

    /// The raw JSON as a value, for callers that need fields the typed form leaves out.
    pub fn value(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
