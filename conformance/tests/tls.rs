//! The suite over TLS: the reference server serving https/wss with certificates made at test
//! time is graded conforming through `--ca-cert` (no FAIL in any profile's case, the pages
//! included), also with the self-signed certificate `openssl req -x509` makes; with a CA that
//! did not sign its certificate nothing is graded (exit 2).

mod common;

use testkit::{Pki, SelfSigned};

async fn grade(target: &str, extra: &[&str]) -> serde_json::Value {
    common::grade_cli(target, extra).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_over_tls_conforms_and_an_untrusted_one_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let mut config = reference_server::Config::local();
    config.tls_cert = Some(pki.cert.clone());
    config.tls_key = Some(pki.key.clone());
    let server = reference_server::spawn(config).await.expect("server");
    let target = format!("https://localhost:{}", server.addr.port());

    let ca = pki.ca.to_str().expect("utf-8");
    let report = grade(&target, &["--ca-cert", ca, "--profile", "all"]).await;
    let cases = report["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c["verdict"] == "FAIL")
        .map(|c| format!("{} {} {}", c["id"], c["verdict"], c["evidence"]))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(
        cases
            .iter()
            .any(|c| c["id"].as_str().is_some_and(|id| id.starts_with("pages."))),
        "the pages are graded over https too"
    );

    // A certificate it cannot trust: the backend cannot be talked to, so nothing is graded
    // (exit 2, no report), rather than every case failing for a reason not the server's.
    let other = pki.other_ca.to_str().expect("utf-8");
    let (code, report) = common::cli_exit(&target, &["--ca-cert", other]).await;
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(!report);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_openssl_certificate_given_as_ca_cert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = SelfSigned::openssl(dir.path(), "own", &["localhost"]).expect("openssl");
    let mut config = reference_server::Config::local();
    config.tls_cert = Some(own.cert.clone());
    config.tls_key = Some(own.key.clone());
    let server = reference_server::spawn(config).await.expect("server");
    let target = format!("https://localhost:{}", server.addr.port());
    let ca = own.cert.to_str().expect("utf-8");
    let report = grade(&target, &["--ca-cert", ca, "--case", "broadcast"]).await;
    let cases = report["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["verdict"], "PASS", "{c}");
    }
    server.stop().await.expect("stops");
}
