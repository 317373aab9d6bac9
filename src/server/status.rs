//! `codex-serve status` and `codex-serve models`: what a person asks first: am I logged in, as whom, is a
//! server answering, how much of my limits is left, which models can I use. Never prints a token.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use codex_client::{AuthMode, CatalogSource, LoginInfo, ModelInfo, RateLimitSnapshot};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{json, Value};

use crate::http::error::describe_reset;
use crate::server::app::build_app;
use crate::server::config::Config;
use crate::server::flags::ServeArgs;
use crate::server::listen;

#[derive(Args, Debug, Clone)]
pub(crate) struct StatusArgs {
    /// Print JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `GET path` over the Unix socket; `None` when nothing answers.
async fn get_over_socket(socket: &Path, path: &str) -> Option<Value> {
    let stream = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::UnixStream::connect(socket),
    )
    .await
    .ok()?
    .ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let resp = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .ok()?
        .ok()?;
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

/// The version of the codex-serve answering on `socket`, if one does.
pub(crate) async fn health(socket: &Path) -> Option<String> {
    let h = get_over_socket(socket, "/healthz").await?;
    Some(h["version"].as_str().unwrap_or("?").to_owned())
}

#[derive(Serialize)]
struct Login {
    logged_in: bool,
    mode: Option<&'static str>,
    email: Option<String>,
    plan: Option<String>,
    account_id: Option<String>,
    access_token_expires_at: Option<i64>,
    last_refresh: Option<String>,
    problem: Option<String>,
}

fn login(info: Result<LoginInfo, codex_client::AuthError>) -> Login {
    match info {
        Ok(i) => Login {
            logged_in: true,
            mode: Some(match i.mode {
                AuthMode::ChatGpt => "chatgpt",
                AuthMode::ApiKey => "api_key",
            }),
            email: i.email,
            plan: i.plan,
            account_id: i.account_id,
            access_token_expires_at: i.access_expires_at,
            last_refresh: i
                .last_refresh
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            problem: None,
        },
        Err(e) => Login {
            logged_in: false,
            mode: None,
            email: None,
            plan: None,
            account_id: None,
            access_token_expires_at: None,
            last_refresh: None,
            problem: Some(e.to_string()),
        },
    }
}

/// `[##########----------]  42.0% used of 5h, resets in 2h 3m (at …)`
fn bar(name: &str, w: Option<&codex_client::limits::RateLimitWindow>, now: i64) -> String {
    let Some(w) = w else {
        return format!("  {name:<9} no data yet");
    };
    let filled = ((w.used_percent.clamp(0.0, 100.0) / 5.0).round()) as usize;
    let window = match w.window_minutes {
        Some(m) if m % (24 * 60) == 0 => format!("{}d", m / (24 * 60)),
        Some(m) if m % 60 == 0 => format!("{}h", m / 60),
        Some(m) => format!("{m}m"),
        None => "?".into(),
    };
    let reset = w
        .resets_at
        .map(|r| format!(", resets {}", describe_reset(r, now)))
        .unwrap_or_default();
    format!(
        "  {name:<9} [{}{}] {:>5.1}% used of {window}{reset}",
        "#".repeat(filled),
        "-".repeat(20 - filled),
        w.used_percent
    )
}

pub(crate) async fn status(args: StatusArgs) -> Result<(), String> {
    let app = build_app(&Config::from_args(&args.serve))?;
    let login = login(app.codex.auth().login_info().await);
    let socket = args
        .serve
        .socket
        .clone()
        .unwrap_or_else(listen::unix::default_socket_path);
    let health = get_over_socket(&socket, "/healthz").await;
    let answering = health.is_some();
    // The server's view when one answers (it asks the usage endpoint itself when it knows nothing);
    // else the usage endpoint, asked from here.
    let limits: Option<RateLimitSnapshot> = if answering {
        get_over_socket(&socket, "/v1/codex/limits")
            .await
            .and_then(|v| serde_json::from_value(v["limits"].clone()).ok())
    } else if login.logged_in {
        app.codex.fetch_usage().await.ok()
    } else {
        None
    };
    let settings = crate::server::config::report();
    let now = unix_now();
    let (version, version_source) = app.codex.client_version();

    if args.json {
        let out = json!({
            "login": login,
            "auth_file": app.codex.auth().config().auth_file(),
            "socket": {"path": socket, "answering": answering,
                       "version": health.as_ref().and_then(|h| h["version"].as_str())},
            "upstream": health.as_ref().map(|h| h["upstream"].clone()),
            "limits": limits,
            "settings": settings.map(crate::server::config::show::summary_json),
            "client_version": {"version": version, "source": version_source,
                               "follows_codex_cli": codex_client::PINNED_CLI_VERSION},
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
        return Ok(());
    }

    println!("codex-serve {}", env!("CARGO_PKG_VERSION"));
    println!();
    println!("Client     codex CLI {version}, from {version_source}");
    println!(
        "  follows  codex CLI {} (requests are shaped as it sends them)",
        codex_client::PINNED_CLI_VERSION
    );
    println!();
    println!(
        "Login      {}",
        app.codex.auth().config().auth_file().display()
    );
    if let Some(problem) = &login.problem {
        println!("  not logged in: {problem}");
    } else {
        let mode = match login.mode {
            Some("api_key") => "API key",
            _ => "ChatGPT",
        };
        let who = login.email.as_deref().unwrap_or("-");
        let plan = login
            .plan
            .as_deref()
            .map(|p| format!(" ({p} plan)"))
            .unwrap_or_default();
        println!("  {mode}: {who}{plan}");
        if let Some(acc) = &login.account_id {
            println!("  account   {acc}");
        }
        if let Some(exp) = login.access_token_expires_at {
            let when = if exp > now {
                format!("expires {}", describe_reset(exp, now))
            } else {
                "expired; it is renewed on the next request".to_owned()
            };
            println!("  token     {when}");
        }
        if let Some(r) = &login.last_refresh {
            println!("  renewed   {r}");
        }
    }
    println!();
    println!("Server     {}", socket.display());
    match &health {
        Some(h) => println!(
            "  answering (codex-serve {})",
            h["version"].as_str().unwrap_or("?")
        ),
        None => println!("  no server answers on this socket"),
    }
    if let Some(up) = health
        .as_ref()
        .map(|h| &h["upstream"])
        .filter(|u| u.is_object())
    {
        let n = |k: &str| up["sockets"][k].as_u64().unwrap_or(0);
        println!();
        println!(
            "Upstream   {}",
            up["transport"].as_str().unwrap_or("unknown")
        );
        println!(
            "  sockets  {} open ({} busy, {} idle), {} opened since start",
            n("open"),
            n("busy"),
            n("idle"),
            n("opened")
        );
    }
    println!();
    println!("Limits");
    match &limits {
        Some(l) => {
            println!("{}", bar("primary", l.primary.as_ref(), now));
            println!("{}", bar("secondary", l.secondary.as_ref(), now));
            if let Some(c) = &l.credits {
                println!("  {}", crate::server::config::show::credits_line(c));
            }
            let age = now - l.captured_at;
            let from = match l.source.as_deref() {
                Some("usage") => "the usage endpoint",
                Some("event") => "a stream's rate-limit event",
                _ => "an answer's headers",
            };
            println!("  as of {}s ago, from {from}", age.max(0));
        }
        None if login.mode == Some("api_key") => {
            println!("  none: an API key has no ChatGPT plan limits")
        }
        None => {
            println!("  unknown: the usage endpoint could not be asked (run `codex-serve doctor`)")
        }
    }
    if let Some(r) = settings {
        println!();
        println!("Settings   {}", crate::server::config::show::file_line(r));
        println!(
            "  codex CLI {}",
            crate::server::config::show::codex_cli_line(r)
        );
    }
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ModelsArgs {
    /// Print JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

pub(crate) async fn models(args: ModelsArgs) -> Result<(), String> {
    let app = build_app(&Config::from_args(&args.serve))?;
    let (list, source) = app.codex.models().await;
    let source_text = match source {
        CatalogSource::Backend => "from the backend, for this account",
        CatalogSource::DiskCache => "for this account, cached on disk less than 5 minutes ago",
        CatalogSource::StaleCache => "from an older disk cache: the backend could not be asked",
        CatalogSource::CliCache => {
            "from the codex CLI's models_cache.json: the backend could not be asked"
        }
        CatalogSource::Fallback => {
            "built-in list of the codex CLI codex-serve follows: the backend could not be asked and nothing is cached"
        }
    };
    let (version, version_source) = app.codex.client_version();
    let listed: Vec<&ModelInfo> = list.iter().filter(|m| m.listed()).collect();
    if args.json {
        let out = json!({
            "source": source,
            "client_version": {"version": version, "source": version_source},
            "models": listed.iter().map(|m| json!({
                "id": m.slug,
                "reasoning_efforts": m.supported_reasoning_levels.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
                "default_reasoning_effort": m.default_reasoning_level.map(|e| e.as_str()),
                "context_window": m.context_window,
                "max_context_window": m.max_context_window,
                "request_shape": if m.use_responses_lite { "responses_lite" } else { "classic" },
                "minimal_client_version": m.minimal_client_version,
                "usable": usable(m, version),
            })).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("Models ({source_text})");
    println!("  client version {version}, from {version_source}");
    println!();
    println!(
        "  {:<16} {:<40} {:<8} {:>8}  shape",
        "model", "reasoning efforts", "default", "context"
    );
    for m in listed {
        let efforts: Vec<&str> = m
            .supported_reasoning_levels
            .iter()
            .map(|e| e.as_str())
            .collect();
        let efforts = if efforts.is_empty() {
            "-".to_owned()
        } else {
            efforts.join(", ")
        };
        let default = m.default_reasoning_level.map_or("-", |e| e.as_str());
        let context = m
            .context_length()
            .map_or("-".to_owned(), |n| format!("{}k", n / 1000));
        let shape = if m.use_responses_lite {
            "lite"
        } else {
            "classic"
        };
        let note = match (&m.minimal_client_version, usable(m, version)) {
            (Some(need), false) => format!("  (needs codex CLI {need}: update the codex CLI)"),
            _ => String::new(),
        };
        println!(
            "  {:<16} {:<40} {default:<8} {context:>8}  {shape}{note}",
            m.slug, efforts
        );
    }
    Ok(())
}

/// Whether the presented client version is recent enough for the model.
fn usable(m: &ModelInfo, version: &str) -> bool {
    m.minimal_client_version
        .as_deref()
        .is_none_or(|need| !codex_client::models::version_below(version, need))
}
