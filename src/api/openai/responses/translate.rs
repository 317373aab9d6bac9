//! The `/v1/responses` request: normalised into what the backend accepts (typed, so only allowlisted
//! fields go out; `store: false` and `stream: true` upstream; encrypted reasoning included), with
//! `previous_response_id` expanded from this process's own store.

use codex_client::request::{
    ContentPart, InputItem, ReasoningEffort, ReasoningSummary, Role, TextControls, TextFormat,
    Tool, ToolOutput,
};
use serde_json::Value;

use super::wire::{Conversation, CreateResponse, Echo, Lookup, Prepared};
use crate::api::openai::chat::translate::tool_choice;
use crate::core::app::App;
use crate::core::error::{bad, ApiError};
use crate::core::prepare::{Plan, Summary, Want};

/// The instructions sent upstream: the client's own, then its leading system messages; the server's
/// default when there are none (the backend requires some).
pub(crate) fn instructions(client: Option<String>, system: Vec<String>, default: &str) -> String {
    let mut all: Vec<String> = client
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .collect();
    all.extend(system);
    if all.is_empty() {
        default.to_owned()
    } else {
        all.join("\n\n")
    }
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
            ContentPart::OutputText { text: t.into() }
        } else {
            ContentPart::InputText { text: t.into() }
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
                        image_url: str_field("image_url")
                            .ok_or_else(|| {
                                bad(&here, "the Codex backend takes images by `image_url` only")
                            })?
                            .into(),
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
/// `item_reference`s are expanded from the output of stored responses.
pub(crate) fn items(
    input: Option<Value>,
    app: &App,
) -> Result<(Vec<String>, Vec<InputItem>), ApiError> {
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
                            format!(
                                "unknown role '{other}': use user, assistant, developer or system"
                            ),
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
                namespace: s("namespace"),
                arguments: s("arguments").unwrap_or_default().into(),
            }),
            "custom_tool_call" => out.push(InputItem::CustomToolCall {
                status: s("status"),
                call_id: need("call_id")?,
                name: need("name")?,
                namespace: s("namespace"),
                input: s("input").unwrap_or_default(),
            }),
            "function_call_output" | "custom_tool_call_output" => {
                let output = match item.get("output") {
                    Some(Value::String(t)) => ToolOutput::Text(t.as_str().into()),
                    Some(v @ Value::Array(_)) => {
                        ToolOutput::Parts(parts(v, Role::User, &format!("{here}.output"))?)
                    }
                    _ => return Err(bad(&here, format!("a {kind} item needs `output`"))),
                };
                let call_id = need("call_id")?;
                out.push(if kind == "function_call_output" {
                    InputItem::FunctionCallOutput { call_id, output }
                } else {
                    InputItem::CustomToolCallOutput { call_id, output }
                });
            }
            "compaction_trigger" => out.push(InputItem::CompactionTrigger {}),
            "additional_tools" => out.push(InputItem::AdditionalTools {
                role: match item.get("role").and_then(Value::as_str) {
                    None | Some("developer") => Role::Developer,
                    Some(_) => {
                        return Err(bad(
                            &format!("{here}.role"),
                            "an additional_tools item has role developer",
                        ))
                    }
                },
                tools: tools(list_of(&item, "tools"), &format!("{here}.tools"))?,
            }),
            "web_search_call" => out.push(InputItem::WebSearchCall {
                status: s("status"),
                action: item.get("action").cloned(),
            }),
            "image_generation_call" => out.push(InputItem::ImageGenerationCall {
                status: s("status"),
                revised_prompt: s("revised_prompt"),
                result: s("result"),
            }),
            "tool_search_call" => out.push(InputItem::ToolSearchCall {
                call_id: s("call_id"),
                status: s("status"),
                execution: s("execution"),
                arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
            }),
            "tool_search_output" => out.push(InputItem::ToolSearchOutput {
                call_id: s("call_id"),
                status: s("status"),
                execution: s("execution"),
                tools: tools(list_of(&item, "tools"), &format!("{here}.tools"))?,
            }),
            "reasoning" => out.push(InputItem::Reasoning {
                summary: codex_client::request::summary_of(&item),
                encrypted_content: s("encrypted_content"),
            }),
            "compaction" => out.push(InputItem::Compaction {
                encrypted_content: need("encrypted_content")?,
            }),
            "item_reference" => {
                let id = need("id")?;
                match app.responses.item(&id) {
                    Some(found) => out.push(found),
                    None => {
                        return Err(bad(
                            &format!("{here}.id"),
                            format!("Item with id '{id}' not found: codex-serve keeps the output of finished responses in memory for a limited time (not those made with store: false); send the item itself"),
                        )
                        .with_code("item_not_found"))
                    }
                }
            }
            other => {
                return Err(bad(
                    &here,
                    format!("input items of type '{other}' are not supported"),
                ))
            }
        }
    }
    Ok((system, out))
}

