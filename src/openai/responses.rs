//! `POST /v1/responses`: a near pass-through for Responses-API clients.
//!
//! The request is normalised into what the backend accepts (typed, so only allowlisted fields go out;
//! `store: false` and `stream: true` upstream; encrypted reasoning included). When the client streams, the
//! backend's events are forwarded unchanged; otherwise the final `response` object is assembled from them.
//! The backend's objects are passed on as JSON values here on purpose: this route promises the backend's
//! own shapes, and typing them would drop fields a client may rely on.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codex_client::request::{
    ContentPart, InputItem, Reasoning, ReasoningEffort, ReasoningSummary, Role, SummaryText,
    TextControls, TextFormat, Tool, ToolOutput,
};
use codex_client::{CodexError, ResponseEvent, ResponsesRequest, StreamEvent};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::chat_request::tool_choice;
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::json::parse_json;
use crate::upstream::{derived_cache_key, split_model};

#[derive(Debug, Deserialize)]
pub struct CreateResponse {
    pub model: String,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Vec<Value>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<ReasoningIn>,
    #[serde(default)]
    pub text: Option<TextIn>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningIn {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TextIn {
    #[serde(default)]
    pub format: Option<Value>,
    #[serde(default)]
    pub verbosity: Option<String>,
}

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).with_param(param)
}

fn text_of(v: &Value, param: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                match p.get("text").and_then(Value::as_str) {
                    Some(t) => {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(t);
                    }
                    None => {
                        return Err(bad(
                            &format!("{param}[{i}]"),
                            "only text parts are allowed here",
                        ))
                    }
                }
            }
            Ok(out)
        }
        _ => Err(bad(param, "expected a string or an array of text parts")),
    }
}

fn parts(v: &Value, role: Role, param: &str) -> Result<Vec<ContentPart>, ApiError> {
    let assistant = role == Role::Assistant;
    let text = |t: String| {
        if assistant {
            ContentPart::OutputText { text: t }
        } else {
            ContentPart::InputText { text: t }
        }
    };
    match v {
        Value::String(s) => Ok(vec![text(s.clone())]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let here = format!("{param}[{i}]");
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
                let str_field = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
                match kind {
                    "input_text" | "output_text" | "text" => Ok(text(
                        str_field("text").ok_or_else(|| bad(&here, "a text part needs `text`"))?,
                    )),
                    "refusal" if assistant => Ok(text(str_field("refusal").unwrap_or_default())),
                    "input_image" if !assistant => Ok(ContentPart::InputImage {
                        image_url: str_field("image_url").ok_or_else(|| {
                            bad(&here, "the Codex backend takes images by `image_url` only")
                        })?,
                        detail: str_field("detail"),
                    }),
                    other => Err(bad(
                        &here,
                        format!(
                            "content part of type '{other}' is not supported by the Codex backend"
                        ),
                    )
                    .with_code("unsupported_content_part")),
                }
            })
            .collect(),
        _ => Err(bad(
            param,
            "`content` must be a string or an array of parts",
        )),
    }
}

/// Client items → backend items; leading system messages are returned apart, as instructions.
fn items(input: Option<Value>) -> Result<(Vec<String>, Vec<InputItem>), ApiError> {
    let list = match input {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::String(s)) => return Ok((Vec::new(), vec![InputItem::text(Role::User, s)])),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(bad(
                "input",
                "`input` must be a string or an array of items",
            ))
        }
    };
    let mut system = Vec::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let here = format!("input[{i}]");
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
        let need = |k: &str| s(k).ok_or_else(|| bad(&here, format!("a {kind} item needs `{k}`")));
        match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                let content = item.get("content").unwrap_or(&Value::Null);
                let role = match role {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    "developer" => Role::Developer,
                    "system" if out.is_empty() => {
                        system.push(text_of(content, &format!("{here}.content"))?);
                        continue;
                    }
                    // The backend refuses `system` items; later guidance is developer guidance.
                    "system" => Role::Developer,
                    other => {
                        return Err(bad(
                            &format!("{here}.role"),
                            format!("unknown role '{other}': use user, assistant, developer or system"),
                        ))
                    }
                };
                out.push(InputItem::Message {
                    role,
                    content: parts(content, role, &format!("{here}.content"))?,
                });
            }
            "function_call" => out.push(InputItem::FunctionCall {
                call_id: need("call_id")?,
                name: need("name")?,
                arguments: s("arguments").unwrap_or_default(),
            }),
            "function_call_output" => {
                let output = match item.get("output") {
                    Some(Value::String(t)) => ToolOutput::Text(t.clone()),
                    Some(v @ Value::Array(_)) => ToolOutput::Parts(parts(v, Role::User, &format!("{here}.output"))?),
                    _ => return Err(bad(&here, "a function_call_output item needs `output`")),
                };
                out.push(InputItem::FunctionCallOutput {
                    call_id: need("call_id")?,
                    output,
                });
            }
            "reasoning" => {
                let summary = item
                    .get("summary")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .map(|t| SummaryText { text: t.to_owned() })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(InputItem::Reasoning {
                    summary,
                    encrypted_content: s("encrypted_content"),
                });
            }
            "item_reference" => {
                return Err(bad(
                    &here,
                    "item references need stored responses, which the Codex backend does not keep: send the items themselves",
                ))
            }
            other => {
                return Err(bad(&here, format!("input items of type '{other}' are not supported")))
            }
        }
    }
    Ok((system, out))
}

