//! `POST /v1/messages` and `POST /v1/messages/count_tokens`.
//!
//! One block machine turns the folder's pieces into Anthropic's content blocks (text, thinking,
//! tool_use), each opened, filled and closed in turn. Streaming writes its events as they come
//! (`message_start`, `ping`, `content_block_start`/`_delta`/`_stop`, `message_delta`, `message_stop`, and
//! a `ping` whenever the backend is silent for a while); non-streaming applies the same events to build
//! the message.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codex_client::request::Reasoning;
use codex_client::{CodexError, ResponseEvent, ResponsesRequest, Usage};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};

use super::count;
use super::error::{error_type, AnthropicError, ErrorDetail};
use super::request::{signature, MessagesRequest, Thinking, Translated};
use crate::app::App;
use crate::fold::{FinishReason, Folder, Piece};
use crate::http::error::ApiError;
use crate::http::json::parse_json;
use crate::http::observe::{RequestLog, UpstreamClock};
use crate::reasoning_cache::Turn;
use crate::upstream::{
    arguments_object, check_model, choose_effort, derived_cache_key, failure_error, split_model,
    Exchange,
};

/// A `ping` goes out when the backend has sent nothing for this long (it may be reasoning at length
/// with nothing to show), so that clients and proxies see a live connection.
const PING_AFTER: Duration = Duration::from_secs(10);

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AnthropicError> {
    let mut req: MessagesRequest = parse_json(&body)?;
    app.fill_model(&mut req.model);
    let streaming = req.stream;
    let requested = req.model.clone();
    let translated = req.translate()?;
    let thinking = translated.thinking;
    let mut clock = UpstreamClock::default();
    let (upstream, model) = clock
        .time(build(&app, &requested, translated, session(&headers)))
        .await?;
    let estimate = count::input_tokens(&upstream.instructions, &upstream.input, &upstream.tools);
    let exchange = clock.time(Exchange::begin(&app, upstream)).await?;
    let meta = Meta {
        id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        model,
        estimate,
    };
    let mut log = RequestLog {
        model: Some(meta.model.clone()),
        ..RequestLog::default()
    };
    let mut resp = if streaming {
        sse(app, exchange, meta, thinking)
    } else {
        let m = clock.time(collect(&app, exchange, &meta, thinking)).await?;
        log.tokens = Some((
            m.usage.input_tokens + m.usage.cache_read_input_tokens,
            m.usage.output_tokens,
        ));
        axum::Json(m).into_response()
    };
    log.upstream = clock.elapsed();
    resp.extensions_mut().insert(log);
    Ok(resp)
}

/// `{"input_tokens": N}`: an estimate, see [`count`].
pub async fn count_tokens(body: Bytes) -> Result<Response, AnthropicError> {
    let req: MessagesRequest = parse_json(&body)?;
    let t = req.translate()?;
    let n = count::input_tokens(&t.instructions, &t.input, &t.tools);
    Ok(axum::Json(serde_json::json!({ "input_tokens": n })).into_response())
}

fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The upstream request, and the Codex model it names.
async fn build(
    app: &App,
    requested: &str,
    t: Translated,
    session: Option<String>,
) -> Result<(ResponsesRequest, String), AnthropicError> {
    if requested.trim().is_empty() {
        return Err(ApiError::invalid("`model` must not be empty")
            .with_param("model")
            .into());
    }
    let target = app.model_map.map(requested);
    let (slug, named) = split_model(target);
    check_model(app, requested, slug).await?;
    let effort = choose_effort(app, slug, named, t.want).await?;
    let instructions = if t.instructions.trim().is_empty() {
        app.defaults.instructions.clone()
    } else {
        t.instructions
    };
    let input = app.reasoning.restore(t.input);
    let cache_key = t
        .cache_key
        .or(session)
        .unwrap_or_else(|| derived_cache_key(slug, &instructions, &input));
    let mut req = ResponsesRequest::new(slug, instructions, input);
    req.prompt_cache_key = Some(cache_key);
    req.tools = t.tools;
    req.tool_choice = t.tool_choice;
    req.parallel_tool_calls = t.parallel_tool_calls;
    req.reasoning = Some(Reasoning {
        effort,
        // Summaries are asked for only when they will be shown.
        summary: app
            .defaults
            .reasoning_summary
            .filter(|_| t.thinking == Thinking::Summarized),
    });
    req.text = t.text;
    if t.priority {
        req.service_tier = Some("priority".to_owned());
    }
    Ok((req, slug.to_owned()))
}

