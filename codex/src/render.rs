//! The neutral `ResponsesRequest` rendered as the body the codex CLI 0.171 sends for this model: the
//! classic shape (top-level `tools`) or Responses Lite (tools in a leading `additional_tools` item,
//! `reasoning.context`, no parallel calls), with the catalog's defaults for effort, summary and verbosity.
//! The front ends never see this: they build one request, and the model's catalog entry picks the shape.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::models::ModelInfo;
use crate::request::{
    ContentPart, InputItem, ReasoningEffort, ReasoningSummary, ResponsesRequest, Role,
    TextControls, Tool, ToolChoice, ToolChoiceMode, ToolOutput,
};

/// The namespace a Responses Lite model gets the client's function tools in, as the codex CLI does.
pub const FUNCTIONS_NAMESPACE: &str = "functions";
const MCP_ATTRIBUTION: &str = r#"{"status":"none"}"#;

/// The ids of one turn, shared by the body and the headers.
#[derive(Debug, Clone, Serialize)]
pub struct TurnIds {
    /// The conversation's UUIDv7: `session-id`, `thread-id`, `x-client-request-id`, `prompt_cache_key`.
    pub session: String,
    /// A fresh UUIDv7 per request.
    pub turn: String,
    /// `{session}:{n}`; n counts context windows (compactions), always 0 for a proxy.
    pub window: String,
    /// The context window's own UUIDv7, stable with the session.
    pub context_window: String,
    pub installation: String,
}

impl TurnIds {
    pub fn new(session: String, context_window: String, installation: String) -> TurnIds {
        TurnIds {
            window: format!("{session}:0"),
            turn: uuid::Uuid::now_v7().to_string(),
            session,
            context_window,
            installation,
        }
    }
}

/// `x-codex-turn-metadata`, the fields of the CLI's that mean something for a proxy (none about its
/// sandbox, sub-agents or code-mode runtime), in the CLI's order, with the values `codex exec` sends for
/// a thread a user started.
#[derive(Debug, Serialize)]
pub struct TurnMetadata<'a> {
    pub installation_id: &'a str,
    pub session_id: &'a str,
    pub thread_id: &'a str,
    pub turn_id: &'a str,
    pub window_id: &'a str,
    pub window_number: u32,
    pub context_window_id: &'a str,
    pub request_kind: &'static str,
    /// `new`: codex-serve never resumes or forks a stored thread.
    pub history_initialization: &'static str,
    /// A turn's own fields (`None` on a prewarm's upgrade, as in the CLI's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_turn_id: Option<&'a str>,
    pub thread_source: &'static str,
    /// `exec`: a request, not a person at a terminal, starts each turn (as the `codex_exec` originator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_trigger: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_started_at_unix_ms: Option<u64>,
    /// codex-serve sends no analytics.
    pub analytics_enabled: bool,
    pub model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
}

/// What a rendered request is, as its turn metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A turn, started at this time (milliseconds since the Unix epoch).
    Turn { started_at_ms: u64 },
    /// A socket opened ahead of any turn: `request_kind: "prewarm"`, an empty turn id and none of a
    /// turn's own fields, as on the upgrade the codex CLI opens when its session starts.
    Prewarm,
}

/// A rendered body and what the headers need to know about it.
#[derive(Debug)]
pub struct Rendered {
    pub body: Vec<u8>,
    /// Where the WebSocket frame puts its own fields in `body`.
    pub layout: FrameLayout,
    pub lite: bool,
    /// The turn metadata JSON, sent both in `client_metadata` and as `x-codex-turn-metadata`.
    pub turn_metadata: String,
}

/// Byte offsets into a rendered body, so that its WebSocket frame is made by copying the body's text
/// around the frame's own fields, without parsing it again: the body is `{"model":…` and ends with
/// `,"client_metadata":{…}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Just after the `model` value.
    pub model_end: usize,
    /// At the `,` before `"client_metadata"`.
    pub metadata_at: usize,
}

