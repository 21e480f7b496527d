//! docs/protocol.md section 2 and the handshake: which rooms are accepted, and how refusals look.

mod common;

use std::time::Instant;

use reference_server::config::DEFAULT_HANDSHAKE_TIMEOUT;

use common::{RawWs, room, server, server_with};
use reference_server::Config;

#[tokio::test]
async fn refused_rooms_get_an_immediate_404_with_a_reason() {
    let s = server().await;
    let long = "a".repeat(95);
    let cases = [
        ("/ws/chat/lobby", "must end with a slash"),
        ("/ws/chat//", "empty"),
        ("/ws/chat/a-b/", "'-'"),
        ("/ws/chat/a.b/", "'.'"),
        ("/ws/chat/%ED%95%9C/", "'한'"),
        (&format!("/ws/chat/{long}/"), "95 characters"),
        ("/ws/chat/a/b/", "segments"),
        ("/x/ws/chat/a/", "/ws/chat/"),
        ("/", "/ws/chat/"),
    ];
    for (target, reason) in cases {
        let started = Instant::now();
        let ws = RawWs::try_connect(s.addr, target, "").await;
        assert_eq!(ws.response.status, 404, "{target}");
        // At once: long before the server's own handshake timeout could have ended it (a
        // quarter of it, loose enough for the whole suite on two shared cores).
        assert!(
            started.elapsed() < DEFAULT_HANDSHAKE_TIMEOUT / 4,
            "{target}: refusal took {:?}",
            started.elapsed()
        );
        let len: usize = ws
            .response
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("a body");
        assert!(len > 1, "{target}: empty body");
        drop(ws);
        // The reason itself, over a fresh request.
        let r = common::http_raw(s.addr, &common::upgrade_request(target, "")).await;
        assert!(r.body.contains(reason), "{target}: reason {:?}", r.body);
        assert_eq!(
            r.body.trim_end().lines().count(),
            1,
            "one line: {:?}",
            r.body
        );
    }
}

#[tokio::test]
async fn valid_names_query_strings_and_percent_escapes() {
    let s = server().await;
    let name = room("Q");
    let max = "Z".repeat(94);
    for target in [
        format!("/ws/chat/{name}/"),
        format!("/ws/chat/{name}/?q=1"),
        format!("/ws/chat/{max}/"),
    ] {
        RawWs::connect(s.addr, &target, "").await;
    }

    // `%6Cobby`-style escapes name the same room.
    let plain = room("lobby");
    let escaped = format!("%{:02X}{}", plain.as_bytes()[0], &plain[1..]);
    let mut a = RawWs::join(s.addr, &plain).await;
    let mut b = RawWs::connect(s.addr, &format!("/ws/chat/{escaped}/?x=y"), "").await;
    b.send_text(r#"{"message":"same room"}"#).await;
    assert_eq!(a.recv_text().await, r#"{"message": "same room"}"#);
    assert_eq!(b.recv_text().await, r#"{"message": "same room"}"#);
}

#[tokio::test]
async fn names_are_case_sensitive() {
    let s = server().await;
    let name = room("case");
    let upper = name.to_uppercase();
    let mut lower_ws = RawWs::join(s.addr, &name).await;
    let mut upper_ws = RawWs::join(s.addr, &upper).await;
    upper_ws.send_text(r#"{"message":"upper"}"#).await;
    assert_eq!(upper_ws.recv_text().await, r#"{"message": "upper"}"#);
    lower_ws.send_text(r#"{"message":"lower"}"#).await;
    // The lower-case room's first frame is its own message, not the other room's.
    assert_eq!(lower_ws.recv_text().await, r#"{"message": "lower"}"#);
}

/// No subprotocol is ever selected; permessage-deflate is (tests/deflate.rs), but only when
/// offered.
#[tokio::test]
async fn no_subprotocol_is_selected_and_compression_only_when_offered() {
    let s = server().await;
    let ws = RawWs::connect(
        s.addr,
        &format!("/ws/chat/{}/", room("ext")),
        "Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    )
    .await;
    assert_eq!(ws.response.header("sec-websocket-protocol"), None);
    assert!(
        ws.response
            .header("sec-websocket-extensions")
            .is_some_and(|e| e.starts_with("permessage-deflate"))
    );
    let ws = RawWs::connect(s.addr, &format!("/ws/chat/{}/", room("ext")), "").await;
    assert_eq!(ws.response.header("sec-websocket-extensions"), None);
}

#[tokio::test]
async fn allowed_origin_refuses_others_with_403() {
    let mut config = Config::local();
    config.allowed_origins = vec!["http://good.example".into()];
    let s = server_with(config).await;
    let target = format!("/ws/chat/{}/", room("origin"));
    RawWs::connect(s.addr, &target, "Origin: http://good.example\r\n").await;
    let bad = RawWs::try_connect(s.addr, &target, "Origin: http://evil.example\r\n").await;
    assert_eq!(bad.response.status, 403);
    let none = RawWs::try_connect(s.addr, &target, "").await;
    assert_eq!(none.response.status, 403);
}

#[tokio::test]
async fn any_origin_is_accepted_by_default() {
    let s = server().await;
    let target = format!("/ws/chat/{}/", room("anyorigin"));
    RawWs::connect(s.addr, &target, "Origin: http://elsewhere.example\r\n").await;
}

#[tokio::test]
async fn max_connections_answers_503_and_frees_slots() {
    let mut config = Config::local();
    config.max_connections = 2;
    let s = server_with(config).await;
    let name = room("full");
    let mut first = RawWs::join(s.addr, &name).await;
    let _second = RawWs::join(s.addr, &name).await;
    let third = RawWs::try_connect(s.addr, &format!("/ws/chat/{name}/"), "").await;
    assert_eq!(third.response.status, 503);

    first.send_close(1000, "").await;
    assert_eq!(first.expect_close().await.0, 1000);
    assert!(first.at_eof().await);
    let metrics = s.metrics.clone();
    common::eventually("the slot is free", || metrics.open_connections() == 1).await;
    RawWs::join(s.addr, &name).await;
}

#[tokio::test]
async fn wrong_version_gets_426() {
    let s = server().await;
    let request = format!(
        "GET /ws/chat/{}/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 8\r\n\r\n",
        room("v"),
        common::KEY
    );
    let r = common::http_raw(s.addr, &request).await;
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
}