struct Meta {
    id: String,
    model: String,
    estimate: u64,
}

// ---- wire shapes ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<String>,
    usage: MessageUsage,
}

#[derive(Serialize)]
struct MessageUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Serialize)]
struct OutputDetails {
    thinking_tokens: u64,
}

/// The backend counts cached tokens inside `input_tokens`; Anthropic counts them apart.
fn usage(u: Option<Usage>) -> MessageUsage {
    let u = u.unwrap_or_default();
    let cached = u.input_tokens_details.cached_tokens.min(u.input_tokens);
    MessageUsage {
        input_tokens: u.input_tokens - cached,
        output_tokens: u.output_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
        output_tokens_details: Some(OutputDetails {
            thinking_tokens: u.output_tokens_details.reasoning_tokens,
        }),
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutBlock {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Map<String, Value>,
    },
}

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
enum BlockDelta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: &'a OutBlock,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: &'a BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: MessageUsage,
    },
    MessageStop,
    Error {
        error: ErrorDetail,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
            Event::Error { .. } => "error",
        }
    }

    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(self.name().as_bytes());
        buf.extend_from_slice(b"\ndata: ");
        // Serialising plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, self);
        buf.extend_from_slice(b"\n\n");
    }
}

fn stop_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Stop => "end_turn",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::Length => "max_tokens",
        FinishReason::ContentFilter => "refusal",
    }
}

// ---- the block machine ---------------------------------------------------------------------------------

/// What happens to the content blocks, in order.
#[derive(Debug, Clone, PartialEq)]
enum BlockEvent {
    Start(u32, OutBlock),
    Delta(u32, BlockDelta),
    Stop(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text(u32),
    Thinking(u32),
    Tool { block: u32, call: u32 },
}

/// Turns pieces into block events: one block open at a time, closed when something else begins.
struct Blocks {
    thinking: Thinking,
    open: Open,
    next: u32,
}

impl Blocks {
    fn new(thinking: Thinking) -> Blocks {
        Blocks {
            thinking,
            open: Open::None,
            next: 0,
        }
    }

    fn close(&mut self, out: &mut Vec<BlockEvent>) {
        match std::mem::replace(&mut self.open, Open::None) {
            Open::None => {}
            Open::Text(i) | Open::Thinking(i) | Open::Tool { block: i, .. } => {
                out.push(BlockEvent::Stop(i))
            }
        }
    }

    fn start(&mut self, block: OutBlock, out: &mut Vec<BlockEvent>) -> u32 {
        self.close(out);
        let i = self.next;
        self.next += 1;
        out.push(BlockEvent::Start(i, block));
        i
    }

    fn thinking_block(&mut self, out: &mut Vec<BlockEvent>) -> u32 {
        if let Open::Thinking(i) = self.open {
            return i;
        }
        let i = self.start(
            OutBlock::Thinking {
                thinking: String::new(),
                signature: String::new(),
            },
            out,
        );
        self.open = Open::Thinking(i);
        i
    }

