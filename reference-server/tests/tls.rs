//! TLS on the reference server (`--tls-cert`, `--tls-key`), with certificates made at test
//! time: pages over https and the chat over wss; a client that never finishes its TLS
//! handshake is dropped within the handshake timeout; plain HTTP on the TLS port is refused;
//! the binary reloads its certificate on SIGHUP and keeps the old one when the new is bad.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::ServerProcess;
use endpoint::tls::{Conn, TlsClient, TlsError, TlsOptions};
use rawws::{Handshake, Ws};
use reference_server::Config;
use testkit::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn client(ca: &Path) -> TlsClient {
    TlsClient::new(&TlsOptions {
        ca_cert: Some(ca.into()),
        insecure: false,
    })
    .expect("TLS client")
}

async fn tls(addr: SocketAddr, client: &TlsClient) -> Result<Conn, TlsError> {
    let tcp = TcpStream::connect(addr).await.expect("TCP connect");
    tokio::time::timeout(
        WAIT,
        endpoint::tls::wrap(tcp, Some("localhost"), Some(client)),
    )
    .await
    .expect("TLS handshake within the wait")
}

async fn get(addr: SocketAddr, client: &TlsClient, target: &str) -> rawws::HttpResponse {
    let mut conn = tls(addr, client).await.expect("trusted");
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    rawws::http_raw_on(&mut conn, &request, WAIT)
        .await
        .expect("response")
}

async fn join(addr: SocketAddr, client: &TlsClient, room: &str) -> Ws<Conn> {
    join_with(addr, client, room, "").await
}

/// [`join`] with extra header lines.
async fn join_with(addr: SocketAddr, client: &TlsClient, room: &str, extra: &str) -> Ws<Conn> {
    let conn = tls(addr, client).await.expect("trusted");
    match Ws::handshake_on(conn, "localhost", &format!("/ws/chat/{room}/"), extra, WAIT)
        .await
        .expect("handshake")
    {
        Handshake::Accepted(ws) => ws,
        Handshake::Refused(r) => panic!("refused: {}", r.status),
    }
}

fn tls_config(pki: &Pki) -> Config {
    Config {
        tls_cert: Some(pki.cert.clone()),
        tls_key: Some(pki.key.clone()),
        handshake_timeout: Duration::from_millis(500),
        ..Config::local()
    }
}

#[tokio::test]
async fn pages_over_https_and_chat_over_wss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let server = common::server_with(tls_config(&pki)).await;
    assert_eq!(server.http_url(), format!("https://{}", server.addr));
    let client = client(&pki.ca);

    let page = get(server.addr, &client, "/chat/room1/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body_text().contains("'wss://'"),
        "the page picks wss:// over https"
    );

    let room = common::room("tls");
    let mut a = join(server.addr, &client, &room).await;
    let mut b = join(server.addr, &client, &room).await;
    a.send_text(r#"{"message":"over TLS"}"#)
        .await
        .expect("send");
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.recv_text(WAIT).await.expect("delivery"),
            r#"{"message": "over TLS"}"#
        );
    }

    // A member that agreed to permessage-deflate gets the compressed frame through its TLS
    // session's codec, the others the plain one.
    let offer = format!("Sec-WebSocket-Extensions: {}\r\n", rawws::deflate::OFFER);
    let mut c = join_with(server.addr, &client, &room, &offer).await;
    assert!(c.deflate.is_some(), "{:?}", c.response);
    let words = r#"{"message": "over TLS, compressed: words and words and more words"}"#;
    c.send_text(words).await.expect("send");
    for (ws, compressed) in [(&mut c, true), (&mut b, false)] {
        match ws.next(WAIT).await.expect("delivery") {
            rawws::Next::Frame(f) => {
                assert_eq!(f.payload, words.as_bytes());
                assert_eq!(f.rsv & rawws::RSV1 != 0, compressed);
            }
            other => panic!("expected the message, got {other:?}"),
        }
    }

    // A client that does not trust the server's CA is refused by its own TLS client.
    let other = TlsClient::new(&TlsOptions {
        ca_cert: Some(pki.other_ca.clone()),
        insecure: false,
    })
    .expect("client");
    let e = tls(server.addr, &other).await.expect_err("untrusted");
    assert!(matches!(e, TlsError::Untrusted { .. }), "{e}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn plain_http_and_silent_clients_on_the_tls_port_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let server = common::server_with(tls_config(&pki)).await;

    // Plain HTTP: not a TLS ClientHello; the server ends the connection.
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(WAIT, plain.read(&mut buf))
        .await
        .expect("the server answers or ends it");
    let answer = String::from_utf8_lossy(&buf[..n.unwrap_or(0)]).into_owned();
    assert!(!answer.contains("200"), "plain HTTP served: {answer}");

    // A client that connects and sends nothing is dropped once the handshake timeout (500 ms)
    // has passed, not before.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let ended = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("dropped within the wait");
    assert!(matches!(ended, Ok(0) | Err(_)), "{ended:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "dropped after {took:?}"
    );
    assert!(
        server.metrics.tls_handshake_failures() >= 2,
        "{} failures counted",
        server.metrics.tls_handshake_failures()
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn the_binary_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Pki::create(&subdir(dir.path(), "a"), &["localhost"]).expect("pki a");
    let second = Pki::create(&subdir(dir.path(), "b"), &["localhost"]).expect("pki b");
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::copy(&first.cert, &cert).expect("copy");
    std::fs::copy(&first.key, &key).expect("copy");
    let server = ServerProcess::start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    let (trusts_first, trusts_second) = (client(&first.ca), client(&second.ca));
    assert_eq!(
        get(server.addr, &trusts_first, "/healthz").await.status,
        200
    );
    assert!(tls(server.addr, &trusts_second).await.is_err());

    std::fs::copy(&second.cert, &cert).expect("copy");
    std::fs::copy(&second.key, &key).expect("copy");
    server.signal("HUP");
    server.wait_log("TLS certificate reloaded", WAIT);
    assert_eq!(
        get(server.addr, &trusts_second, "/healthz").await.status,
        200
    );
    let e = tls(server.addr, &trusts_first)
        .await
        .expect_err("the old CA");
    assert!(matches!(e, TlsError::Untrusted { .. }), "{e}");

    // A bad key: the reload fails, says so, and the current pair stays.
    std::fs::write(&key, "not a key\n").expect("write");
    server.signal("HUP");
    let line = server.wait_log("not reloaded", WAIT);
    assert!(line.contains("server.key"), "names the file: {line}");
    assert_eq!(
        get(server.addr, &trusts_second, "/healthz").await.status,
        200
    );
}

#[test]
fn bad_certificate_flags_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::create(dir.path(), &["localhost"]).expect("pki");
    let missing = dir.path().join("missing.pem");
    let cert = pki.cert.to_str().expect("utf-8");
    for (args, says) in [
        (vec!["--tls-cert", cert], "--tls-key"),
        (
            vec![
                "--tls-cert",
                missing.to_str().expect("utf-8"),
                "--tls-key",
                cert,
            ],
            "missing.pem",
        ),
        (
            vec![
                "--tls-cert",
                pki.ca.to_str().expect("utf-8"),
                "--tls-key",
                pki.key.to_str().expect("utf-8"),
            ],
            "do not make a pair",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
            .args(["--bind", "127.0.0.1:0"])
            .args(&args)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

fn subdir(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).expect("mkdir");
    path
}
