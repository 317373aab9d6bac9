//! `codex-serve doctor`: checks each link between a client and the Codex backend, says what to do about the
//! one that fails, and exits 1 when one does (0 when everything works, warnings included), for scripts.
//! Nothing it does costs a generation or changes a file.

mod local;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use codex_client::{AuthError, AuthMode, CatalogSource};
use serde::Serialize;

use crate::http::error::describe_reset;
use crate::server::app::build_app;
use crate::server::config::Config;
use crate::server::flags::ServeArgs;
use crate::server::listen;

#[derive(Args, Debug, Clone)]
pub(crate) struct DoctorArgs {
    /// Print JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) status: Verdict,
    pub(crate) detail: String,
    /// What to do, when something is to be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

fn check(name: &'static str, status: Verdict, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs every check; `Ok(true)` when none failed.
pub(crate) async fn run(args: DoctorArgs) -> Result<bool, String> {
    let app = build_app(&Config::from_args(&args.serve))?;
    let codex = &app.codex;
    let mut checks = Vec::new();
    let now = unix_now();

    // The login.
    let login = codex.auth().login_info().await;
    let logged_in = login.is_ok();
    checks.push(match &login {
        Ok(i) => {
            let who = i.email.as_deref().unwrap_or("-");
            let plan = i
                .plan
                .as_deref()
                .map(|p| format!(" ({p} plan)"))
                .unwrap_or_default();
            let mode = match i.mode {
                AuthMode::ChatGpt => "ChatGPT",
                AuthMode::ApiKey => "API key",
            };
            match i.access_expires_at {
                Some(exp) if exp <= now => check(
                    "login",
                    Verdict::Ok,
                    format!("{mode}: {who}{plan}; the access token expired, it is renewed on the next request"),
                ),
                Some(exp) => check(
                    "login",
                    Verdict::Ok,
                    format!("{mode}: {who}{plan}; the access token expires {}", describe_reset(exp, now)),
                ),
                None => check("login", Verdict::Ok, format!("{mode}: {who}{plan}")),
            }
        }
        Err(e @ AuthError::InKeyring { .. }) => {
            check("login", Verdict::Fail, e.to_string()).fix("see the message above")
        }
        Err(e) => check("login", Verdict::Fail, e.to_string())
            .fix("run `codex login` (with the same CODEX_HOME), then run doctor again"),
    });

    // The version presented against the catalog's minimal versions.
    let (version, source) = codex.client_version();
    let (catalog, catalog_source) = codex.models().await;
    let too_new: Vec<String> = catalog
        .iter()
        .filter(|m| m.listed())
        .filter_map(|m| {
            let need = m.minimal_client_version.as_deref()?;
            codex_client::models::version_below(version, need)
                .then(|| format!("{} ({need})", m.slug))
        })
        .collect();
    let from = match catalog_source {
        CatalogSource::Backend | CatalogSource::DiskCache => "the account's catalog",
        CatalogSource::StaleCache => "an older cached catalog",
        CatalogSource::CliCache => "the codex CLI's cached catalog",
        CatalogSource::Fallback => "the built-in catalog",
    };
    checks.push(if too_new.is_empty() {
        check(
            "client version",
            Verdict::Ok,
            format!("{version}, from {source}; every model of {from} takes it"),
        )
    } else {
        check(
            "client version",
            Verdict::Warn,
            format!(
                "{version}, from {source}, is below what these models of {from} need: {}",
                too_new.join(", ")
            ),
        )
        .fix("update the codex CLI (npm install -g @openai/codex) and restart codex-serve, or pass --client-version")
    });

    // Files and the socket.
    let socket = args
        .serve
        .socket
        .clone()
        .unwrap_or_else(listen::unix::default_socket_path);
    let auth_file = codex.auth().config().auth_file();
    let key_file = args
        .serve
        .api_key_file
        .clone()
        .or_else(crate::server::apikey::default_key_path);
    let config_file = crate::server::config::report().and_then(|r| r.file.clone());
    checks.push(local::permissions(
        &auth_file,
        &socket,
        key_file.as_deref(),
        config_file.as_deref(),
    ));

    // A running server.
    checks.push(match crate::server::status::health(&socket).await {
        Some(version) => check(
            "server",
            Verdict::Ok,
            format!("codex-serve {version} answers on {}", socket.display()),
        ),
        None => check(
            "server",
            Verdict::Fail,
            format!("no server answers on {}", socket.display()),
        )
        .fix("start it: `codex-serve` in a terminal, or `codex-serve service install` and the command it prints"),
    });

    // The network: the token endpoint, the backend, the workspace check, the usage endpoint.
    checks.push(match codex.check_token_endpoint().await {
        Ok(status) => check(
            "token endpoint",
            Verdict::Ok,
            format!("{} answers (HTTP {status} to a GET)", codex.auth().config().token_url()),
        ),
        Err(e) => check(
            "token endpoint",
            Verdict::Fail,
            format!("{} cannot be reached: {e}", codex.auth().config().token_url()),
        )
        .fix("check the network, HTTPS_PROXY and --auth-url; without it an expired login cannot be renewed"),
    });
    checks.push(if !logged_in {
        check("backend", Verdict::Skip, "needs a login")
    } else {
        match codex.check_backend().await {
            Ok(n) => check(
                "backend",
                Verdict::Ok,
                format!("the model catalog answers ({n} models); no generation was spent"),
            ),
            Err(e) => check("backend", Verdict::Fail, format!("the model catalog: {e}"))
                .fix("check the network, HTTPS_PROXY, --upstream-url (or the codex CLI's openai_base_url) and the login"),
        }
    });
    checks.push(match &login {
        Ok(i) if i.mode == AuthMode::ChatGpt => match codex.check_route().await {
            Ok(route) => {
                let whereto = route.origin.as_deref().unwrap_or("the default host");
                let constraint = route
                    .routing_override
                    .map(|o| format!(", routing override {o}"))
                    .unwrap_or_default();
                check(
                    "workspace routing",
                    Verdict::Ok,
                    format!("requests go to {whereto}{constraint}"),
                )
            }
            Err(e) => check("workspace routing", Verdict::Warn, e)
                .fix("requests go to the default host; check --chatgpt-base-url (or the codex CLI's chatgpt_base_url)"),
        },
        Ok(_) => check("workspace routing", Verdict::Skip, "an API key is not routed"),
        Err(_) => check("workspace routing", Verdict::Skip, "needs a login"),
    });
    checks.push(match &login {
        Ok(i) if i.mode == AuthMode::ChatGpt => match codex.fetch_usage().await {
            Ok(s) => {
                let p = s
                    .primary
                    .map(|w| format!("{:.0}% of the 5-hour window used", w.used_percent))
                    .unwrap_or_else(|| "no window reported".into());
                check("usage endpoint", Verdict::Ok, format!("{} answers: {p}", codex.usage_url()))
            }
            Err(e) => check("usage endpoint", Verdict::Warn, format!("{}: {e}", codex.usage_url()))
                .fix("limits then come only with answers; check --chatgpt-base-url (or the codex CLI's chatgpt_base_url)"),
        },
        Ok(_) => check("usage endpoint", Verdict::Skip, "an API key has no plan limits"),
        Err(_) => check("usage endpoint", Verdict::Skip, "needs a login"),
    });

    // The user service.
    checks.push(local::units().await);

    let ok = !checks.iter().any(|c| c.status == Verdict::Fail);
    if args.json {
        let out = serde_json::json!({"ok": ok, "checks": checks});
        let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print(&checks);
    }
    Ok(ok)
}

fn print(checks: &[Check]) {
    println!("codex-serve doctor");
    println!();
    for c in checks {
        let mark = match c.status {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        println!("  {mark}  {:<18} {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("        {:<18} fix: {fix}", "");
        }
    }
    println!();
    let failed = checks.iter().filter(|c| c.status == Verdict::Fail).count();
    match failed {
        0 => println!("Everything codex-serve needs works."),
        1 => println!("1 check failed."),
        n => println!("{n} checks failed."),
    }
}

/// Where the user units go (the same rule as `service install`).
pub(crate) fn unit_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CODEX_SERVE_UNIT_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if cfg!(target_os = "macos") {
        return std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/LaunchAgents"));
    }
    crate::server::config::dir().and_then(|d| d.parent().map(|p| p.join("systemd").join("user")))
}