    /// Feeds one piece; returns the finish when it is the end.
    fn piece(
        &mut self,
        p: Piece<'_>,
        out: &mut Vec<BlockEvent>,
    ) -> Option<(FinishReason, Option<Usage>)> {
        match p {
            Piece::Content(t) => {
                let i = match self.open {
                    Open::Text(i) => i,
                    _ => {
                        let i = self.start(
                            OutBlock::Text {
                                text: String::new(),
                            },
                            out,
                        );
                        self.open = Open::Text(i);
                        i
                    }
                };
                out.push(BlockEvent::Delta(
                    i,
                    BlockDelta::Text { text: t.to_owned() },
                ));
            }
            Piece::Reasoning(t) => {
                if self.thinking == Thinking::Summarized {
                    let i = self.thinking_block(out);
                    out.push(BlockEvent::Delta(
                        i,
                        BlockDelta::Thinking {
                            thinking: t.to_owned(),
                        },
                    ));
                }
            }
            Piece::ReasoningDone { encrypted_content } => {
                let shown = self.thinking != Thinking::Off;
                let open = matches!(self.open, Open::Thinking(_));
                if shown && (open || encrypted_content.is_some()) {
                    let i = self.thinking_block(out);
                    if let Some(enc) = encrypted_content {
                        out.push(BlockEvent::Delta(
                            i,
                            BlockDelta::Signature {
                                signature: signature(enc),
                            },
                        ));
                    }
                    self.close(out);
                }
            }
            Piece::ToolCallStart { index, id, name } => {
                let block = self.start(
                    OutBlock::ToolUse {
                        id: id.to_owned(),
                        name: name.to_owned(),
                        input: Map::new(),
                    },
                    out,
                );
                self.open = Open::Tool { block, call: index };
            }
            Piece::ToolCallArgs { index, args } => {
                if let Open::Tool { block, call } = self.open {
                    if call == index {
                        out.push(BlockEvent::Delta(
                            block,
                            BlockDelta::InputJson {
                                partial_json: args.to_owned(),
                            },
                        ));
                    }
                }
            }
            Piece::ToolCallDone { index, .. } => {
                if matches!(self.open, Open::Tool { call, .. } if call == index) {
                    self.close(out);
                }
            }
            Piece::Finish { reason, usage } => {
                self.close(out);
                return Some((reason, usage));
            }
        }
        None
    }
}

/// Applies block events to build the content of a whole message.
#[derive(Default)]
struct Content {
    blocks: Vec<OutBlock>,
    /// The argument text of each tool_use block so far, by block index.
    json: Vec<String>,
}

impl Content {
    fn apply(&mut self, ev: BlockEvent) {
        match ev {
            BlockEvent::Start(_, b) => {
                self.blocks.push(b);
                self.json.push(String::new());
            }
            BlockEvent::Delta(i, d) => {
                let i = i as usize;
                match (self.blocks.get_mut(i), d) {
                    (Some(OutBlock::Text { text }), BlockDelta::Text { text: t }) => {
                        text.push_str(&t)
                    }
                    (
                        Some(OutBlock::Thinking { thinking, .. }),
                        BlockDelta::Thinking { thinking: t },
                    ) => thinking.push_str(&t),
                    (
                        Some(OutBlock::Thinking { signature, .. }),
                        BlockDelta::Signature { signature: s },
                    ) => *signature = s,
                    (Some(OutBlock::ToolUse { .. }), BlockDelta::InputJson { partial_json }) => {
                        if let Some(j) = self.json.get_mut(i) {
                            j.push_str(&partial_json);
                        }
                    }
                    _ => {}
                }
            }
            BlockEvent::Stop(i) => {
                let i = i as usize;
                if let (Some(OutBlock::ToolUse { name, input, .. }), Some(json)) =
                    (self.blocks.get_mut(i), self.json.get(i))
                {
                    *input = arguments_object(name, json);
                }
            }
        }
    }
}

// ---- non-streaming -------------------------------------------------------------------------------------

async fn collect<'m>(
    app: &App,
    mut upstream: Exchange,
    meta: &'m Meta,
    thinking: Thinking,
) -> Result<Message<'m>, AnthropicError> {
    let mut folder = Folder::default();
    let mut blocks = Blocks::new(thinking);
    let mut content = Content::default();
    let mut turn = Turn::default();
    let mut finish = None;
    while let Some(ev) = upstream.next().await {
        let ev = ev?;
        let mut events = Vec::new();
        folder
            .push(&ev, &mut |p| {
                if let Some(f) = blocks.piece(p, &mut events) {
                    finish = Some(f);
                }
            })
            .map_err(failure_error)?;
        events.into_iter().for_each(|e| content.apply(e));
        turn.observe(&ev);
        if folder.is_done() {
            break;
        }
    }
    let (reason, u) = finish.ok_or(CodexError::StreamClosed)?;
    if matches!(reason, FinishReason::Stop | FinishReason::ToolCalls) {
        app.reasoning.remember(turn);
    }
    Ok(Message {
        id: &meta.id,
        kind: "message",
        role: "assistant",
        model: &meta.model,
        content: content.blocks,
        stop_reason: Some(stop_reason(reason)),
        stop_sequence: None,
        usage: usage(u),
    })
}

