//! The rustls client configuration of `wss://`: the system's roots plus those of `CODEX_CA_CERTIFICATE`,
//! as the HTTP client trusts, and HTTP/1.1 only (a WebSocket upgrade is an HTTP/1.1 request).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::client::CA_CERTIFICATE_ENV;
use crate::error::CodexError;

pub(crate) fn client_config(
    extra_ca: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, CodexError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped, as reqwest does with them.
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| {
            CodexError::Transport(format!(
                "cannot read the CA certificate file {} ({CA_CERTIFICATE_ENV}): {e}",
                path.display()
            ))
        })?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                CodexError::Transport(format!(
                    "{} ({CA_CERTIFICATE_ENV}) holds no usable PEM certificate: {e}",
                    path.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                CodexError::Transport(format!(
                    "{} ({CA_CERTIFICATE_ENV}): a certificate cannot be trusted: {e}",
                    path.display()
                ))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(CodexError::Transport(format!(
                "{} ({CA_CERTIFICATE_ENV}) holds no PEM certificate",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CodexError::Transport(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
