//! Every header the backend sees, in one place, as the codex CLI 0.171 sends them (seen on the wire:
//! `../shared/codex-backend.md`). Each call kind gets its own set: Responses, the model catalog, the
//! workspace check and the token endpoint differ in what the CLI adds.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::Credentials;
use crate::render::TurnIds;

/// `x-codex-beta-features`: the features the CLI announces; a proxy uses the same protocol.
pub const BETA_FEATURES: &str = "remote_compaction_v2";
pub const ACCEPT_ENCODING: &str = "zstd,gzip";

/// Who we say we are: the `originator` header and the user agent built from it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub originator: String,
    pub version: String,
    /// `codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm`: sent on the workspace check.
    pub base_user_agent: String,
    /// The same, followed by `(codex_exec; 0.171.0)`: every other call.
    pub user_agent: String,
}

impl Identity {
    pub fn new(originator: &str, version: &str) -> Identity {
        let base = format!(
            "{originator}/{version} ({}; {}) {}",
            os_description(),
            std::env::consts::ARCH,
            terminal(),
        );
        Identity {
            user_agent: format!("{base} ({originator}; {version})"),
            base_user_agent: base,
            originator: originator.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// What kind of call the headers are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `GET {chatgpt_base}wham/accounts/check`.
    AccountsCheck,
    /// `GET {base}/models`.
    Models,
    /// `POST {base}/responses/compact`.
    Compact,
}

/// Headers of a Responses request, beyond those of every call.
#[derive(Clone, Copy)]
pub struct ResponsesHeaders<'a> {
    pub ids: &'a TurnIds,
    pub model: &'a str,
    pub turn_metadata: &'a str,
    pub lite: bool,
    /// `content-encoding: zstd` (ChatGPT logins).
    pub zstd: bool,
    pub routing_override: Option<&'a str>,
}

fn put(map: &mut HeaderMap, name: &'static str, value: &str) {
    // Values come from ids, versions and the catalog; one that is not a valid header value is left out
    // rather than failing the request.
    if let Ok(v) = HeaderValue::from_str(value) {
        map.insert(HeaderName::from_static(name), v);
    }
}

/// The credentials' headers: bearer and, for a ChatGPT login, the account.
fn authorize(map: &mut HeaderMap, creds: &Credentials) {
    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", creds.bearer().expose())) {
        v.set_sensitive(true);
        map.insert(http::header::AUTHORIZATION, v);
    }
    if let Some(account) = creds.account_id() {
        put(map, "chatgpt-account-id", account);
    }
}

/// Headers of the calls other than Responses.
pub fn for_call(call: Call, id: &Identity, creds: &Credentials) -> HeaderMap {
    // In the CLI's order: the workspace check has no `version` or `originator`, and its user agent no
    // suffix.
    let mut map = HeaderMap::new();
    match call {
        Call::AccountsCheck => {
            put(&mut map, "user-agent", &id.base_user_agent);
            authorize(&mut map, creds);
        }
        Call::Models | Call::Compact => {
            put(&mut map, "version", &id.version);
            authorize(&mut map, creds);
            put(&mut map, "originator", &id.originator);
            put(&mut map, "user-agent", &id.user_agent);
        }
    }
    if call == Call::Compact {
        put(&mut map, "content-type", "application/json");
    }
    put(&mut map, "accept", "*/*");
    put(&mut map, "accept-encoding", ACCEPT_ENCODING);
    map
}

/// Headers of `POST {token endpoint}` (refresh), in the CLI's order: no bearer. The CLI's user agent has
/// no suffix on the refresh it makes at start-up, and has it on one after a 401 (`with_suffix`).
pub fn for_token(id: &Identity, with_suffix: bool) -> HeaderMap {
    let mut map = HeaderMap::new();
    put(&mut map, "content-type", "application/json");
    put(&mut map, "originator", &id.originator);
    let ua = if with_suffix {
        &id.user_agent
    } else {
        &id.base_user_agent
    };
    put(&mut map, "user-agent", ua);
    put(&mut map, "accept", "*/*");
    put(&mut map, "accept-encoding", ACCEPT_ENCODING);
    map
}

/// Headers of `POST {base}/responses`, in the CLI's order.
pub fn for_responses(id: &Identity, creds: &Credentials, r: &ResponsesHeaders<'_>) -> HeaderMap {
    let mut map = HeaderMap::new();
    put(&mut map, "version", &id.version);
    if let Some(o) = r.routing_override {
        put(&mut map, "x-openai-account-routing-override", o);
    }
    put(&mut map, "x-codex-beta-features", BETA_FEATURES);
    put(&mut map, "x-codex-window-id", &r.ids.window);
    put(&mut map, "x-codex-turn-metadata", r.turn_metadata);
    if r.lite {
        put(&mut map, "x-openai-internal-codex-responses-lite", "true");
    }
    put(
        &mut map,
        "x-codex-routing-hint",
        &format!("model={}", r.model),
    );
    put(&mut map, "x-client-request-id", &r.ids.session);
    put(&mut map, "session-id", &r.ids.session);
    put(&mut map, "thread-id", &r.ids.session);
    put(&mut map, "accept", "text/event-stream");
    if r.zstd {
        put(&mut map, "content-encoding", "zstd");
    }
    put(&mut map, "content-type", "application/json");
    authorize(&mut map, creds);
    put(&mut map, "originator", &id.originator);
    put(&mut map, "user-agent", &id.user_agent);
    put(&mut map, "accept-encoding", ACCEPT_ENCODING);
    map
}

