//! TLS on the server (`--tls-cert PEM --tls-key PEM`): pages over https, the socket over wss,
//! with rustls (ring, as the tools use). The certificate and key are read at startup (a bad
//! pair stops the server with the file and the reason) and again on SIGHUP: new handshakes
//! use the new pair, open connections keep theirs, and a pair that fails to load leaves the
//! old one in place (logged, counted in `chat_tls_reloads_total{result="failed"}`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("--tls-cert {0}: {1}")]
    Cert(PathBuf, String),
    #[error("--tls-cert {0}: no certificate in it (PEM, -----BEGIN CERTIFICATE-----)")]
    NoCert(PathBuf),
    #[error("--tls-key {0}: {1}")]
    Key(PathBuf, String),
    #[error("--tls-cert {0} and --tls-key {1} do not make a pair: {2}")]
    Pair(PathBuf, PathBuf, String),
}

/// The server's TLS acceptor, replaceable while it runs.
pub(crate) struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsConfigError> {
        Ok(Arc::new(Self {
            current: RwLock::new(acceptor(cert, key)?),
            cert: cert.into(),
            key: key.into(),
        }))
    }

    /// The acceptor for the next handshake.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the files again; on failure the current pair stays.
    pub(crate) fn reload(&self) -> Result<(), TlsConfigError> {
        let next = acceptor(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsConfigError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsConfigError::Cert(cert.into(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsConfigError::Cert(cert.into(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCert(cert.into()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsConfigError::Key(key.into(), e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Pair(cert.into(), key.into(), e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsConfigError::Pair(cert.into(), key.into(), e.to_string()))?;
    // Pages and WebSocket upgrades are HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
