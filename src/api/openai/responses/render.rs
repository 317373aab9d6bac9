//! The Responses API's objects made schema-valid where the backend's are thinner than OpenAI's published
//! ones: sequence numbers, full response objects, ids and statuses on items, `logprobs` on text, error
//! codes from the published set.

use serde_json::{json, Map, Value};

use super::turn::ResponseTurn;
use crate::core::error::ApiError;
use crate::core::unix_now;

impl ResponseTurn {
    pub(super) fn normalize(&mut self, ev: &mut Value) {
        let kind = ev
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        ev["sequence_number"] = Value::from(self.seq);
        self.seq += 1;

        let index = ev
            .get("output_index")
            .and_then(Value::as_u64)
            .map(|i| i as u32);
        if let Some(i) = index {
            self.last_index = i;
        }
        let index = index.unwrap_or(self.last_index);
        match kind.as_str() {
            "response.output_item.added" | "response.output_item.done" => {
                let done = kind.ends_with("done");
                ev["output_index"] = Value::from(index);
                if let Some(item) = ev.get_mut("item").filter(|i| i.is_object()) {
                    fill_item(item, done);
                    if let Some(id) = item.get("id").and_then(Value::as_str) {
                        self.item_ids.insert(index, id.to_owned());
                    }
                    if let Some(name) = item.get("name").and_then(Value::as_str) {
                        self.names.insert(index, name.to_owned());
                    }
                    if done {
                        self.output.insert(index, item.clone());
                    }
                }
            }
            "response.content_part.added" | "response.content_part.done" => {
                self.locate(ev, index);
                if let Some(part) = ev.get_mut("part") {
                    fill_part(part);
                }
            }
            "response.output_text.delta" | "response.output_text.done" => {
                self.locate(ev, index);
                ev.as_object_mut()
                    .map(|o| o.entry("logprobs").or_insert(Value::Array(Vec::new())));
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                self.locate(ev, index);
                if kind.ends_with("done") {
                    if let (Some(o), Some(name)) = (ev.as_object_mut(), self.names.get(&index)) {
                        o.entry("name").or_insert(Value::String(name.clone()));
                    }
                }
            }
            k if k.starts_with("response.reasoning_summary")
                || k.starts_with("response.reasoning_text") =>
            {
                self.locate(ev, index);
                if let Some(o) = ev.as_object_mut() {
                    o.entry("summary_index").or_insert(Value::from(0));
                }
            }
            _ => {}
        }
        let status = match kind.as_str() {
            "response.completed" => "completed",
            "response.incomplete" => "incomplete",
            "response.failed" => "failed",
            _ => "in_progress",
        };
        if status == "failed" {
            self.map_failure(ev);
        }
        if let Some(resp) = ev.get_mut("response") {
            let from_backend = resp.get("id").and_then(Value::as_str).map(str::to_owned);
            let id = self.id(from_backend.as_deref());
            let output = if status == "in_progress" {
                Vec::new()
            } else {
                self.output.values().cloned().collect()
            };
            if let Value::Object(r) = resp {
                r.insert("id".into(), Value::String(id));
                self.fill_response(r, status, output);
            }
        }
    }

    /// The published schema allows a fixed set of error codes; the backend's own code is kept in the
    /// message (and in the HTTP error when the client does not stream).
    fn map_failure(&mut self, ev: &mut Value) {
        let Some(err) = ev
            .get_mut("response")
            .and_then(|r| r.get_mut("error"))
            .filter(|e| e.is_object())
        else {
            return;
        };
        let code = err["code"].as_str().unwrap_or("server_error").to_owned();
        let message = err["message"]
            .as_str()
            .unwrap_or("the response failed")
            .to_owned();
        let mapped = match code.as_str() {
            c if RESPONSE_ERROR_CODES.contains(&c) => c,
            "context_length_exceeded" => "invalid_prompt",
            "insufficient_quota" | "usage_not_included" | "usage_limit_reached" => {
                "rate_limit_exceeded"
            }
            _ => "server_error",
        };
        if mapped != code {
            err["code"] = Value::String(mapped.into());
            err["message"] = Value::String(format!("[{code}] {message}"));
        }
        self.failure = Some((code, message));
    }