/// `openai-beta` on the WebSocket upgrade: the version of the Responses-over-WebSocket protocol.
pub const RESPONSES_WEBSOCKETS_BETA: &str = "responses_websockets=2026-02-06";

/// Headers of the WebSocket upgrade `GET {base}/responses`: those of a Responses request without the
/// ones about a body (no body here; each turn is a frame), plus `openai-beta`. tungstenite adds the
/// handshake's own (`host`, `connection`, `upgrade`, `sec-websocket-version`, `sec-websocket-key`).
pub fn for_websocket(id: &Identity, creds: &Credentials, r: &ResponsesHeaders<'_>) -> HeaderMap {
    let mut map = for_responses(id, creds, &ResponsesHeaders { zstd: false, ..*r });
    // Not on the CLI's upgrade (parity test): no body to encode, and the Lite flag travels in each
    // frame's client_metadata instead.
    map.remove(http::header::ACCEPT);
    map.remove(http::header::CONTENT_TYPE);
    map.remove(http::header::ACCEPT_ENCODING);
    map.remove("x-openai-internal-codex-responses-lite");
    put(&mut map, "openai-beta", RESPONSES_WEBSOCKETS_BETA);
    map
}

/// Adds the client's `x-codex-*` headers (the codex CLI as a client: its turn state, for one) to
/// `map`. A header codex-serve already set wins: its window id, turn metadata, beta features and
/// routing hint describe the body it renders and the ids it sends, which the client's would contradict.
/// Other names, and values that are not valid header values, are left out.
pub fn add_client_codex_headers(map: &mut HeaderMap, client: &[(String, String)]) {
    for (name, value) in client {
        if !name.to_ascii_lowercase().starts_with("x-codex-") {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        if !map.contains_key(&name) {
            map.append(name, value);
        }
    }
}

/// `Debian 12.0.0`: the distribution and its version as three numbers, as the CLI reports it (from
/// `/etc/os-release`), else the kernel's name.
fn os_description() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    describe_os(&release).unwrap_or_else(|| {
        let os = std::env::consts::OS;
        let mut name = os.to_owned();
        if let Some(first) = name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{name} unknown")
    })
}

fn describe_os(os_release: &str) -> Option<String> {
    let field = |key: &str| {
        os_release.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
    };
    let id = field("ID")?;
    let name = match id.as_str() {
        "debian" => "Debian".to_owned(),
        "ubuntu" => "Ubuntu".to_owned(),
        "fedora" => "Fedora".to_owned(),
        "arch" => "Arch Linux".to_owned(),
        "alpine" => "Alpine Linux".to_owned(),
        "centos" => "CentOS".to_owned(),
        "rhel" => "Red Hat Enterprise Linux".to_owned(),
        "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" => "openSUSE".to_owned(),
        "nixos" => "NixOS".to_owned(),
        _ => field("NAME").unwrap_or(id),
    };
    let version = field("VERSION_ID")
        .map(|v| {
            let mut parts: Vec<&str> = v.split('.').take(3).collect();
            while parts.len() < 3 {
                parts.push("0");
            }
            parts.join(".")
        })
        .unwrap_or_else(|| "Rolling Release".into());
    Some(format!("{name} {version}"))
}

/// The terminal the CLI names in its user agent; a server started outside one says `unknown`.
fn terminal() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let raw = if let Some(program) = var("TERM_PROGRAM") {
        match var("TERM_PROGRAM_VERSION") {
            Some(v) => format!("{program}/{v}"),
            None => program,
        }
    } else if var("WT_SESSION").is_some() {
        "WindowsTerminal".into()
    } else {
        var("TERM").unwrap_or_else(|| "unknown".into())
    };
    // Only what a header value may hold.
    raw.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_os_is_described_as_the_cli_does() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(describe_os(debian).as_deref(), Some("Debian 12.0.0"));
        let ubuntu = "ID=ubuntu\nVERSION_ID=\"24.04\"\n";
        assert_eq!(describe_os(ubuntu).as_deref(), Some("Ubuntu 24.04.0"));
        assert_eq!(describe_os(""), None);
    }

    #[test]
    fn the_user_agent_has_the_clis_form() {
        let id = Identity::new("codex_exec", "0.171.0");
        assert!(id.user_agent.starts_with("codex_exec/0.171.0 ("));
        assert!(id.user_agent.ends_with(" (codex_exec; 0.171.0)"));
        assert!(id.user_agent.starts_with(&id.base_user_agent));
        assert!(HeaderValue::from_str(&id.user_agent).is_ok());
    }
}
