//! What the parity test compares: each logged request turned into named checks, each with the *form*
//! of what was sent.
//!
//! A form keeps what must be equal and abstracts what must only look alike: fixed values stay as they
//! are (`version: 0.171.0`), ids become their shape (`<uuidv7>`, `msg_<uuidv7>`, `<jwt>`), free text
//! becomes `<str>`, numbers `<num>`. Objects keep their keys in order. A request kind is `responses`,
//! `models`, `accounts`, `token`, `websocket` (the upgrade `GET /responses`) or, for each frame sent on
//! an upstream WebSocket (logged with method `WS`), `ws create` / `ws prewarm` (`generate: false`);
//! anything else the clients call (plugins, settings) is not compared.
//!
//! Check names look like `responses header session-id`, `responses body keys`,
//! `responses input message/developer` (with `input-id` and `input-metadata` checks for the item's id
//! and the CLI's per-item metadata), `responses tool namespace:functions/function`. A check holds the
//! set of forms seen over all requests of that kind in one scenario.

use std::collections::{BTreeMap, BTreeSet};

use codex_mock::LoggedRequest;
use serde_json::Value;

pub type Checks = BTreeMap<String, BTreeSet<String>>;

/// The CLI's per-item provenance (turn, time, what kind of content), checked apart from the item.
const METADATA: &str = "internal_chat_message_metadata_passthrough";

/// Keys whose string values are compared as they are (after id shapes): they name a kind, a mode or
/// a fixed setting, not content.
const LITERAL_KEYS: &[&str] = &[
    "type",
    "role",
    "model",
    "detail",
    "effort",
    "context",
    "summary",
    "verbosity",
    "tool_choice",
    "syntax",
    "status",
    "grant_type",
    "client_id",
    "refresh_reason",
    "execution",
    "include",
    "search_content_types",
    "request_kind",
    "history_initialization",
    "thread_source",
    "turn_trigger",
    "sandbox",
    "sandbox_mode",
    "agent_name",
    "reasoning_effort",
    "account_routing_override",
    // The Lite flag the CLI moves from a header into each WebSocket frame: `"true"`.
    "ws_request_header_x_openai_internal_codex_responses_lite",
];

/// Keys whose value is the time its frame was sent: milliseconds since the Unix epoch, as a decimal
/// string. Their form says that it is one, and recent (see [`send_time_form`]), not which.
const SEND_TIME_KEYS: &[&str] = &["x-codex-ws-stream-request-start-ms"];

/// The kind of a request that is compared, if it is one.
pub fn kind(r: &LoggedRequest) -> Option<&'static str> {
    let path = r.path.as_str();
    match r.method.as_str() {
        "POST" if path.ends_with("/oauth/token") => Some("token"),
        "POST" if path.ends_with("/responses") => Some("responses"),
        "GET" if path.ends_with("/accounts/check") => Some("accounts"),
        "GET" if path.ends_with("/models") && r.header("upgrade").is_none() => Some("models"),
        "GET" if path.ends_with("/responses") && r.header("upgrade").is_some() => Some("websocket"),
        "WS" if r.body.get("generate") == Some(&Value::Bool(false)) => Some("ws prewarm"),
        "WS" => Some("ws create"),
        _ => None,
    }
}

/// The calls that matter for the order of events: refreshes, workspace checks and Responses with
/// the status the mock gave.
pub fn sequence(log: &[LoggedRequest]) -> String {
    let steps: Vec<String> = log
        .iter()
        .filter_map(|r| match kind(r)? {
            "responses" | "websocket" => Some(format!("{}:{}", kind(r)?, r.status)),
            "ws create" | "ws prewarm" => Some(kind(r)?.replace(' ', "-")),
            "models" => None,
            other => Some(other.to_owned()),
        })
        .collect();
    steps.join(" ")
}

/// All checks of one client's requests in one scenario.
pub fn checks(log: &[LoggedRequest]) -> Checks {
    let mut out = Checks::new();
    for r in log {
        if let Some(kind) = kind(r) {
            request_checks(kind, r, &mut out);
        }
    }
    out.insert("sequence".to_owned(), BTreeSet::from([sequence(log)]));
    out
}