fn tools(list: Vec<Value>) -> Result<Vec<Tool>, ApiError> {
    list.into_iter()
        .enumerate()
        .map(|(i, t)| {
            let here = format!("tools[{i}]");
            match t.get("type").and_then(Value::as_str) {
                Some("function") => Ok(Tool::Function {
                    name: t
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&here, "a function tool needs `name`"))?
                        .to_owned(),
                    description: t
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    parameters: t.get("parameters").cloned().filter(|p| !p.is_null()),
                    strict: t.get("strict").and_then(Value::as_bool),
                }),
                Some("web_search" | "web_search_preview") => Ok(Tool::WebSearch {}),
                Some(other) => Err(bad(
                    &here,
                    format!("tools of type '{other}' are not supported by the Codex backend"),
                )),
                None => Err(bad(&here, "a tool needs `type`")),
            }
        })
        .collect()
}

fn text_format(v: Value) -> Result<TextFormat, ApiError> {
    match v.get("type").and_then(Value::as_str) {
        Some("text") => Ok(TextFormat::Text),
        Some("json_object") => Ok(TextFormat::JsonObject),
        Some("json_schema") => Ok(TextFormat::JsonSchema {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("text.format.name", "a json_schema format needs `name`"))?
                .to_owned(),
            schema: v
                .get("schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            strict: v.get("strict").and_then(Value::as_bool),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        _ => Err(bad(
            "text.format",
            "`text.format.type` must be text, json_object or json_schema",
        )),
    }
}

impl CreateResponse {
    pub fn translate(
        self,
        app: &App,
        session: Option<&str>,
    ) -> Result<(ResponsesRequest, Option<ReasoningEffort>), ApiError> {
        if self.previous_response_id.is_some() {
            return Err(bad(
                "previous_response_id",
                "previous_response_id is not supported yet: the Codex backend keeps no responses, so send the whole conversation in `input`",
            )
            .with_code("unsupported_parameter"));
        }
        if self.model.trim().is_empty() {
            return Err(bad("model", "`model` must not be empty"));
        }
        let (slug, suffix_effort) = split_model(&self.model);
        let model = slug.to_owned();
        let (system, input) = items(self.input)?;
        if input.is_empty() {
            return Err(bad("input", "`input` must hold at least one item"));
        }
        let mut instructions: Vec<String> = self
            .instructions
            .into_iter()
            .filter(|i| !i.trim().is_empty())
            .collect();
        instructions.extend(system);
        let instructions = if instructions.is_empty() {
            app.defaults.instructions.clone()
        } else {
            instructions.join("\n\n")
        };
        let reasoning = self.reasoning.unwrap_or_default();
        let effort = match reasoning.effort.as_deref() {
            Some(e) => Some(ReasoningEffort::parse(e).ok_or_else(|| {
                bad(
                    "reasoning.effort",
                    format!("unknown reasoning effort '{e}'"),
                )
            })?),
            None => suffix_effort.or(app.defaults.reasoning_effort),
        };
        let summary = match reasoning.summary.as_deref() {
            None => app.defaults.reasoning_summary,
            Some("auto") => Some(ReasoningSummary::Auto),
            Some("concise") => Some(ReasoningSummary::Concise),
            Some("detailed") => Some(ReasoningSummary::Detailed),
            Some("none") => None,
            Some(other) => {
                return Err(bad(
                    "reasoning.summary",
                    format!("unknown reasoning summary '{other}'"),
                ))
            }
        };
        let cache_key = self
            .prompt_cache_key
            .or(self.user)
            .or_else(|| session.map(str::to_owned))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| derived_cache_key(&model, &instructions, &input));
        let mut req = ResponsesRequest::new(model, instructions, input);
        req.prompt_cache_key = Some(cache_key);
        req.tools = tools(self.tools)?;
        req.tool_choice = self.tool_choice.map(tool_choice).transpose()?;
        req.parallel_tool_calls = self.parallel_tool_calls.unwrap_or(true);
        req.reasoning = Some(Reasoning { effort, summary });
        req.service_tier = self.service_tier.filter(|t| t == "priority" || t == "flex");
        if let Some(text) = self.text {
            req.text = Some(TextControls {
                verbosity: text.verbosity,
                format: text.format.map(text_format).transpose()?,
            });
        }
        Ok((req, effort))
    }
}

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CreateResponse = parse_json(&body)?;
    let streaming = req.stream;
    let session = headers.get("x-session-id").and_then(|v| v.to_str().ok());
    let (upstream_req, effort) = req.translate(&app, session)?;
    if let Some(effort) = effort {
        app.check_effort(&upstream_req.model, effort).await?;
    }
    let model = upstream_req.model.clone();
    let slot = app.upstream.acquire().await?;
    let mut upstream = app.codex.stream(upstream_req).await?;
    if !streaming {
        return assemble(&mut upstream, &model)
            .await
            .map(|v| axum::Json(v).into_response());
    }
    let body =
        futures_util::stream::unfold((upstream, false, slot), |(mut up, done, slot)| async move {
            if done {
                return None;
            }
            let (frame, end) = match up.next().await {
                None => return None,
                Some(Ok(ev)) => {
                    let end = matches!(
                        ev.event,
                        ResponseEvent::Completed { .. }
                            | ResponseEvent::Incomplete { .. }
                            | ResponseEvent::Failed { .. }
                            | ResponseEvent::Error { .. }
                    );
                    (frame(&ev), end)
                }
                Some(Err(e)) => (error_event(&ApiError::from(e)), true),
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(frame)), (up, end, slot)))
        });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