/// The body, keys in the CLI's order; `client_metadata` follows, last (see [`FrameLayout`]).
#[derive(Serialize)]
struct Wire<'a> {
    model: &'a str,
    stream: bool,
    input: Vec<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Tool>>,
    tool_choice: ToolChoice,
    parallel_tool_calls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<WireReasoning>,
    store: bool,
    include: &'a [String],
    prompt_cache_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextControls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'a str>,
}

#[derive(Serialize)]
struct WireReasoning {
    #[serde(skip_serializing_if = "Option::is_none")]
    effort: Option<ReasoningEffort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<ReasoningSummary>,
    /// `all_turns` for Responses Lite: the model keeps its reasoning across the turns of a conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'static str>,
}

/// Renders `req` for `model` (`None`: a model the catalog does not list, sent in the classic shape with
/// only what the client asked).
pub fn render(
    req: ResponsesRequest,
    model: Option<&ModelInfo>,
    ids: &TurnIds,
    now_ms: u64,
) -> Result<Rendered, serde_json::Error> {
    render_from(req, model, ids, now_ms, None)
}

/// [`render`] for a continuation: the backend already holds the leading items (the instructions'
/// developer message, Lite's `additional_tools`) and the first `held` items of `req.input`, so only
/// the rest is rendered, each with the id it has in the full render (ids follow the position in the
/// whole conversation). `None` renders everything.
pub fn render_from(
    req: ResponsesRequest,
    model: Option<&ModelInfo>,
    ids: &TurnIds,
    now_ms: u64,
    held: Option<usize>,
) -> Result<Rendered, serde_json::Error> {
    let kind = RequestKind::Turn {
        started_at_ms: now_ms,
    };
    render_as(req, model, ids, kind, held)
}

/// [`render_from`] for a request of `kind`.
pub fn render_as(
    req: ResponsesRequest,
    model: Option<&ModelInfo>,
    ids: &TurnIds,
    kind: RequestKind,
    held: Option<usize>,
) -> Result<Rendered, serde_json::Error> {
    render_part(req, model, ids, kind, held, false)
}

/// [`render_as`] with `held` items held, for a request whose `input` leaves them out already (only
/// the rest was copied): the same body, without copying a long history to skip it.
pub(crate) fn render_tail(
    req: ResponsesRequest,
    model: Option<&ModelInfo>,
    ids: &TurnIds,
    kind: RequestKind,
    held: usize,
) -> Result<Rendered, serde_json::Error> {
    render_part(req, model, ids, kind, Some(held), true)
}