fn list_of(item: &Value, key: &str) -> Vec<Value> {
    item.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The client's tools, each type the Codex backend takes, options passed on as given; `param` names
/// the list in errors (`tools`, or the `tools` of an input item).
fn tools(list: Vec<Value>, param: &str) -> Result<Vec<Tool>, ApiError> {
    list.into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            let here = format!("{param}[{i}]");
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
                Some("namespace") => Ok(Tool::Namespace {
                    name: t
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&here, "a namespace tool needs `name`"))?
                        .to_owned(),
                    description: t
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    tools: tools(list_of(&t, "tools"), &format!("{here}.tools"))?,
                }),
                Some("web_search_preview") => {
                    if let Some(o) = t.as_object_mut() {
                        o.insert("type".into(), "web_search".into());
                    }
                    typed(t, &here)
                }
                Some("custom" | "tool_search" | "web_search" | "image_generation") => {
                    typed(t, &here)
                }
                Some(other) => Err(bad(
                    &here,
                    format!("tools of type '{other}' are not supported by the Codex backend"),
                )),
                None => Err(bad(&here, "a tool needs `type`")),
            }
        })
        .collect()
}

/// A built-in or custom tool read by its own type's rules.
fn typed(t: Value, here: &str) -> Result<Tool, ApiError> {
    serde_json::from_value(t).map_err(|e| bad(here, format!("invalid tool: {e}")))
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
    pub(crate) fn translate(
        self,
        lookup: &Lookup<'_>,
        session: Option<&str>,
    ) -> Result<Prepared, ApiError> {
        let app = lookup.app;
        if self.model.trim().is_empty() {
            return Err(bad("model", "`model` must not be empty"));
        }
        let (system, new_items) = items(self.input, app)?;
        if new_items.is_empty() && self.generate != Some(false) {
            return Err(bad("input", "`input` must hold at least one item"));
        }
        // The backend keeps nothing, so a continuation is the stored conversation plus the new items.
        let (input, earlier) = match &self.previous_response_id {
            None => (new_items.clone(), None),
            Some(id) => {
                let prev = lookup.conversation(id).ok_or_else(|| {
                    bad(
                        "previous_response_id",
                        format!("Previous response with id '{id}' not found (codex-serve keeps finished responses in memory, for a limited time)"),
                    )
                    .with_code("previous_response_not_found")
                })?;
                let mut all = Vec::with_capacity(prev.len() + new_items.len());
                all.extend(prev.iter().cloned());
                all.extend(new_items.iter().cloned());
                (all, Some(prev))
            }
        };
        // Echoed as OpenAI shows function tools: with `strict` and `parameters` even when not given.
        let echo_tools = Value::Array(
            self.tools
                .iter()
                .cloned()
                .map(|mut t| {
                    if let Some(o) = t
                        .as_object_mut()
                        .filter(|o| o.get("type").and_then(Value::as_str) == Some("function"))
                    {
                        o.entry("strict").or_insert(Value::Bool(true));
                        o.entry("parameters").or_insert(Value::Null);
                    }
                    t
                })
                .collect(),
        );
        let echo_choice = self
            .tool_choice
            .clone()
            .unwrap_or_else(|| Value::String("auto".into()));
        let echo_text = self
            .text
            .as_ref()
            .map(|t| serde_json::json!({"format": t.format.clone().unwrap_or_else(|| serde_json::json!({"type": "text"})), "verbosity": t.verbosity}))
            .unwrap_or_else(|| serde_json::json!({"format": {"type": "text"}}));
        let client_instructions = self.instructions.clone();
        let conversation = Conversation {
            prefix: system
                .iter()
                .map(|t| InputItem::text(Role::Developer, t.clone()))
                .collect(),
            earlier,
            new: new_items,
        };
        // A conversation that opens with developer guidance (the codex CLI's base prompt, after its
        // tools item) has its instructions: the server's default would be a second, foreign one.
        let opens_with_guidance = input
            .iter()
            .find(|i| !matches!(i, InputItem::AdditionalTools { .. }))
            .is_some_and(|i| {
                matches!(
                    i,
                    InputItem::Message {
                        role: Role::Developer,
                        ..
                    }
                )
            });
        let instructions = Some(instructions(self.instructions, system, ""))
            .filter(|i| opens_with_guidance || !i.is_empty());
        let reasoning = self.reasoning.unwrap_or_default();
        let effort = match reasoning.effort.as_deref() {
            Some(e) => Some(ReasoningEffort::parse(e).ok_or_else(|| {
                bad(
                    "reasoning.effort",
                    format!("unknown reasoning effort '{e}'"),
                )
            })?),
            None => None,
        };
        let summary = match reasoning.summary.as_deref() {
            None => Summary::Default,
            Some("auto") => Summary::Exactly(Some(ReasoningSummary::Auto)),
            Some("concise") => Summary::Exactly(Some(ReasoningSummary::Concise)),
            Some("detailed") => Summary::Exactly(Some(ReasoningSummary::Detailed)),
            Some("none") => Summary::Exactly(None),
            Some(other) => {
                return Err(bad(
                    "reasoning.summary",
                    format!("unknown reasoning summary '{other}'"),
                ))
            }
        };
        let echo_cache_key = self.prompt_cache_key.clone();
        let echo_tier = self.service_tier.clone();
        let text = self
            .text
            .map(|text| -> Result<TextControls, ApiError> {
                Ok(TextControls {
                    verbosity: text.verbosity,
                    format: text.format.map(text_format).transpose()?,
                })
            })
            .transpose()?;
        let parallel_tool_calls = self.parallel_tool_calls.unwrap_or(true);
        let plan = Plan {
            target: self.model.clone(),
            requested: self.model,
            instructions,
            input,
            tools: tools(self.tools, "tools")?,
            tool_choice: self.tool_choice.map(tool_choice).transpose()?,
            parallel_tool_calls,
            text,
            effort: effort.map_or(Want::Default, Want::Exact),
            summary,
            cache_key: self.prompt_cache_key.or(self.user),
            session: session.map(str::to_owned),
            // Responses clients send their reasoning back themselves.
            restore_reasoning: false,
            service_tier: self.service_tier.filter(|t| t == "priority" || t == "flex"),
            client_metadata: self.client_metadata,
            client_headers: self.client_headers,
        };
        let echo = Echo {
            instructions: client_instructions,
            tools: echo_tools,
            tool_choice: echo_choice,
            parallel_tool_calls,
            // Filled in with what was sent, once the plan is prepared.
            reasoning: Value::Null,
            text: echo_text,
            previous_response_id: self.previous_response_id,
            store: self.store != Some(false),
            service_tier: echo_tier,
            prompt_cache_key: echo_cache_key,
        };
        Ok(Prepared {
            plan,
            remember: self.store != Some(false),
            generate: self.generate != Some(false),
            conversation,
            echo,
        })
    }
}
