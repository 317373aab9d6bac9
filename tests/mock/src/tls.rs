//! The https listener: a throwaway CA made when the mock starts, a leaf certificate for `localhost` and
//! `127.0.0.1` signed by it, and a listener that hands axum finished TLS connections.
//!
//! Clients trust the CA through its PEM ([`crate::MockCodex::ca_pem`]); the official codex CLI takes it in
//! `CODEX_CA_CERTIFICATE`. Two host names matter: the mock's base is `https://localhost:PORT` and its
//! routed workspace origin is `https://127.0.0.1:PORT`, so a test can tell from `host` which one a client
//! used.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::CountedStream;

/// A handshake that has not finished by then is dropped, so a silent client costs nothing.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The CA's PEM and a TLS acceptor presenting the leaf it signed.
pub(crate) struct Tls {
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

/// Errors making the certificates: none is expected with the fixed parameters used here.
fn cert_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("codex-mock: cannot make the test CA: {e}"))
}

impl Tls {
    pub(crate) fn new() -> io::Result<Tls> {
        let ca_key = KeyPair::generate().map_err(cert_error)?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "codex-mock test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().map_err(cert_error)?;
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut leaf_params = CertificateParams::new(names).map_err(cert_error)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .map_err(cert_error)?;

        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(cert_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(cert_error)?;
        // HTTP/1.1 only: the mock's server speaks nothing else, and the CLI falls back to it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// An axum listener over TLS: handshakes run in their own tasks, so a slow one delays nobody.
pub(crate) struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    open: Arc<AtomicUsize>,
}

impl TlsListener {
    pub(crate) fn new(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        open: Arc<AtomicUsize>,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    if let Ok(Ok(tls)) = handshake.await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { addr, ready, open })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = CountedStream<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        match self.ready.recv().await {
            Some((stream, peer)) => (CountedStream::new(stream, &self.open), peer),
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
