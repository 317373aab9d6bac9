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

/// One event as received: the parsed form for folding, and the JSON text for clients that want the
/// backend's own objects (the Responses API pass-through).
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub event: ResponseEvent,
    pub data: String,
}

impl StreamEvent {
    pub fn parse(data: String) -> Result<StreamEvent, serde_json::Error> {
        let event = serde_json::from_str(&data)?;
        Ok(StreamEvent { event, data })
    }

    /// The raw JSON as a value, for callers that need fields the typed form leaves out.
    pub fn value(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_event_shapes_the_backend_sends() {
        let e: ResponseEvent =
            serde_json::from_str(r#"{"type":"response.output_text.delta","delta":"hi"}"#)
                .expect("delta");
        assert!(matches!(e, ResponseEvent::OutputTextDelta { ref delta, .. } if delta == "hi"));

        let e: ResponseEvent = serde_json::from_str(
            r#"{"type":"response.completed","response":{"id":"r","usage":{"input_tokens":3,"input_tokens_details":null,"output_tokens":2,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":5}}}"#,
        )
        .expect("completed");
        let ResponseEvent::Completed { response } = e else {
            panic!("not completed")
        };
        let usage = response.usage.expect("usage");
        assert_eq!(usage.input_tokens_details.cached_tokens, 0);
        assert_eq!(usage.output_tokens_details.reasoning_tokens, 1);

        let e: ResponseEvent = serde_json::from_str(
            r#"{"type":"response.output_item.done","item":{"type":"web_search_call","id":"ws"}}"#,
        )
        .expect("other item");
        assert!(matches!(
            e,
            ResponseEvent::OutputItemDone {
                item: OutputItem::Other,
                ..
            }
        ));

        let e: ResponseEvent =
            serde_json::from_str(r#"{"type":"response.brand_new","x":1}"#).expect("unknown type");
        assert!(matches!(e, ResponseEvent::Other));
    }
}
