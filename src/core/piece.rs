//! What every API's answer is made of, whatever its wire: the [`Piece`]s the fold yields (text,
//! reasoning, tool calls, the finish) and the two ways an API writes them, [`Render`] for a stream and
//! [`Gather`] for one whole answer. The fold that makes pieces from the backend's events is
//! [`fold`](super::fold); the driver that runs either face is [`driver`](super::driver).

use std::time::Duration;

use codex_client::Usage;

use super::error::ApiError;

/// A piece of an answer, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece<'a> {
    Content(&'a str),
    Reasoning(&'a str),
    /// A reasoning item is over (after its text, if any): the encrypted reasoning the backend can resume
    /// from, when it sent one.
    ReasoningDone {
        encrypted_content: Option<&'a str>,
    },
    ToolCallStart {
        index: u32,
        id: &'a str,
        name: &'a str,
    },
    ToolCallArgs {
        index: u32,
        args: &'a str,
    },
    /// A tool call is complete: its whole argument text, as the backend's final item has it.
    ToolCallDone {
        index: u32,
        arguments: &'a str,
    },
    Finish {
        reason: FinishReason,
        usage: Option<Usage>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }
}

/// The stream ended in failure: code and message for the client.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// How an API writes a streamed answer, piece by piece.
pub(crate) trait Render: Send + 'static {
    /// The stream's `content-type`.
    const CONTENT_TYPE: &'static str;
    /// Written when the backend has been silent this long (a reasoning model can think for minutes),
    /// so that clients and proxies see a live connection.
    const KEEP_ALIVE: Option<Duration> = None;

    /// Sent at once, before anything from the backend.
    fn head(&mut self, _out: &mut Vec<u8>) {}
    /// One piece of the answer; the last is `Piece::Finish`.
    fn piece(&mut self, p: Piece<'_>, out: &mut Vec<u8>);
    /// A failure after the stream began: the stream ends after it.
    fn error(&mut self, err: &ApiError, out: &mut Vec<u8>);
    /// The keep-alive frame.
    fn keep_alive(&mut self, _out: &mut Vec<u8>) {}
    /// Whether the answer's reasoning is kept for the client's next turn.
    fn remembers(&self) -> bool {
        true
    }
}

/// How an API builds one whole answer from its pieces.
pub(crate) trait Gather {
    type Output;
    /// One piece of the answer (`Piece::Finish` too).
    fn piece(&mut self, p: Piece<'_>);
    /// The answer, once the backend finished it.
    fn finish(self, reason: FinishReason, usage: Option<Usage>) -> Self::Output;
    fn remembers(&self) -> bool {
        true
    }
}

/// A tool call's arguments as a JSON object, which Ollama's and Anthropic's clients require. Arguments
/// that are not an object (the model's mistake) cannot be one; they are logged and sent as `{}`.
pub(crate) fn arguments_object(
    name: &str,
    arguments: &str,
) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(m)) => m,
        _ if arguments.trim().is_empty() => serde_json::Map::new(),
        _ => {
            tracing::warn!(
                tool = name,
                "tool call arguments are not a JSON object; sent as {{}}"
            );
            serde_json::Map::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_always_an_object() {
        assert_eq!(arguments_object("f", "{\"a\":1}")["a"], 1);
        assert!(arguments_object("f", "").is_empty());
        assert!(arguments_object("f", "[1,2]").is_empty());
        assert!(arguments_object("f", "{broken").is_empty());
    }
}
