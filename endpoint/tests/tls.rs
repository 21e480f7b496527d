//! The TLS client against a real rustls server on a loopback socket, with certificates made
//! at test time: trusted through `--ca-cert`, refused with the host and the reason, accepted
//! by `--insecure`.

use std::sync::Arc;
use std::time::Duration;

use endpoint::tls::{TlsClient, TlsError, TlsOptions, TlsSetupError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use testkit::{Pki, SelfSigned};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// A TLS server that answers each connection's first byte with the same byte.
async fn server(pki: &Pki) -> std::net::SocketAddr {
    serve(&pki.cert, &pki.key).await
}

async fn serve(cert: &std::path::Path, key: &std::path::Path) -> std::net::SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(endpoint::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut b = [0u8; 1];
                    if tls.read_exact(&mut b).await.is_ok() {
                        let _ = tls.write_all(&b).await;
                        let _ = tls.flush().await;
                    }
                }
            });
        }
    });
    addr
}

async fn echo(client: &TlsClient, addr: std::net::SocketAddr, host: &str) -> Result<u8, TlsError> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut tls = tokio::time::timeout(WAIT, client.handshake(host, tcp))
        .await
        .expect("handshake within the wait")?;
    tls.write_all(b"x").await.expect("write");
    let mut b = [0u8; 1];
    tokio::time::timeout(WAIT, tls.read_exact(&mut b))
        .await
        .expect("echo within the wait")
        .expect("echo");
    Ok(b[0])
}

fn client(ca: Option<&std::path::Path>, insecure: bool) -> TlsClient {
    TlsClient::new(&TlsOptions {
        ca_cert: ca.map(Into::into),
        insecure,
    })
    .expect("client config")
}

#[tokio::test]
async fn a_private_ca_is_trusted_and_others_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost", "127.0.0.1"]).expect("pki");
    let addr = server(&pki).await;

    let trusting = client(Some(&pki.ca), false);
    assert_eq!(
        echo(&trusting, addr, "localhost").await.expect("trusted"),
        b'x'
    );
    assert_eq!(
        echo(&trusting, addr, "127.0.0.1").await.expect("IP name"),
        b'x'
    );

    let e = echo(&client(Some(&pki.other_ca), false), addr, "localhost")
        .await
        .expect_err("another CA signed it");
    let text = e.to_string();
    assert!(matches!(e, TlsError::Untrusted { .. }), "{text}");
    assert!(
        text.contains("localhost") && text.contains("authority this client does not trust"),
        "{text}"
    );

    let e = echo(&trusting, addr, "chat.invalid")
        .await
        .expect_err("the certificate does not name it");
    let text = e.to_string();
    assert!(matches!(e, TlsError::WrongName { .. }), "{text}");
    assert!(
        text.contains("chat.invalid") && text.contains("holds localhost"),
        "{text}"
    );

    let insecure = client(Some(&pki.other_ca), true);
    assert_eq!(
        echo(&insecure, addr, "chat.invalid")
            .await
            .expect("unchecked"),
        b'x'
    );
}

#[test]
fn a_bad_ca_file_is_a_clear_setup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.pem");
    let e = TlsClient::new(&TlsOptions {
        ca_cert: Some(missing.clone()),
        insecure: false,
    })
    .expect_err("no file");
    assert!(matches!(e, TlsSetupError::CaCert(..)), "{e}");
    assert!(e.to_string().contains("absent.pem"), "{e}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let e = TlsClient::new(&TlsOptions {
        ca_cert: Some(empty),
        insecure: false,
    })
    .expect_err("no certificate");
    assert!(matches!(e, TlsSetupError::NoCert(..)), "{e}");
}

/// The certificate most guides make (`openssl req -x509`, marked as a CA) given with
/// `--ca-cert` is trusted as the server's own, as curl trusts it; the host name is still
/// checked, and another self-signed certificate does not vouch for it.
#[tokio::test]
async fn a_self_signed_certificate_passed_as_ca_cert_is_trusted_as_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = SelfSigned::openssl(dir.path(), "own", &["localhost"]).expect("openssl");
    let other = SelfSigned::openssl(dir.path(), "other", &["localhost"]).expect("openssl");
    let addr = serve(&own.cert, &own.key).await;

    let trusting = client(Some(&own.cert), false);
    assert_eq!(
        echo(&trusting, addr, "localhost").await.expect("trusted"),
        b'x'
    );

    let e = echo(&trusting, addr, "chat.invalid")
        .await
        .expect_err("the certificate does not name it");
    assert!(matches!(e, TlsError::WrongName { .. }), "{e}");

    let e = echo(&client(Some(&other.cert), false), addr, "localhost")
        .await
        .expect_err("another certificate");
    let text = e.to_string();
    assert!(matches!(e, TlsError::Untrusted { .. }), "{text}");
    assert!(
        text.contains("localhost") && text.contains("--ca-cert"),
        "{text}"
    );
}

/// Every TLS failure a user meets reads as a sentence: the host, what is wrong, what to do;
/// never a type's debug form.
#[tokio::test]
async fn tls_failures_are_sentences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let addr = server(&pki).await;
    // A plain TCP server where TLS was expected.
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let plain_addr = plain.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = plain.accept().await {
            let _ = tcp
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let failures = [
        echo(&client(Some(&pki.other_ca), false), addr, "localhost").await,
        echo(&client(Some(&pki.ca), false), addr, "chat.invalid").await,
        echo(&client(Some(&pki.ca), false), plain_addr, "localhost").await,
    ];
    for failure in failures {
        let text = failure.expect_err("a failure").to_string();
        for debug_form in ["Other(", "Error(", "InvalidCertificate", "Context {", "{ "] {
            assert!(!text.contains(debug_form), "{text}");
        }
        assert!(
            text.contains("localhost") || text.contains("chat.invalid"),
            "{text}"
        );
    }
}
