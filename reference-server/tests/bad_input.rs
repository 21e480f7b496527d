//! docs/protocol.md section 5: bad input closes only the offending socket, at once, with a code
//! and a reason; the room and the server carry on.

mod common;

use std::time::Instant;

use reference_server::config::DEFAULT_HANDSHAKE_TIMEOUT;

use common::{RawWs, op, room, server, server_with};
use reference_server::Config;

/// Sends `payload` as one frame from a fresh member of a room with a bystander, and checks the
/// offender is closed at once with `code`, that nothing was broadcast, and that the bystander
/// and new connections carry on.
async fn refused(opcode: u8, payload: &[u8], code: u16, reason_has: &str) {
    let s = server().await;
    refused_on(&s, opcode, payload, code, reason_has).await;
}

async fn refused_on(
    s: &reference_server::RunningServer,
    opcode: u8,
    payload: &[u8],
    code: u16,
    reason_has: &str,
) {
    let name = room("bad");
    let mut bystander = RawWs::join(s.addr, &name).await;
    let mut offender = RawWs::join(s.addr, &name).await;
    let started = Instant::now();
    offender.send_frame(true, opcode, payload).await;
    let frame = offender.read_frame().await;
    let (got, reason) = frame.close();
    assert_eq!(got, code, "reason {reason:?}");
    assert!(
        reason.contains(reason_has),
        "reason {reason:?} lacks {reason_has:?}"
    );
    // At once: long before any timeout of the server's (a quarter of the handshake timeout,
    // loose enough for the whole suite on two shared cores).
    assert!(
        started.elapsed() < DEFAULT_HANDSHAKE_TIMEOUT / 4,
        "slow close: {:?}",
        started.elapsed()
    );
    // The offender answers the close; the server then ends the connection.
    offender.send_close(code, "").await;
    assert!(
        offender.at_eof().await,
        "the server must close the TCP connection"
    );

    // The bystander saw nothing of it and keeps chatting, and newcomers are welcome.
    let mut newcomer = RawWs::join(s.addr, &name).await;
    bystander.send_text(r#"{"message":"still fine"}"#).await;
    assert_eq!(bystander.recv_text().await, r#"{"message": "still fine"}"#);
    assert_eq!(newcomer.recv_text().await, r#"{"message": "still fine"}"#);
}

#[tokio::test]
async fn not_json_is_1007() {
    refused(op::TEXT, b"hello", 1007, "invalid JSON").await;
}

#[tokio::test]
async fn json_that_is_not_an_object_is_1007() {
    refused(op::TEXT, b"[1,2]", 1007, "not an object").await;
}

#[tokio::test]
async fn no_message_key_is_1007() {
    refused(op::TEXT, br#"{"msg":"x"}"#, 1007, "\"message\"").await;
}

#[tokio::test]
async fn empty_text_frame_is_1007() {
    refused(op::TEXT, b"", 1007, "empty").await;
}

#[tokio::test]
async fn binary_frame_is_1003() {
    refused(op::BINARY, br#"{"message":"x"}"#, 1003, "binary").await;
}

#[tokio::test]
async fn invalid_utf8_is_1007() {
    refused(op::TEXT, b"{\"message\":\"\xff\xfe\"}", 1007, "UTF-8").await;
}

#[tokio::test]
async fn non_finite_numbers_are_1007() {
    let s = server().await;
    refused_on(&s, op::TEXT, br#"{"message":1e400}"#, 1007, "out of range").await;
    refused_on(&s, op::TEXT, br#"{"message":NaN}"#, 1007, "NaN").await;
    refused_on(
        &s,
        op::TEXT,
        br#"{"message":-Infinity}"#,
        1007,
        "NaN and Infinity",
    )
    .await;
}

#[tokio::test]
async fn nesting_beyond_the_limit_is_1007() {
    let deep = format!(r#"{{"message":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    refused(op::TEXT, deep.as_bytes(), 1007, "nesting").await;
}

#[tokio::test]
async fn incoming_message_over_the_limit_is_1009() {
    let mut config = Config::local();
    config.max_message_bytes = 1000;
    let s = server_with(config).await;
    let big = format!(r#"{{"message":"{}"}}"#, "a".repeat(1000));
    refused_on(&s, op::TEXT, big.as_bytes(), 1009, "1000-byte limit").await;
}

#[tokio::test]
async fn default_limit_is_one_mebibyte() {
    let s = server().await;
    let name = room("mib");
    let mut ws = RawWs::join(s.addr, &name).await;
    // Just under: accepted and echoed.
    let fits = format!(r#"{{"message":"{}"}}"#, "a".repeat((1 << 20) - 20));
    ws.send_text(&fits).await;
    assert_eq!(ws.recv_text().await.len(), (1 << 20) - 20 + 15);
    let over = format!(r#"{{"message":"{}"}}"#, "a".repeat(1 << 20));
    ws.send_text(&over).await;
    assert_eq!(ws.expect_close().await.0, 1009);
}

#[tokio::test]
async fn an_outgoing_frame_over_the_limit_closes_only_the_sender() {
    let mut config = Config::local();
    config.max_message_bytes = 1000;
    let s = server_with(config).await;
    // 200 Korean characters: 600 bytes in, 1,200+ bytes of escapes out.
    let grows = format!(r#"{{"message":"{}"}}"#, "한".repeat(200));
    assert!(grows.len() < 1000);
    refused_on(&s, op::TEXT, grows.as_bytes(), 1009, "broadcast frame").await;
}

#[tokio::test]
async fn the_metrics_count_closes_by_code() {
    let s = server().await;
    refused_on(&s, op::BINARY, b"x", 1003, "binary").await;
    let r = common::get(s.addr, "/metrics").await;
    assert!(
        r.body.contains("chat_closes_total{code=\"1003\"} 1"),
        "{}",
        r.body
    );
}
