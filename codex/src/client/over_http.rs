//! The HTTP + SSE transport: the shared reqwest client, `POST {base}/responses` with its SSE answer,
//! `POST {base}/responses/compact`, and the retry loop both use (401 recovery, backoff on transient
//! failures before anything streamed).

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::{backoff, ClientConfig, CodexClient, Prepared, CA_CERTIFICATE_ENV};
use crate::auth::{AuthMode, Credentials};
use crate::error::{error_from_response, transport_message, CodexError};
use crate::headers::{self, Call, ResponsesHeaders};
use crate::limits;
use crate::request::CompactRequest;
use crate::routing::{self, Route};
use crate::stream::{sse_events, ResponseStream};
use crate::tally::Tally;

/// Builds the HTTP client shared by the Responses calls and the token endpoint, trusting the roots of
/// `cfg.extra_ca` besides the system's.
pub fn http_client(cfg: &ClientConfig) -> Result<reqwest::Client, CodexError> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = &cfg.extra_ca {
        let pem = std::fs::read(path).map_err(|e| {
            CodexError::Transport(format!(
                "cannot read the CA certificate file {} ({CA_CERTIFICATE_ENV}): {e}",
                path.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            CodexError::Transport(format!(
                "{} ({CA_CERTIFICATE_ENV}) holds no usable PEM certificate: {e}",
                path.display()
            ))
        })?;
        if certs.is_empty() {
            return Err(CodexError::Transport(format!(
                "{} ({CA_CERTIFICATE_ENV}) holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .connect_timeout(cfg.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        // Idle keep-alive connections to the backend are reused, but not hoarded.
        .pool_max_idle_per_host(cfg.max_idle_connections)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| CodexError::Transport(e.to_string()))
}

/// zstd at level 3, as the codex CLI compresses. One compression context per thread, kept: a new one
/// per request was set up and freed each time (1.7 % of the instructions of a chat turn over HTTP, turns
/// 11-40 of the agent loop).
fn compress(plain: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        let compressor = match &mut *c {
            Some(compressor) => compressor,
            none => none.insert(zstd::bulk::Compressor::new(3)?),
        };
        compressor.compress(plain)
    })
}

impl CodexClient {
    /// `POST {base}/responses` and its SSE answer.
    pub(super) async fn stream_http(&self, p: &Prepared) -> Result<ResponseStream, CodexError> {
        // Serialised (and compressed) once; retries resend the same bytes.
        let compressed = compress(&p.plain)
            .map(Bytes::from)
            .map_err(|e| CodexError::Decode(format!("cannot compress the request: {e}")))?;
        let resp = self
            .execute(|creds, route| {
                let url = match self.responses_url(creds, route) {
                    Ok(url) => url,
                    Err(_) => {
                        return self
                            .http
                            .post(format!("{}/responses", self.base_url(creds.mode())))
                    }
                };
                // The CLI compresses bodies for the ChatGPT backend only.
                let zstd = creds.mode() == AuthMode::ChatGpt;
                let mut headers = headers::for_responses(
                    &self.identity,
                    creds,
                    &ResponsesHeaders {
                        ids: &p.ids,
                        model: &p.slug,
                        turn_metadata: &p.turn_metadata,
                        lite: p.lite,
                        zstd,
                        routing_override: route.routing_override.as_deref(),
                    },
                );
                headers::add_client_codex_headers(&mut headers, &p.client_headers);
                let body = if zstd { &compressed } else { &p.plain };
                self.http.post(url).headers(headers).body(body.clone())
            })
            .await?;
        // Requests are flowing: the usage endpoint may be asked again (at most once a minute). Only
        // after the backend took this request, so its credentials are fresh and an ask never refreshes.
        self.usage.on_request();
        Ok(ResponseStream::new(
            self.record_limits(resp.headers()),
            sse_events(
                resp,
                self.cfg.idle_timeout,
                self.cfg.max_event_bytes,
                self.limits.clone(),
                Tally::current(),
            ),
        ))
    }

    /// Sends the request `build` makes until the backend answers 2xx. After a 401 it tries once more
    /// with the same credentials (a token the backend has not caught up with yet), then once with renewed
    /// ones, as the codex CLI does; and up to `max_retries` more times after transient failures (nothing
    /// has been streamed at this point, so a retry cannot duplicate output). A renewal or a 404 from a
    /// workspace origin makes the account's workspace be asked again.
    async fn execute(
        &self,
        build: impl Fn(&Credentials, &Route) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CodexError> {
        let mut creds = self.auth.credentials().await?;
        let mut unauthorized = 0;
        let mut attempt = 0;
        loop {
            let route = self.route(&creds).await;
            let sent =
                tokio::time::timeout(self.cfg.idle_timeout, build(&creds, &route).send()).await;
            let err = match sent {
                Err(_) => CodexError::IdleTimeout(self.cfg.idle_timeout),
                Ok(Err(e)) => CodexError::Transport(transport_message(&e)),
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp))
                    if resp.status() == reqwest::StatusCode::UNAUTHORIZED && unauthorized < 2 =>
                {
                    unauthorized += 1;
                    creds = self.recover_unauthorized(unauthorized, &creds).await?;
                    continue;
                }
                Ok(Ok(resp)) => {
                    if resp.status() == reqwest::StatusCode::NOT_FOUND && route.origin.is_some() {
                        self.router.forget(&creds).await;
                    }
                    let snap = self.record_limits(resp.headers());
                    let active = limits::describe_active(resp.headers(), snap.as_ref());
                    let mut err = error_from_response(resp).await;
                    if let CodexError::UsageLimit { active_limit, .. } = &mut err {
                        *active_limit = active;
                    }
                    err
                }
            };
            if !err.is_transient() || attempt >= self.cfg.max_retries {
                return Err(err);
            }
            attempt += 1;
            let delay = backoff(attempt);
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying the Codex request");
            tokio::time::sleep(delay).await;
        }
    }

    /// `POST {base}/responses/compact`: the backend summarises a history into fewer items. The answer is
    /// the backend's JSON, passed on as it is.
    pub async fn compact(&self, req: &CompactRequest) -> Result<Value, CodexError> {
        let body =
            Bytes::from(serde_json::to_vec(req).map_err(|e| CodexError::Decode(e.to_string()))?);
        let resp = self
            .execute(|creds, route| {
                let url = format!("{}/responses/compact", self.base_url(creds.mode()));
                let url = match (reqwest::Url::parse(&url), route.origin.as_deref()) {
                    (Ok(u), Some(o)) => routing::on_origin(&u, o).map(String::from).unwrap_or(url),
                    _ => url,
                };
                let mut headers = headers::for_call(Call::Compact, &self.identity, creds);
                if let Some(o) = route
                    .routing_override
                    .as_deref()
                    .and_then(|o| o.parse().ok())
                {
                    headers.insert("x-openai-account-routing-override", o);
                }
                self.http
                    .post(url)
                    .headers(headers)
                    .timeout(self.cfg.idle_timeout)
                    .body(body.clone())
            })
            .await?;
        self.record_limits(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CodexError::Transport(transport_message(&e)))?;
        serde_json::from_slice(&bytes).map_err(|e| CodexError::Decode(e.to_string()))
    }
}