    /// Events about a part of an item carry the item's id, index and content index.
    fn locate(&self, ev: &mut Value, index: u32) {
        let Some(o) = ev.as_object_mut() else { return };
        o.insert("output_index".into(), Value::from(index));
        if !o.get("item_id").is_some_and(Value::is_string) {
            let id = self
                .item_ids
                .get(&index)
                .cloned()
                .unwrap_or_else(|| format!("item_{index}"));
            o.insert("item_id".into(), Value::String(id));
        }
        o.entry("content_index").or_insert(Value::from(0));
    }

    fn fill_response(&self, r: &mut Map<String, Value>, status: &str, items: Vec<Value>) {
        let missing = |r: &Map<String, Value>, k: &str| r.get(k).is_none_or(Value::is_null);
        r.insert("object".into(), Value::String("response".into()));
        if missing(r, "created_at") {
            r.insert("created_at".into(), Value::from(self.created_at));
        }
        if missing(r, "model") {
            r.insert("model".into(), Value::String(self.model.clone()));
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
        if let Some(Value::Array(out)) = r.get_mut("output") {
            for item in out.iter_mut() {
                fill_item(item, true);
            }
        }
        let e = &self.echo;
        let defaults = [
            ("error", Value::Null),
            ("incomplete_details", Value::Null),
            (
                "instructions",
                e.instructions.clone().map_or(Value::Null, Value::String),
            ),
            ("tools", e.tools.clone()),
            ("tool_choice", e.tool_choice.clone()),
            ("parallel_tool_calls", Value::Bool(e.parallel_tool_calls)),
            ("reasoning", e.reasoning.clone()),
            ("text", e.text.clone()),
            (
                "previous_response_id",
                e.previous_response_id
                    .clone()
                    .map_or(Value::Null, Value::String),
            ),
            ("metadata", Value::Object(Map::new())),
            // The backend takes no sampling settings: these are the values it runs with.
            ("temperature", Value::from(1.0)),
            ("top_p", Value::from(1.0)),
            ("presence_penalty", Value::from(0.0)),
            ("frequency_penalty", Value::from(0.0)),
            ("top_logprobs", Value::from(0)),
            ("truncation", Value::String("disabled".into())),
            ("max_output_tokens", Value::Null),
            ("max_tool_calls", Value::Null),
            ("store", Value::Bool(e.store)),
            ("background", Value::Bool(false)),
            (
                "service_tier",
                Value::String(e.service_tier.clone().unwrap_or_else(|| "default".into())),
            ),
            ("safety_identifier", Value::Null),
            (
                "prompt_cache_key",
                e.prompt_cache_key
                    .clone()
                    .map_or(Value::Null, Value::String),
            ),
            ("completed_at", Value::Null),
            // Unknown until the response completes: present and null, as OpenResponses requires.
            ("usage", Value::Null),
        ];
        for (k, v) in defaults {
            if missing(r, k) {
                r.insert(k.into(), v);
            }
        }
        if let Some(Value::Object(reasoning)) = r.get_mut("reasoning") {
            reasoning.entry("effort").or_insert(Value::Null);
            reasoning.entry("summary").or_insert(Value::Null);
        }
        if status == "completed" && r.get("completed_at").is_some_and(Value::is_null) {
            r.insert("completed_at".into(), Value::from(unix_now()));
        }
        if let Some(Value::Object(usage)) = r.get_mut("usage") {
            for (details, fields) in [
                (
                    "input_tokens_details",
                    &["cached_tokens", "cache_write_tokens"][..],
                ),
                ("output_tokens_details", &["reasoning_tokens"][..]),
            ] {
                let d = usage.entry(details).or_insert(Value::Null);
                if !d.is_object() {
                    *d = Value::Object(Map::new());
                }
                if let Value::Object(d) = d {
                    for f in fields {
                        d.entry(*f).or_insert(Value::from(0));
                    }
                }
            }
        }
    }
}

/// `ResponseErrorCode` in OpenAI's published schema.
const RESPONSE_ERROR_CODES: &[&str] = &[
    "server_error",
    "rate_limit_exceeded",
    "invalid_prompt",
    "data_residency_mismatch",
    "bio_policy",
    "vector_store_timeout",
    "invalid_image",
    "invalid_image_format",
    "invalid_base64_image",
    "invalid_image_url",
    "image_too_large",
    "image_too_small",
    "image_parse_error",
    "image_content_policy_violation",
    "invalid_image_mode",
    "image_file_too_large",
    "unsupported_image_media_type",
    "empty_image_file",
    "failed_to_download_image",
    "image_file_not_found",
];

/// Output items carry an id and a status in OpenAI's objects; text parts carry `logprobs` and
/// `annotations`.
pub(super) fn fill_item(item: &mut Value, done: bool) {
    let Some(o) = item.as_object_mut() else {
        return;
    };
    let kind = o
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !o.get("id").is_some_and(Value::is_string) {
        let prefix = match kind.as_str() {
            "message" => "msg",
            "compaction" => "cmp",
            "function_call" => "fc",
            "reasoning" => "rs",
            _ => "item",
        };
        o.insert(
            "id".into(),
            Value::String(format!("{prefix}_{}", uuid::Uuid::new_v4().simple())),
        );
    }
    if kind == "message" {
        o.entry("role").or_insert(Value::String("assistant".into()));
    }
    if !matches!(kind.as_str(), "reasoning" | "compaction")
        && o.get("status").is_none_or(Value::is_null)
    {
        let status = if done { "completed" } else { "in_progress" };
        o.insert("status".into(), Value::String(status.into()));
    }
    if kind == "reasoning" {
        o.entry("summary").or_insert(Value::Array(Vec::new()));
    }
    if let Some(Value::Array(parts)) = o.get_mut("content") {
        parts.iter_mut().for_each(fill_part);
    }
}

fn fill_part(part: &mut Value) {
    if part.get("type").and_then(Value::as_str) == Some("output_text") {
        if let Some(p) = part.as_object_mut() {
            p.entry("logprobs").or_insert(Value::Array(Vec::new()));
            p.entry("annotations").or_insert(Value::Array(Vec::new()));
            p.entry("text").or_insert(Value::String(String::new()));
        }
    }
}

pub(crate) fn error_object(err: &ApiError) -> Value {
    json!({"type": err.kind, "code": err.code, "message": err.message, "param": err.param})
}

/// The backend's compaction answer as OpenAI's `response.compaction` object: every backend field kept,
/// the required ones filled.
pub(crate) fn compaction_resource(answer: &mut Value) -> Value {
    let mut out = match answer.take() {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    if !out.get("id").is_some_and(Value::is_string) {
        out.insert(
            "id".into(),
            Value::String(format!("resp_{}", uuid::Uuid::new_v4().simple())),
        );
    }
    out.insert("object".into(), Value::String("response.compaction".into()));
    out.entry("created_at").or_insert(Value::from(unix_now()));
    let output = out.entry("output").or_insert(Value::Array(Vec::new()));
    if let Value::Array(items) = output {
        items.iter_mut().for_each(|i| fill_item(i, true));
    }
    let usage = out.entry("usage").or_insert(Value::Null);
    if !usage.is_object() {
        *usage = json!({"input_tokens": 0, "output_tokens": 0, "total_tokens": 0});
    }
    if let Value::Object(u) = usage {
        for k in ["input_tokens", "output_tokens", "total_tokens"] {
            u.entry(k).or_insert(Value::from(0));
        }
        u.entry("input_tokens_details")
            .or_insert(json!({"cached_tokens": 0, "cache_write_tokens": 0}));
        u.entry("output_tokens_details")
            .or_insert(json!({"reasoning_tokens": 0}));
    }
    Value::Object(out)
}