/// The backend's event, unchanged, as an SSE frame with its `event:` name.
fn frame(ev: &StreamEvent) -> Vec<u8> {
    let kind = serde_json::from_str::<TypeOnly<'_>>(&ev.data)
        .map(|t| t.kind)
        .unwrap_or("message");
    let mut buf = Vec::with_capacity(ev.data.len() + kind.len() + 16);
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(kind.as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    buf.extend_from_slice(ev.data.as_bytes());
    buf.extend_from_slice(b"\n\n");
    buf
}

/// A failure after the stream began, as the Responses API's own `error` event.
fn error_event(err: &ApiError) -> Vec<u8> {
    let v = serde_json::json!({
        "type": "error",
        "code": err.code,
        "message": err.message,
        "param": err.param,
    });
    format!("event: error\ndata: {v}\n\n").into_bytes()
}

/// Collects the stream into the final `response` object.
async fn assemble(
    upstream: &mut codex_client::ResponseStream,
    model: &str,
) -> Result<Value, ApiError> {
    let mut output: BTreeMap<u32, Value> = BTreeMap::new();
    let mut next_index = 0u32;
    while let Some(ev) = upstream.next().await {
        let ev = ev?;
        match &ev.event {
            ResponseEvent::OutputItemDone { output_index, .. } => {
                let idx = output_index.unwrap_or(next_index);
                next_index = next_index.max(idx + 1);
                if let Some(item) = ev
                    .value()
                    .and_then(|mut v| v.get_mut("item").map(Value::take))
                {
                    output.insert(idx, item);
                }
            }
            ResponseEvent::Completed { .. } | ResponseEvent::Incomplete { .. } => {
                let status = if matches!(ev.event, ResponseEvent::Completed { .. }) {
                    "completed"
                } else {
                    "incomplete"
                };
                let mut response = ev
                    .value()
                    .and_then(|mut v| v.get_mut("response").map(Value::take))
                    .and_then(|v| match v {
                        Value::Object(m) => Some(m),
                        _ => None,
                    })
                    .unwrap_or_default();
                fill_defaults(&mut response, status, model, output.into_values().collect());
                return Ok(Value::Object(response));
            }
            ResponseEvent::Failed { response } => {
                let err = response.error.clone().unwrap_or_default();
                return Err(CodexError::Failed {
                    code: err.code.unwrap_or_else(|| "response_failed".into()),
                    message: err
                        .message
                        .unwrap_or_else(|| "the Codex backend reported a failed response".into()),
                }
                .into());
            }
            ResponseEvent::Error { code, message } => {
                return Err(CodexError::Failed {
                    code: code.clone().unwrap_or_else(|| "upstream_error".into()),
                    message: message
                        .clone()
                        .unwrap_or_else(|| "the Codex backend reported an error".into()),
                }
                .into());
            }
            _ => {}
        }
    }
    Err(CodexError::StreamClosed.into())
}

/// The backend's final object can be thin; fill what a Responses client expects to find.
fn fill_defaults(r: &mut Map<String, Value>, status: &str, model: &str, items: Vec<Value>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let missing = |r: &Map<String, Value>, k: &str| r.get(k).is_none_or(Value::is_null);
    if missing(r, "id") {
        r.insert(
            "id".into(),
            Value::String(format!("resp_{}", uuid::Uuid::new_v4().simple())),
        );
    }
    r.insert("object".into(), Value::String("response".into()));
    if missing(r, "created_at") {
        r.insert("created_at".into(), Value::from(now));
    }
    if missing(r, "model") {
        r.insert("model".into(), Value::String(model.to_owned()));
    }
    if missing(r, "status") {
        r.insert("status".into(), Value::String(status.into()));
    }
    let has_output = r
        .get("output")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_output {
        r.insert("output".into(), Value::Array(items));
    }
    for k in ["error", "incomplete_details", "instructions", "usage"] {
        r.entry(k).or_insert(Value::Null);
    }
    r.entry("parallel_tool_calls").or_insert(Value::Bool(true));
    r.entry("tool_choice")
        .or_insert(Value::String("auto".into()));
    r.entry("tools").or_insert(Value::Array(Vec::new()));
    r.entry("metadata").or_insert(Value::Object(Map::new()));
    r.entry("temperature").or_insert(Value::Null);
    r.entry("top_p").or_insert(Value::Null);
}
