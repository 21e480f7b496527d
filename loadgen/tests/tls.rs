//! loadgen over TLS against the reference server serving https/wss with certificates made at
//! test time: `--ca-cert` trusts the private CA and every message arrives, with the TLS
//! handshake timed apart from TCP and the upgrade; without it the run fails naming the host
//! and the reason; `--insecure` skips the check; `--resolve` sends a name to the server, from several
//! source addresses.

mod common;

use reference_server::{Config, RunningServer};
use testkit::{Pki, SelfSigned};

async fn tls_server(pki: &Pki) -> RunningServer {
    serving(&pki.cert, &pki.key).await
}

async fn serving(cert: &std::path::Path, key: &std::path::Path) -> RunningServer {
    reference_server::spawn(Config {
        tls_cert: Some(cert.into()),
        tls_key: Some(key.into()),
        ..Config::local()
    })
    .await
    .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_wss_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost", "chat.invalid"]).expect("pki");
    let server = tls_server(&pki).await;
    let ca = pki.ca.to_str().expect("utf-8");
    let target = format!("https://localhost:{}", server.addr.port());

    let r = common::run(&common::small_plan(&target, &["--ca-cert", ca])).await;
    let s = &r.summary;
    assert_eq!(s.connections.established, 6, "{:?}", s.errors);
    assert!(
        s.sent > 0 && s.delivered == s.expected && s.missing == 0,
        "{s:?}"
    );
    assert_eq!(
        s.tls_handshake_us.count, 6,
        "one TLS handshake per connection"
    );
    assert_eq!(s.tcp_connect_us.count, 6);
    assert_eq!(s.upgrade_us.count, 6);
    assert!(
        s.connect_us.max >= s.tls_handshake_us.max,
        "the whole connect includes its TLS part"
    );

    // A name only --resolve knows, the certificate's.
    let named = format!("wss://chat.invalid:{}", server.addr.port());
    let rule = format!("chat.invalid:{}:127.0.0.1", server.addr.port());
    // Spread over two source addresses, as for a run beyond one address's ports.
    let spread = ["--source-ip", "127.0.0.1-127.0.0.2"];
    let mut extra = vec!["--ca-cert", ca, "--resolve", &rule];
    extra.extend_from_slice(&spread);
    let r = common::run(&common::small_plan(&named, &extra)).await;
    assert_eq!(
        r.summary.connections.established, 6,
        "{:?}",
        r.summary.errors
    );
    assert_eq!(r.summary.missing, 0);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_the_run_with_the_host_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let server = tls_server(&pki).await;
    let target = format!("https://localhost:{}", server.addr.port());
    let other = pki.other_ca.to_str().expect("utf-8");

    let e = common::run_err(&common::small_plan(&target, &["--ca-cert", other])).await;
    assert!(
        e.contains("localhost") && e.contains("authority this client does not trust"),
        "{e}"
    );

    // --insecure: the same server, unchecked, works.
    let r = common::run(&common::small_plan(&target, &["--insecure"])).await;
    assert_eq!(
        r.summary.connections.established, 6,
        "{:?}",
        r.summary.errors
    );
    assert_eq!(r.summary.missing, 0);
    server.stop().await.expect("stops");
}

/// The self-signed certificate `openssl req -x509` makes (marked as a CA), given with
/// `--ca-cert`, is trusted as the server's own, as curl trusts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_openssl_certificate_given_as_ca_cert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = SelfSigned::openssl(dir.path(), "own", &["localhost"]).expect("openssl");
    let server = serving(&own.cert, &own.key).await;
    let target = format!("https://localhost:{}", server.addr.port());
    let ca = own.cert.to_str().expect("utf-8");
    let r = common::run(&common::small_plan(&target, &["--ca-cert", ca])).await;
    assert_eq!(
        r.summary.connections.established, 6,
        "{:?}",
        r.summary.errors
    );
    assert_eq!(r.summary.missing, 0);
    server.stop().await.expect("stops");
}