// ---- streaming -----------------------------------------------------------------------------------------

struct Stream {
    app: Arc<App>,
    exchange: Exchange,
    folder: Folder,
    blocks: Blocks,
    turn: Turn,
    done: bool,
}

impl Stream {
    /// The frames for one backend event; whether the stream is over.
    fn event(&mut self, ev: &ResponseEvent, buf: &mut Vec<u8>) -> bool {
        let mut events = Vec::new();
        let mut finish = None;
        let blocks = &mut self.blocks;
        let res = self.folder.push(ev, &mut |p| {
            if let Some(f) = blocks.piece(p, &mut events) {
                finish = Some(f);
            }
        });
        for e in &events {
            match e {
                BlockEvent::Start(index, block) => Event::ContentBlockStart {
                    index: *index,
                    content_block: block,
                },
                BlockEvent::Delta(index, delta) => Event::ContentBlockDelta {
                    index: *index,
                    delta,
                },
                BlockEvent::Stop(index) => Event::ContentBlockStop { index: *index },
            }
            .write(buf);
        }
        self.turn.observe(ev);
        if let ResponseEvent::Completed { .. } = ev {
            self.app.reasoning.remember(std::mem::take(&mut self.turn));
        }
        if let Some((reason, u)) = finish {
            Event::MessageDelta {
                delta: StopDelta {
                    stop_reason: stop_reason(reason),
                    stop_sequence: None,
                },
                usage: usage(u),
            }
            .write(buf);
            Event::MessageStop.write(buf);
        }
        if let Err(f) = res {
            error_event(buf, &failure_error(f));
        }
        self.folder.is_done()
    }
}

fn error_event(buf: &mut Vec<u8>, err: &ApiError) {
    Event::Error {
        error: ErrorDetail {
            kind: error_type(err.status),
            message: super::error::anthropic_message(err),
        },
    }
    .write(buf);
}