fn add(out: &mut Checks, name: String, form: String) {
    out.entry(name).or_default().insert(form);
}

fn request_checks(kind: &str, r: &LoggedRequest, out: &mut Checks) {
    add(out, format!("{kind} path"), r.path.clone());
    add(out, format!("{kind} query"), query_form(&r.query));
    for (name, value) in &r.headers {
        let check = format!("{kind} header {name}");
        match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(map)) if value.starts_with('{') => {
                add(out, check.clone(), "<json>".to_owned());
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                add(out, format!("{check} keys"), keys.join(","));
                for (key, v) in &map {
                    add(out, format!("{check}.{key}"), form(key, v));
                }
            }
            _ => add(out, check, header_form(name, value)),
        }
    }
    let Value::Object(body) = &r.body else {
        add(out, format!("{kind} body"), form("", &r.body));
        return;
    };
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    add(out, format!("{kind} body keys"), keys.join(","));
    for (key, value) in body {
        let check = format!("{kind} body.{key}");
        match key.as_str() {
            "input" => {
                add(out, check, "<items>".to_owned());
                input_checks(kind, value, out);
            }
            "tools" => {
                add(out, check, "<tools>".to_owned());
                tool_checks(&format!("{kind} tool"), value, out);
            }
            "client_metadata" => metadata_checks(kind, value, out),
            _ => add(out, check, form(key, value)),
        }
    }
    if kind == "responses" {
        add(out, "responses shape".to_owned(), shape(r, body));
    }
}

/// `lite`: the Responses Lite header, tools only in an `additional_tools` item; `classic`: neither;
/// anything else is `mixed`.
fn shape(r: &LoggedRequest, body: &serde_json::Map<String, Value>) -> String {
    let header = r.header("x-openai-internal-codex-responses-lite") == Some("true");
    let additional = body
        .get("input")
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|i| i["type"] == "additional_tools"));
    let top_tools = body.contains_key("tools");
    match (header, additional, top_tools) {
        (true, true, false) => "lite",
        (false, false, _) => "classic",
        _ => "mixed",
    }
    .to_owned()
}

fn input_checks(kind: &str, input: &Value, out: &mut Checks) {
    let Some(items) = input.as_array() else {
        add(out, format!("{kind} body.input"), form("input", input));
        return;
    };
    if let Some(first) = items.first() {
        add(out, format!("{kind} body.input[0]"), item_kind(first));
    }
    for item in items {
        let item_kind = item_kind(item);
        // The item's id and the CLI's metadata are checks of their own, so that a difference in one
        // is told (and, when intended, listed) apart from the item's shape.
        let mut shape = item.clone();
        if let Some(map) = shape.as_object_mut() {
            if let Some(id) = map.get_mut("id") {
                add(out, format!("{kind} input-id {item_kind}"), form("", id));
                *id = Value::String("<id>".to_owned());
            }
            if let Some(meta) = map.remove(METADATA) {
                add(
                    out,
                    format!("{kind} input-metadata {item_kind}"),
                    form("", &meta),
                );
            }
        }
        add(out, format!("{kind} input {item_kind}"), form("", &shape));
        if let Some(tools) = item.get("tools") {
            let container = item["type"].as_str().unwrap_or("?");
            tool_checks(&format!("{kind} {container} tool"), tools, out);
        }
    }
}

fn item_kind(item: &Value) -> String {
    let kind = item["type"].as_str().unwrap_or("?");
    match item["role"].as_str() {
        Some(role) => format!("{kind}/{role}"),
        None => kind.to_owned(),
    }
}

