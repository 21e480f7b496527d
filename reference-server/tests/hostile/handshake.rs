//! Handshakes cannot pin the server: half-requests time out, their number is bounded without
//! locking anyone out, bad handshakes get 400/426 (never 500), and the configuration cannot
//! silently refuse everyone.

use std::time::{Duration, Instant};

use reference_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::{self, KEY, RawWs, eventually, room, server, server_with};

/// Reads until EOF or an error; the bytes read.
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = timeout(common::TIMEOUT, stream.read_to_end(&mut all))
        .await
        .expect("the server ends the connection in time");
    all
}

#[tokio::test]
async fn a_client_that_sends_one_byte_and_waits_is_dropped_after_the_timeout() {
    let mut config = Config::local();
    config.handshake_timeout = Duration::from_millis(300);
    let s = server_with(config).await;
    let mut slow = TcpStream::connect(s.addr).await.expect("connect");
    slow.write_all(b"G").await.expect("write");
    let start = Instant::now();
    let answer = read_to_end(&mut slow).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "dropped after {took:?}"
    );
    // A plain close, or a 408.
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert_eq!(s.metrics.handshake_timeouts(), 1);
    assert_eq!(s.metrics.pending_connections(), 0);
}

#[tokio::test]
async fn an_idle_keep_alive_is_dropped_after_the_timeout() {
    let mut config = Config::local();
    config.handshake_timeout = Duration::from_millis(300);
    let s = server_with(config).await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_to_end(&mut stream).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let metrics = s.metrics.clone();
    eventually("no pending connection", || {
        metrics.pending_connections() == 0
    })
    .await;
}

#[tokio::test]
async fn thousands_of_half_requests_do_not_lock_out_health_checks_or_chat() {
    let mut config = Config::local();
    config.max_pending = 50;
    let s = server_with(config).await;
    const HALF: usize = 600;
    let mut half = Vec::with_capacity(HALF);
    for i in 0..HALF {
        let mut stream = TcpStream::connect(s.addr).await.expect("connect");
        // Half a request line, or a request line and half the headers.
        let part: &[u8] = if i % 2 == 0 {
            b"GET /ws/chat/"
        } else {
            b"GET /ws/chat/r/ HTTP/1.1\r\nHost: x\r\nUpgr"
        };
        stream.write_all(part).await.expect("write");
        half.push(stream);
    }
    let metrics = s.metrics.clone();
    eventually("the oldest half-requests are dropped", || {
        metrics.pending_evictions() as usize >= HALF - 50
    })
    .await;
    assert!(s.metrics.pending_connections() <= 50);

    let start = Instant::now();
    assert_eq!(common::get(s.addr, "/healthz").await.status, 200);
    assert_eq!(common::get(s.addr, "/metrics").await.status, 200);
    let name = room("underattack");
    let mut a = RawWs::join(s.addr, &name).await;
    let mut b = RawWs::join(s.addr, &name).await;
    a.send_text(r#"{"message":"hello"}"#).await;
    assert_eq!(b.recv_text().await, r#"{"message": "hello"}"#);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "served in {took:?}");
    // The half-requests do not count as WebSockets.
    assert_eq!(s.metrics.open_connections(), 2);
}

#[tokio::test]
async fn handshakes_that_break_rfc_6455_get_400_or_426_never_500() {
    let s = server().await;
    let target = format!("/ws/chat/{}/", room("rfc"));
    let upgrade = |method: &str, version: &str, key: &str, ws_version: &str| {
        format!(
            "{method} {target} {version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {ws_version}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    for (request, status, says) in [
        (upgrade("POST", "HTTP/1.1", KEY, "13"), 400, "GET"),
        (upgrade("PUT", "HTTP/1.1", KEY, "13"), 400, "GET"),
        (upgrade("GET", "HTTP/1.0", KEY, "13"), 400, "HTTP/1.1"),
        (
            upgrade("GET", "HTTP/1.1", "not-base64!", "13"),
            400,
            "16 bytes",
        ),
        // base64 of 15 bytes, and of 17.
        (
            upgrade("GET", "HTTP/1.1", "AAAAAAAAAAAAAAAAAAAA", "13"),
            400,
            "16 bytes",
        ),
        (
            upgrade("GET", "HTTP/1.1", "AAAAAAAAAAAAAAAAAAAAAAA=", "13"),
            400,
            "16 bytes",
        ),
        (upgrade("GET", "HTTP/1.1", KEY, "12"), 426, "13"),
    ] {
        let r = common::http_raw(s.addr, &request).await;
        assert_eq!(r.status, status, "{request}: {r:?}");
        assert!(r.body.contains(says), "{request}: {}", r.body);
    }
    assert_eq!(s.metrics.refusals(500), 0);
    assert_eq!(s.metrics.refusals(400), 6);
    // And the valid one still works.
    RawWs::connect(s.addr, &target, "").await;
}

#[tokio::test]
async fn origins_are_trimmed_and_normalised() {
    let mut config = Config::local();
    // As CHAT_ALLOWED_ORIGINS='http://a.example, http://b.example/' splits.
    config.allowed_origins = vec![
        "http://a.example".into(),
        " http://b.example/".into(),
        "HTTPS://C.example:443".into(),
    ];
    let s = server_with(config).await;
    let target = format!("/ws/chat/{}/", room("origins"));
    for origin in [
        "http://a.example",
        "http://b.example",
        "https://c.example",
        "http://B.EXAMPLE:80",
    ] {
        RawWs::connect(s.addr, &target, &format!("Origin: {origin}\r\n")).await;
    }
    for origin in ["http://d.example", "https://a.example", "null"] {
        let r = RawWs::try_connect(s.addr, &target, &format!("Origin: {origin}\r\n")).await;
        assert_eq!(r.response.status, 403, "{origin}");
    }
}

#[tokio::test]
async fn origins_that_can_never_match_are_refused_at_startup() {
    for bad in ["*", "http://a.example/chat/", "a.example", ""] {
        let mut config = Config::local();
        config.allowed_origins = vec![bad.into()];
        let error = reference_server::spawn(config)
            .await
            .expect_err("a bad origin is refused");
        assert!(error.to_string().contains("--allowed-origin"), "{error}");
    }
}

#[tokio::test]
async fn a_close_without_a_close_frame_counts_as_1006() {
    let s = server().await;
    let name = room("abrupt");
    // FIN without a close frame.
    let fin = RawWs::join(s.addr, &name).await.into_stream();
    drop(fin);
    // RST: linger 0.
    let rst = RawWs::join(s.addr, &name).await.into_stream();
    rst.set_zero_linger().expect("linger");
    drop(rst);
    let metrics = s.metrics.clone();
    eventually("both counted as 1006", || metrics.closes(1006) == 2).await;
    assert_eq!(s.metrics.closes(1002), 0);
    eventually("both slots free", || metrics.open_connections() == 0).await;
}
