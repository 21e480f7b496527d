//! The TLS client of loadgen, conformance and journey (rustls, ring): the system's trusted
//! roots by default, `--ca-cert PATH` to trust a private CA (or a server's own self-signed
//! certificate, `pinned`) instead, `--insecure` to skip verification. SNI and the
//! certificate check use the URL's host name. Failures are sentences: which host, what is
//! wrong, what to do.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

mod pinned;

/// A connection to a backend: plain TCP, or TLS over it.
pub type Conn = Either<TcpStream, TlsStream<TcpStream>>;

/// The address `conn` is connected to.
pub fn peer_addr(conn: &Conn) -> io::Result<std::net::SocketAddr> {
    match conn {
        Either::Left(tcp) => tcp.peer_addr(),
        Either::Right(tls) => tls.get_ref().0.peer_addr(),
    }
}

/// How to trust servers (the tools' `--ca-cert` and `--insecure`).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
}

/// Why the TLS client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("--ca-cert {0}: {1}")]
    CaCert(PathBuf, String),
    #[error("--ca-cert {0}: no certificate in it (PEM, -----BEGIN CERTIFICATE-----)")]
    NoCert(PathBuf),
    #[error("no trusted root certificates on this machine; pass --ca-cert PATH")]
    NoRoots,
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Why a TLS handshake failed, naming the host.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "TLS: the certificate of {host} is not trusted: {reason} (trust its CA with --ca-cert PATH, or skip the check with --insecure)"
    )]
    Untrusted { host: String, reason: String },
    #[error(
        "TLS: the certificate of {host} does not hold that name (it holds {names}): connect by one of its names (--resolve NAME:PORT:ADDR keeps the address), or skip the check with --insecure"
    )]
    WrongName { host: String, names: String },
    #[error("TLS handshake with {host} failed: {reason}")]
    Handshake { host: String, reason: String },
    #[error("TLS: \"{0}\" is not a valid server name (a DNS name or an IP address)")]
    Name(String),
    #[error("TLS: {0} speaks TLS, and no TLS client is configured")]
    NoClient(String),
}

/// A TLS client configuration, built once per run.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    insecure: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    pub fn new(options: &TlsOptions) -> Result<Self, TlsSetupError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let mut config = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth()
        } else if let Some(path) = &options.ca_cert {
            let certs = private_certs(path)?;
            let mut roots = RootCertStore::empty();
            for cert in &certs {
                roots
                    .add(cert.clone())
                    .map_err(|e| TlsSetupError::CaCert(path.into(), e.to_string()))?;
            }
            let verifier = pinned::Pinned::new(certs, roots, provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(system_roots()?)
                .with_no_client_auth()
        };
        // WebSockets are upgraded HTTP/1.1 requests: never let a proxy pick h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            insecure: options.insecure,
        })
    }

    /// The TLS handshake on a connected socket, for `host` (SNI and the certificate check).
    pub async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TlsError> {
        let name =
            ServerName::try_from(host.to_owned()).map_err(|_| TlsError::Name(host.into()))?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|e| classify(host, &e))
    }
}

/// Plain TCP when `tls_name` is `None`; else the TLS handshake on it for that name (SNI and
/// the certificate check) with `client`, which must then be given.
pub async fn wrap(
    tcp: TcpStream,
    tls_name: Option<&str>,
    client: Option<&TlsClient>,
) -> Result<Conn, TlsError> {
    match (tls_name, client) {
        (None, _) => Ok(Either::Left(tcp)),
        (Some(host), Some(client)) => Ok(Either::Right(client.handshake(host, tcp).await?)),
        (Some(host), None) => Err(TlsError::NoClient(host.into())),
    }
}

fn private_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsSetupError::CaCert(path.into(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::CaCert(path.into(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCert(path.into()));
    }
    Ok(certs)
}

fn system_roots() -> Result<RootCertStore, TlsSetupError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(TlsSetupError::NoRoots);
    }
    Ok(roots)
}

fn classify(host: &str, e: &io::Error) -> TlsError {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let handshake = |reason: String| TlsError::Handshake {
        host: host.into(),
        reason,
    };
    match inner {
        Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        })) => TlsError::WrongName {
            host: host.into(),
            names: presented
                .iter()
                .map(|p| plain_name(p))
                .collect::<Vec<_>>()
                .join(", "),
        },
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        )) => TlsError::WrongName {
            host: host.into(),
            names: "other names".into(),
        },
        Some(rustls::Error::InvalidCertificate(c)) => TlsError::Untrusted {
            host: host.into(),
            reason: explain(c),
        },
        Some(rustls::Error::InvalidMessage(_)) => handshake(
            "the answer is not TLS (a plain HTTP server? then use http:// or ws://)".into(),
        ),
        Some(rustls::Error::AlertReceived(alert)) => handshake(format!(
            "the server refused the handshake with the alert {}",
            format!("{alert:?}").to_lowercase()
        )),
        Some(rustls::Error::NoApplicationProtocol) => {
            handshake("the server offers no protocol this client speaks (http/1.1)".into())
        }
        Some(rustls::Error::PeerIncompatible(_)) => handshake(
            "the server supports no TLS version or cipher suite this client has (TLS 1.2 and 1.3)"
                .into(),
        ),
        Some(other) => handshake(other.to_string()),
        None if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ) =>
        {
            handshake("the server closed the connection during the handshake (does it speak TLS on this port?)".into())
        }
        None => handshake(e.to_string()),
    }
}

/// A name as WebPKI presents it (`DnsName("a.example")`, `IpAddress(127.0.0.1)`), bare.
fn plain_name(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"').to_owned()
}

/// Why a certificate is not trusted, as a phrase.
fn explain(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => "it is signed by an authority this client does not trust".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet (is this machine's clock right?)".into()
        }
        CertificateError::BadSignature => "its signature does not verify".into(),
        CertificateError::BadEncoding => "it is not a well-formed certificate".into(),
        CertificateError::Revoked => "it has been revoked".into(),
        CertificateError::Other(other)
            if other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity) =>
        {
            "it is a CA's certificate, and the server presented it as its own (pass exactly this certificate with --ca-cert to trust it)".into()
        }
        other => other.to_string(),
    }
}

/// `--insecure`: any certificate is accepted; signatures are still checked, so the
/// handshake itself is real (only the identity is not).
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The provider every TLS part of the workspace uses (the server's acceptor too).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}
