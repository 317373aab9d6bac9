//! `serve`: builds the app, opens the listeners (sockets handed over by a service manager, `--tcp`, the
//! Unix socket, or stdio) with the TCP rules, and serves until a signal.

use std::sync::Arc;

use crate::http::guard::NetworkPolicy;
use crate::server::apikey::{self, KeyError, KeySource};
use crate::server::app::build_app;
use crate::server::config::{Config, ListenSettings};
use crate::server::listen::activation::{self, ActivationError, Handed};
use crate::server::listen::tcp::{self, TcpError};
use crate::server::listen::unix::SocketError;
use crate::server::listen::{self, Conn, ConnLimits, Routers, Source};
use crate::server::signals::shutdown_signal;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("{0}")]
    App(String),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Tcp(#[from] TcpError),
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error("the API key for TCP: {0}")]
    Key(#[from] KeyError),
    #[error("cannot serve a socket handed over by the service manager: {0}")]
    Handed(std::io::Error),
    #[error(
        "--no-auth is allowed only when every TCP listener is on loopback and --allow-remote is not given"
    )]
    NoAuthRemote,
    #[error("nothing to listen on: --no-socket needs --tcp, or sockets from a service manager")]
    NothingToServe,
}

pub(crate) async fn serve(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let app = Arc::new(build_app(&config).map_err(StartError::App)?);
    let (settings, l) = (&config.listen, &config.limits);
    let (version, source) = app.codex.client_version();
    tracing::info!(client_version = version, from = %source, "presenting the codex CLI's version to the backend");
    match app.codex.auth().login_info().await {
        Ok(info) => {
            tracing::info!(mode = ?info.mode, email = info.email.as_deref().unwrap_or("-"), "Codex login found")
        }
        Err(e) => tracing::warn!("{e}"),
    }
    let limits = ConnLimits {
        max_connections: l.max_connections,
        max_unauth_connections: l.max_unauth_connections,
        unauth_header_timeout: l.unauth_header_timeout,
        header_read_timeout: l.header_read_timeout,
        max_header_bytes: l.max_header_bytes,
        shutdown_grace: l.shutdown_grace,
    };
    let local = crate::http::router(app.clone(), l.max_body_bytes);

    if settings.stdio {
        tracing::info!("codex-serve serving HTTP on stdin/stdout");
        let stdio = crate::http::stdio_router(app.clone(), l.max_body_bytes);
        let routers = Routers {
            network: stdio.clone(),
            local: stdio,
        };
        let sources = vec![Source::One(Conn::stdio())];
        listen::serve(sources, routers, limits, None, shutdown).await;
        return Ok(());
    }

    let handed = activation::handed_over()?;

    let mut sources = Vec::new();
    let mut tcp_addrs = Vec::new();
    for h in handed {
        let source = match h.socket {
            Handed::UnixListener(l) => {
                let shown = l
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "unnamed".into());
                tracing::info!(name = %h.name, socket = %shown, "serving a Unix socket from the service manager");
                Source::Unix(handed_unix(l)?)
            }
            Handed::TcpListener(l) => {
                let addr = l.local_addr().map_err(StartError::Handed)?;
                tcp::check_reach(addr, settings.allow_remote)?;
                tcp_addrs.push(addr);
                tracing::info!(name = %h.name, %addr, "serving a TCP socket from the service manager");
                Source::Tcp(handed_tcp(l)?)
            }
            Handed::UnixStream(s) => {
                s.set_nonblocking(true).map_err(StartError::Handed)?;
                let s = tokio::net::UnixStream::from_std(s).map_err(StartError::Handed)?;
                Source::One(Conn::Unix(s))
            }
            Handed::TcpStream(s) => {
                let addr = s.local_addr().map_err(StartError::Handed)?;
                tcp::check_reach(addr, settings.allow_remote)?;
                tcp_addrs.push(addr);
                s.set_nonblocking(true).map_err(StartError::Handed)?;
                let s = tokio::net::TcpStream::from_std(s).map_err(StartError::Handed)?;
                Source::One(Conn::Tcp(s))
            }
        };
        sources.push(source);
    }
    let activated = !sources.is_empty();

    for &addr in &settings.tcp {
        tcp::check_reach(addr, settings.allow_remote)?;
    }
    let policy = if settings.tcp.is_empty() && tcp_addrs.is_empty() {
        None
    } else {
        Some(network_policy(settings)?)
    };
    for &addr in &settings.tcp {
        let listener = tcp::bind(addr).await?;
        let bound = listener.local_addr().unwrap_or(addr);
        tracing::info!(tcp = %bound, "codex-serve listening");
        sources.push(Source::Tcp(listener));
    }

    // A service manager's socket replaces the default one; an explicit --socket is still honoured.
    let mut own_socket = None;
    if !settings.no_socket && (!activated || settings.socket.is_some()) {
        let (path, is_default) = match settings.socket.clone() {
            Some(p) => (p, false),
            None => (listen::unix::default_socket_path(), true),
        };
        let socket = listen::unix::bind(&path, is_default)?;
        tracing::info!(socket = %socket.path().display(), "codex-serve listening");
        sources.push(Source::Unix(socket.listener));
        own_socket = Some(socket.file);
    }
    if sources.is_empty() {
        return Err(StartError::NothingToServe);
    }

    let network = match policy {
        Some(p) => crate::http::network_router(app, l.max_body_bytes, p),
        None => local.clone(),
    };
    // A service manager starts us again on the next connection, so exiting when idle costs nothing.
    let idle = settings
        .idle_timeout
        .or(activated.then_some(settings.activated_idle_timeout))
        .filter(|d| !d.is_zero());
    let routers = Routers { local, network };
    listen::serve(sources, routers, limits, idle, shutdown).await;
    // Removes the socket file only if it is ours and still the one we created.
    drop(own_socket);
    Ok(())
}

fn handed_unix(
    l: std::os::unix::net::UnixListener,
) -> Result<tokio::net::UnixListener, StartError> {
    l.set_nonblocking(true).map_err(StartError::Handed)?;
    tokio::net::UnixListener::from_std(l).map_err(StartError::Handed)
}

fn handed_tcp(l: std::net::TcpListener) -> Result<tokio::net::TcpListener, StartError> {
    l.set_nonblocking(true).map_err(StartError::Handed)?;
    tokio::net::TcpListener::from_std(l).map_err(StartError::Handed)
}

/// The TCP rules from flags. Every TCP address was already checked to be loopback unless --allow-remote.
fn network_policy(settings: &ListenSettings) -> Result<NetworkPolicy, StartError> {
    let key = if settings.no_auth {
        if settings.allow_remote {
            return Err(StartError::NoAuthRemote);
        }
        tracing::warn!("--no-auth: any local user or program can use your Codex login over TCP");
        None
    } else {
        let (key, source) = apikey::resolve(settings.api_key_file.as_deref())?;
        match &source {
            KeySource::Generated(p) => tracing::info!(
                key_file = %p.display(),
                "generated an API key for TCP clients (mode 0600); send it as `Authorization: Bearer KEY`"
            ),
            KeySource::File(p) => {
                tracing::info!(key_file = %p.display(), "TCP clients must send the key in this file")
            }
            KeySource::Env => {
                tracing::info!("TCP clients must send the key in CODEX_SERVE_API_KEY")
            }
        }
        Some(Arc::new(key))
    };
    let cors_origins = settings
        .cors_origin
        .iter()
        .filter_map(|o| http::HeaderValue::from_str(o).ok())
        .collect();
    Ok(NetworkPolicy {
        key,
        allowed_hosts: settings.allow_host.clone().into(),
        cors_origins,
    })
}