fn tool_checks(prefix: &str, tools: &Value, out: &mut Checks) {
    let Some(tools) = tools.as_array() else {
        add(out, prefix.to_owned(), form("tools", tools));
        return;
    };
    for tool in tools {
        let kind = tool["type"].as_str().unwrap_or("?");
        add(out, format!("{prefix} {kind}"), form("", tool));
        if kind == "namespace" {
            let name = tool["name"].as_str().unwrap_or("?");
            for inner in tool["tools"].as_array().into_iter().flatten() {
                let inner_kind = inner["type"].as_str().unwrap_or("?");
                let check = format!("{prefix} namespace:{name}/{inner_kind}");
                add(out, check, form("", inner));
            }
        }
    }
}

/// `client_metadata`'s key order changes from run to run in the CLI (a hash map), so its keys are
/// compared as a set; values holding JSON are opened like JSON headers.
fn metadata_checks(kind: &str, value: &Value, out: &mut Checks) {
    let Some(map) = value.as_object() else {
        add(out, format!("{kind} body.client_metadata"), form("", value));
        return;
    };
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    add(
        out,
        format!("{kind} body.client_metadata keys"),
        keys.join(","),
    );
    for (key, v) in map {
        let check = format!("{kind} body.client_metadata.{key}");
        match v.as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(inner))) => {
                add(out, check.clone(), "<json>".to_owned());
                let inner_keys: Vec<&str> = inner.keys().map(String::as_str).collect();
                add(out, format!("{check} keys"), inner_keys.join(","));
                for (ik, iv) in &inner {
                    add(out, format!("{check}.{ik}"), form(ik, iv));
                }
            }
            _ => add(out, check, form(key, v)),
        }
    }
}

fn query_form(query: &str) -> String {
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.to_owned())
        .collect();
    parts.sort();
    parts.join("&")
}

fn header_form(name: &str, value: &str) -> String {
    match name {
        "content-length" => "<num>".to_owned(),
        "host" => match value.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
                format!("{host}:<port>")
            }
            _ => value.to_owned(),
        },
        "user-agent" => user_agent_form(value),
        "sec-websocket-key" => "<key>".to_owned(),
        _ => ids(value),
    }
}

/// `codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.171.0)` →
/// `codex_exec/0.171.0 (<os>; x86_64) <terminal> (codex_exec; 0.171.0)`: the product, version and
/// suffix must match; the OS release and terminal are the machine's.
fn user_agent_form(value: &str) -> String {
    let Some((product, rest)) = value.split_once(" (") else {
        return value.to_owned();
    };
    let Some((platform, rest)) = rest.split_once(')') else {
        return value.to_owned();
    };
    let arch = platform.rsplit_once("; ").map_or("<arch>", |(_, a)| a);
    let rest = rest.trim_start();
    let suffix = rest.find(" (").map_or("", |i| &rest[i..]);
    let terminal = if rest.is_empty() { "" } else { " <terminal>" };
    // The CLI adds ` (originator; version)` once it is set up: its first calls (the first /models,
    // a refresh at start) go without. Either is its form.
    let usual = product
        .split_once('/')
        .map(|(name, version)| format!(" ({name}; {version})"));
    let suffix = if suffix.is_empty() || Some(suffix) == usual.as_deref() {
        usual.map_or(String::new(), |u| format!("[{u}]"))
    } else {
        suffix.to_owned()
    };
    format!("{product} (<os>; {arch}){terminal}{suffix}")
}