fn sse(app: Arc<App>, exchange: Exchange, meta: Meta, thinking: Thinking) -> Response {
    let mut head = Vec::new();
    Event::MessageStart {
        message: Message {
            id: &meta.id,
            kind: "message",
            role: "assistant",
            model: &meta.model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            // The backend counts input only at the end; until then, the estimate.
            usage: MessageUsage {
                input_tokens: meta.estimate,
                output_tokens: 0,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 0,
                output_tokens_details: None,
            },
        },
    }
    .write(&mut head);
    Event::Ping.write(&mut head);

    let state = Stream {
        app,
        exchange,
        folder: Folder::default(),
        blocks: Blocks::new(thinking),
        turn: Turn::default(),
        done: false,
    };
    let rest = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut buf = Vec::new();
            match tokio::time::timeout(PING_AFTER, st.exchange.next()).await {
                Err(_) => Event::Ping.write(&mut buf),
                Ok(None) => {
                    error_event(&mut buf, &ApiError::from(CodexError::StreamClosed));
                    st.done = true;
                }
                Ok(Some(Err(e))) => {
                    error_event(&mut buf, &ApiError::from(e));
                    st.done = true;
                }
                Ok(Some(Ok(ev))) => st.done = st.event(&ev, &mut buf),
            }
            if !buf.is_empty() || st.done {
                return Some((Ok::<_, std::io::Error>(Bytes::from(buf)), st));
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(Bytes::from(head)) }).chain(rest);
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(thinking: Thinking, pieces: Vec<Piece<'_>>) -> (Vec<BlockEvent>, Vec<OutBlock>) {
        let mut b = Blocks::new(thinking);
        let mut events = Vec::new();
        for p in pieces {
            b.piece(p, &mut events);
        }
        let mut c = Content::default();
        events.iter().cloned().for_each(|e| c.apply(e));
        (events, c.blocks)
    }

    fn conversation<'a>() -> Vec<Piece<'a>> {
        vec![
            Piece::Reasoning("plan"),
            Piece::ReasoningDone {
                encrypted_content: Some("ENC"),
            },
            Piece::ReasoningDone {
                encrypted_content: Some("ENC2"),
            },
            Piece::Content("Let me "),
            Piece::Content("check."),
            Piece::ToolCallStart {
                index: 0,
                id: "call_1",
                name: "f",
            },
            Piece::ToolCallArgs {
                index: 0,
                args: "{\"a\"",
            },
            Piece::ToolCallArgs {
                index: 0,
                args: ":1}",
            },
            Piece::ToolCallDone {
                index: 0,
                arguments: "{\"a\":1}",
            },
            Piece::Finish {
                reason: FinishReason::ToolCalls,
                usage: None,
            },
        ]
    }

    #[test]
    fn blocks_open_fill_and_close_in_turn() {
        let (events, blocks) = run(Thinking::Summarized, conversation());
        let starts = events
            .iter()
            .filter(|e| matches!(e, BlockEvent::Start(..)))
            .count();
        let stops = events
            .iter()
            .filter(|e| matches!(e, BlockEvent::Stop(..)))
            .count();
        assert_eq!((starts, stops), (4, 4));
        // Never a delta for a block that is not open.
        let mut open = None;
        for e in &events {
            match e {
                BlockEvent::Start(i, _) => {
                    assert_eq!(open, None);
                    open = Some(*i)
                }
                BlockEvent::Delta(i, _) => assert_eq!(open, Some(*i)),
                BlockEvent::Stop(i) => {
                    assert_eq!(open, Some(*i));
                    open = None
                }
            }
        }
        assert_eq!(
            blocks,
            vec![
                OutBlock::Thinking {
                    thinking: "plan".into(),
                    signature: signature("ENC")
                },
                OutBlock::Thinking {
                    thinking: String::new(),
                    signature: signature("ENC2")
                },
                OutBlock::Text {
                    text: "Let me check.".into()
                },
                OutBlock::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                    input: serde_json::from_str("{\"a\":1}").expect("obj")
                },
            ]
        );
    }

    #[test]
    fn thinking_off_or_omitted() {
        let (_, blocks) = run(Thinking::Off, conversation());
        assert_eq!(blocks.len(), 2);
        assert!(matches!(blocks[0], OutBlock::Text { .. }));
        let (_, blocks) = run(Thinking::Omitted, conversation());
        assert_eq!(
            blocks[0],
            OutBlock::Thinking {
                thinking: String::new(),
                signature: signature("ENC")
            }
        );
    }

    #[test]
    fn usage_counts_cached_input_apart() {
        let u = usage(Some(Usage {
            input_tokens: 100,
            input_tokens_details: codex_client::events::InputTokensDetails { cached_tokens: 60 },
            output_tokens: 9,
            output_tokens_details: codex_client::events::OutputTokensDetails {
                reasoning_tokens: 4,
            },
            total_tokens: 109,
        }));
        assert_eq!((u.input_tokens, u.cache_read_input_tokens), (40, 60));
        assert_eq!(u.output_tokens_details.map(|d| d.thinking_tokens), Some(4));
    }
}