/// `omitted`: `req.input` starts after the `held` items.
fn render_part(
    mut req: ResponsesRequest,
    model: Option<&ModelInfo>,
    ids: &TurnIds,
    kind: RequestKind,
    held: Option<usize>,
    omitted: bool,
) -> Result<Rendered, serde_json::Error> {
    let lite = model.is_some_and(|m| m.use_responses_lite);
    let original_detail = model.is_some_and(|m| m.supports_image_detail_original);
    let tools = std::mem::take(&mut req.tools)
        .into_iter()
        .map(cli_tool)
        .collect::<Vec<_>>();
    let function_names = function_names(&tools);

    let mut input = Vec::with_capacity(req.input.len() + 2);
    let mut top_level_tools = None;
    if lite {
        if !tools.is_empty() {
            input.push(InputItem::AdditionalTools {
                role: Role::Developer,
                tools: lite_tools(tools),
            });
        }
    } else if !tools.is_empty() {
        top_level_tools = Some(tools);
    }
    if !req.instructions.trim().is_empty() {
        input.push(InputItem::text(
            Role::Developer,
            std::mem::take(&mut req.instructions),
        ));
    }
    // `start`: the position of the first item sent, counted in the whole input (the ids depend on it);
    // `from`: where it is in `input`, which lacks the held items when they were left out.
    let (start, from) = match (held, omitted) {
        (Some(n), true) => (input.len() + n, input.len()),
        (held, _) => {
            let start = held.map_or(0, |n| (input.len() + n).min(input.len() + req.input.len()));
            (start, start)
        }
    };
    input.append(&mut req.input);
    let input = &mut input[from..];
    if original_detail {
        input.iter_mut().for_each(original_images);
    }
    let ns = id_namespace(&ids.session);
    let input = input
        .iter()
        .enumerate()
        .map(|(i, item)| wire_item(item, start + i, &ns, lite, &function_names))
        .collect::<Result<Vec<_>, _>>()?;

    let reasoning = reasoning(&req, model, lite);
    let effort = reasoning.as_ref().and_then(|r| r.effort);
    let text = text(req.text.take(), model);
    let parallel = !lite
        && req.parallel_tool_calls
        && model.is_none_or(|m| m.supports_parallel_tool_calls != Some(false));
    let mut include = std::mem::take(&mut req.include);
    if !include.iter().any(|i| i == "reasoning.encrypted_content") {
        include.insert(0, "reasoning.encrypted_content".into());
    }

    let started = match kind {
        RequestKind::Turn { started_at_ms } => Some(started_at_ms),
        RequestKind::Prewarm => None,
    };
    let turn = started.map(|_| ids.turn.as_str());
    let turn_metadata = serde_json::to_string(&TurnMetadata {
        installation_id: &ids.installation,
        session_id: &ids.session,
        thread_id: &ids.session,
        turn_id: turn.unwrap_or(""),
        window_id: &ids.window,
        window_number: 0,
        context_window_id: &ids.context_window,
        request_kind: if turn.is_some() { "turn" } else { "prewarm" },
        history_initialization: "new",
        root_turn_id: turn,
        thread_source: "user",
        turn_trigger: turn.map(|_| "exec"),
        turn_started_at_unix_ms: started,
        analytics_enabled: false,
        model: &req.model,
        reasoning_effort: effort,
    })?;
    // The client's keys survive (the codex CLI as a client sends its own installation and turn ids
    // and MCP attribution), except those that repeat a header codex-serve sends: body and headers must
    // tell one story.
    let mut client_metadata = req.client_metadata.take().unwrap_or_default();
    // The codex CLI's frames to codex-serve's own socket carry its Lite flag and its send time: they
    // describe that frame, not the request codex-serve sends (whose frames get their own, `ws::conn`).
    for k in [
        crate::ws::conn::LITE_METADATA_KEY,
        crate::ws::conn::START_MS_METADATA_KEY,
    ] {
        client_metadata.remove(k);
    }
    for (k, v, ours) in [
        ("x-codex-installation-id", &ids.installation, false),
        ("x-codex-window-id", &ids.window, true),
        ("session_id", &ids.session, true),
        ("thread_id", &ids.session, true),
        ("turn_id", &ids.turn, false),
        ("root_turn_id", &ids.turn, false),
        ("x-codex-turn-metadata", &turn_metadata, true),
        // No MCP server contributed to the turn (unless the client says otherwise).
        ("mcp_attribution", &MCP_ATTRIBUTION.to_owned(), false),
    ] {
        let v = Value::String(v.clone());
        if ours {
            client_metadata.insert(k.into(), v);
        } else {
            client_metadata.entry(k).or_insert(v);
        }
    }

    let wire = Wire {
        model: &req.model,
        stream: true,
        input,
        tools: top_level_tools,
        tool_choice: req
            .tool_choice
            .take()
            .unwrap_or(ToolChoice::Mode(ToolChoiceMode::Auto)),
        parallel_tool_calls: parallel,
        reasoning,
        store: false,
        include: &include,
        prompt_cache_key: &ids.session,
        text,
        service_tier: req.service_tier.as_deref(),
    };
    let mut body = serde_json::to_vec(&wire)?;
    // `{…}` → `{…,"client_metadata":{…}}`, noting where each part begins.
    body.pop();
    let metadata_at = body.len();
    body.extend_from_slice(br#","client_metadata":"#);
    serde_json::to_writer(&mut body, &client_metadata)?;
    body.push(b'}');
    let model_end = br#"{"model":"#.len() + serde_json::to_string(&req.model)?.len();
    Ok(Rendered {
        body,
        layout: FrameLayout {
            model_end,
            metadata_at,
        },
        lite,
        turn_metadata,
    })
}

/// Function tools as the CLI sends them: `strict` always present.
fn cli_tool(tool: Tool) -> Tool {
    match tool {
        Tool::Function {
            name,
            description,
            strict,
            parameters,
        } => Tool::Function {
            name,
            description,
            strict: Some(strict.unwrap_or(false)),
            parameters,
        },
        other => other,
    }
}

/// The Lite `additional_tools` list: function tools inside the `functions` namespace, the rest (web
/// search, the client's own namespaces) beside it.
fn lite_tools(tools: Vec<Tool>) -> Vec<Tool> {
    let (functions, rest): (Vec<Tool>, Vec<Tool>) = tools
        .into_iter()
        .partition(|t| matches!(t, Tool::Function { .. } | Tool::Custom { .. }));
    let mut out = Vec::with_capacity(rest.len() + 1);
    if !functions.is_empty() {
        out.push(Tool::Namespace {
            name: FUNCTIONS_NAMESPACE.into(),
            description: String::new(),
            tools: functions,
        });
    }
    out.extend(rest);
    out
}

/// Images in `detail: original` where the model takes it and the client left the choice open.
fn original_images(item: &mut InputItem) {
    let parts = match item {
        InputItem::Message { content, .. } => content,
        InputItem::FunctionCallOutput {
            output: ToolOutput::Parts(parts),
            ..
        } => parts,
        _ => return,
    };
    for part in parts {
        if let ContentPart::InputImage { detail, .. } = part {
            if detail.as_deref().is_none_or(|d| d == "auto") {
                *detail = Some("original".into());
            }
        }
    }
}

/// One input item with the CLI's `id` (after `type`), and for Lite models the `functions` namespace on
/// replayed calls of the client's functions. Ids are derived from the conversation, the position and
/// the item, so the same history gets the same ids on every turn (the prompt prefix stays cacheable).
fn wire_item(
    item: &InputItem,
    index: usize,
    ns: &uuid::Uuid,
    lite: bool,
    functions: &[String],
) -> Result<Box<RawValue>, serde_json::Error> {
    let prefix = match item {
        InputItem::Message { .. } => Some("msg"),
        InputItem::AdditionalTools { .. } => Some("at"),
        InputItem::FunctionCallOutput { .. } => Some("fco"),
        _ => None,
    };
    // The item is serialised once: its text is both the id's seed and the wire form, with the id put in
    // after the leading `"type":"…"` (the enum's tag, which serde writes first and never escapes).
    let json = serde_json::to_string(item)?;
    let id = prefix.map(|prefix| format!("{prefix}_{}", item_id(ns, index, &json)));
    if gets_functions_namespace(item, lite, functions) {
        return wire_item_slow(item, id, true);
    }
    let Some(id) = id else {
        return RawValue::from_string(json);
    };
    let Some(tag_end) = json
        .strip_prefix(r#"{"type":""#)
        .and_then(|rest| rest.find('"'))
        .map(|i| r#"{"type":""#.len() + i + 1)
    else {
        return wire_item_slow(item, Some(id), false);
    };
    let mut out = String::with_capacity(json.len() + id.len() + 8);
    out.push_str(&json[..tag_end]);
    out.push_str(r#","id":""#);
    out.push_str(&id);
    out.push('"');
    out.push_str(&json[tag_end..]);
    RawValue::from_string(out)
}

/// The namespace of a conversation's item ids: its session UUID.
fn id_namespace(session: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(session).unwrap_or(uuid::Uuid::NAMESPACE_OID)
}

/// The id of the item at `index` whose JSON is `json`: a UUIDv5 in the conversation's namespace `ns`,
/// over the JSON of `[index, item]`. SHA-1 by the `sha1` crate, which uses the CPU's SHA instructions
/// where there are some (a long history hashes every turn over HTTP).
fn item_id(ns: &uuid::Uuid, index: usize, json: &str) -> uuid::Uuid {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(ns.as_bytes());
    h.update(b"[");
    h.update(index.to_string().as_bytes());
    h.update(b",");
    h.update(json.as_bytes());
    h.update(b"]");
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The wire form built field by field, for the rare item that gains a `namespace` after its `name`.
fn wire_item_slow(
    item: &InputItem,
    id: Option<String>,
    namespace: bool,
) -> Result<Box<RawValue>, serde_json::Error> {
    let Value::Object(fields) = serde_json::to_value(item)? else {
        return RawValue::from_string("{}".into());
    };
    let mut out = Map::with_capacity(fields.len() + 2);
    let mut fields = fields.into_iter();
    if let Some((k, v)) = fields.next() {
        out.insert(k, v);
    }
    if let Some(id) = id {
        out.insert("id".into(), Value::String(id));
    }
    for (k, v) in fields {
        let namespaced = namespace && k == "name";
        out.insert(k, v);
        if namespaced {
            out.insert("namespace".into(), FUNCTIONS_NAMESPACE.into());
        }
    }
    RawValue::from_string(serde_json::to_string(&out)?)
}

/// Whether the wire form of `item` gains `"namespace": "functions"`: a replayed call of one of the
/// client's functions that names no namespace, for a Lite model. Such a call and the same call naming
/// `functions` are the same item on the wire.
pub(crate) fn gets_functions_namespace(item: &InputItem, lite: bool, functions: &[String]) -> bool {
    lite && matches!(item,
        InputItem::FunctionCall { name, namespace: None, .. }
        | InputItem::CustomToolCall { name, namespace: None, .. } if functions.contains(name))
}

/// The names of the client's function and custom tools, as `render` computes them (before Lite puts
/// them in a namespace).
pub(crate) fn function_names(tools: &[Tool]) -> Vec<String> {
    tools
        .iter()
        .filter_map(|t| match t {
            Tool::Function { name, .. } | Tool::Custom { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn reasoning(
    req: &ResponsesRequest,
    model: Option<&ModelInfo>,
    lite: bool,
) -> Option<WireReasoning> {
    let asked = req.reasoning.as_ref();
    let effort = asked
        .and_then(|r| r.effort)
        .or_else(|| model.and_then(|m| m.default_reasoning_level));
    let summaries = model.is_none_or(|m| m.supports_reasoning_summaries != Some(false));
    let summary = asked
        .and_then(|r| r.summary)
        .or_else(|| {
            model
                .and_then(|m| m.default_reasoning_summary.as_deref())
                .and_then(parse_summary)
        })
        .filter(|_| summaries);
    let context = lite.then_some("all_turns");
    (effort.is_some() || summary.is_some() || context.is_some()).then_some(WireReasoning {
        effort,
        summary,
        context,
    })
}

fn parse_summary(s: &str) -> Option<ReasoningSummary> {
    match s {
        "auto" => Some(ReasoningSummary::Auto),
        "concise" => Some(ReasoningSummary::Concise),
        "detailed" => Some(ReasoningSummary::Detailed),
        _ => None,
    }
}

fn text(asked: Option<TextControls>, model: Option<&ModelInfo>) -> Option<TextControls> {
    let mut text = asked.unwrap_or_default();
    match model.and_then(|m| m.support_verbosity) {
        Some(false) => text.verbosity = None,
        Some(true) if text.verbosity.is_none() => {
            text.verbosity = model.and_then(|m| m.default_verbosity.clone())
        }
        _ => {}
    }
    (text.verbosity.is_some() || text.format.is_some()).then_some(text)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