/// The form of a JSON value found under `key`.
pub fn form(key: &str, value: &Value) -> String {
    let literal = LITERAL_KEYS.contains(&key);
    match value {
        Value::Null | Value::Bool(_) => value.to_string(),
        Value::Number(_) => "<num>".to_owned(),
        Value::String(s) if SEND_TIME_KEYS.contains(&key) => send_time_form(s),
        Value::String(s) => string_form(s, literal),
        Value::Array(items) => {
            // Repeated parts of one shape count once, and their order is free: the CLI sends its
            // prompt in several text parts where a client sends one.
            let forms: BTreeSet<String> = items.iter().map(|v| form(key, v)).collect();
            let forms: Vec<String> = forms.into_iter().collect();
            format!("[{}]", forms.join(","))
        }
        Value::Object(map) => {
            let namespace = map.get("type").and_then(Value::as_str) == Some("namespace");
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let f = match k.as_str() {
                        // A client's own schemas and tool lists are content, not shape.
                        "parameters" | "schema" => "<schema>".to_owned(),
                        "tools" => "<tools>".to_owned(),
                        "name" if namespace => string_form(v.as_str().unwrap_or("?"), true),
                        _ => form(k, v),
                    };
                    format!("{k}:{f}")
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

/// `<unix-ms, just sent>` for milliseconds since the epoch in decimal that lie within the last ten
/// minutes (checks are made right after their scenario ran), else the string's ordinary form: a time
/// in seconds, a number, or a stale or future stamp would show as a difference.
fn send_time_form(s: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    match s.parse::<u128>() {
        Ok(ms) if ms <= now + 1_000 && ms + 600_000 >= now && !s.starts_with('0') => {
            "<unix-ms, just sent>".to_owned()
        }
        _ => string_form(s, false),
    }
}

fn string_form(s: &str, literal: bool) -> String {
    if literal {
        return ids(s);
    }
    if s == "<id>" {
        return s.to_owned();
    }
    if let Some(rest) = s.strip_prefix("data:") {
        let mime = rest.split([';', ',']).next().unwrap_or("");
        return format!("data:{mime};base64,<data>");
    }
    if is_jwt(s) {
        return "<jwt>".to_owned();
    }
    let shaped = ids(s);
    if shaped != s {
        return shaped;
    }
    if s.is_empty() {
        return "\"\"".to_owned();
    }
    "<str>".to_owned()
}

fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Replaces every UUID in `s` by `<uuidvN>`, and a bearer token by `Bearer <jwt>`.
pub fn ids(s: &str) -> String {
    if let Some(token) = s.strip_prefix("Bearer ") {
        return if is_jwt(token) {
            "Bearer <jwt>".to_owned()
        } else {
            "Bearer <token>".to_owned()
        };
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(version) = uuid_at(bytes, i) {
            out.push_str(&format!("<uuidv{version}>"));
            i += 36;
        } else {
            let ch = s[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The version digit of a UUID starting at `at`, if one does.
fn uuid_at(bytes: &[u8], at: usize) -> Option<char> {
    let candidate = bytes.get(at..at + 36)?;
    let ok = candidate.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    });
    let before_ok = at == 0 || !bytes[at - 1].is_ascii_hexdigit();
    (ok && before_ok).then(|| char::from(candidate[14]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_fixed_values_and_abstract_ids() {
        assert_eq!(ids("01a233aa-c0f9-7c33-9550-b1b4c6af0c54:0"), "<uuidv7>:0");
        assert_eq!(
            ids("msg_1366de8d-ee9f-5a29-8c14-04c1268088bb"),
            "msg_<uuidv5>"
        );
        let full = "codex_exec/0.171.0 (<os>; x86_64) <terminal>[ (codex_exec; 0.171.0)]";
        assert_eq!(
            user_agent_form(
                "codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.171.0)"
            ),
            full
        );
        assert_eq!(
            user_agent_form("codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm"),
            full
        );
        assert_eq!(
            user_agent_form("codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (other; 1)"),
            "codex_exec/0.171.0 (<os>; x86_64) <terminal> (other; 1)"
        );
        let item = serde_json::json!({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]});
        assert_eq!(
            form("", &item),
            "{type:message,role:user,content:[{type:input_text,text:<str>}]}"
        );
        assert_eq!(header_form("host", "localhost:8443"), "localhost:<port>");
        let key = "x-codex-ws-stream-request-start-ms";
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let recent = serde_json::json!((now - 1_500).to_string());
        assert_eq!(form(key, &recent), "<unix-ms, just sent>");
        // Seconds, a stamp an hour old, and a number are other forms.
        for other in [
            serde_json::json!((now / 1000).to_string()),
            serde_json::json!((now - 3_600_000).to_string()),
            serde_json::json!(now as u64),
        ] {
            assert_ne!(form(key, &other), "<unix-ms, just sent>", "{other}");
        }
    }
}
