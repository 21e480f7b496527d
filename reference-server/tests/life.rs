//! docs/protocol.md section 7 and the queue policy: pings, keepalive, close handshakes, shutdown,
//! and slow members.

mod common;

use std::time::Duration;

use common::{RawWs, op, room, server, server_with};
use reference_server::Config;
use tokio::net::TcpSocket;

#[tokio::test]
async fn client_ping_gets_a_pong_with_the_same_payload() {
    let s = server().await;
    let mut ws = RawWs::join(s.addr, &room("ping")).await;
    ws.send_frame(true, op::PING, b"payload-123").await;
    let pong = ws.read_frame().await;
    assert_eq!(pong.opcode, op::PONG);
    assert_eq!(pong.payload, b"payload-123");
}

fn keepalive_config(interval_ms: u64, timeout_ms: u64) -> Config {
    let mut config = Config::local();
    config.ping_interval = Duration::from_millis(interval_ms);
    config.ping_timeout = Duration::from_millis(timeout_ms);
    config
}

#[tokio::test]
async fn silent_clients_are_pinged_and_answering_keeps_them() {
    let s = server_with(keepalive_config(100, 300)).await;
    let mut ws = RawWs::join(s.addr, &room("keep")).await;
    for _ in 0..3 {
        let ping = ws.read_frame().await;
        assert_eq!(ping.opcode, op::PING);
        ws.send_frame(true, op::PONG, &ping.payload).await;
    }
    ws.send_text(r#"{"message":"alive"}"#).await;
    // Pings may come in between; the message must still arrive.
    loop {
        let frame = ws.read_frame().await;
        if frame.opcode == op::TEXT {
            assert_eq!(frame.text(), r#"{"message": "alive"}"#);
            break;
        }
        assert_eq!(frame.opcode, op::PING);
    }
}

#[tokio::test]
async fn no_pong_means_close_1011() {
    let s = server_with(keepalive_config(100, 200)).await;
    let mut ws = RawWs::join(s.addr, &room("nopong")).await;
    let ping = ws.read_frame().await;
    assert_eq!(ping.opcode, op::PING);
    let (code, reason) = ws.read_frame().await.close();
    assert_eq!(code, 1011);
    assert!(reason.contains("ping timeout"), "{reason}");
}

#[tokio::test]
async fn client_close_is_answered_with_its_code() {
    let s = server().await;
    let mut ws = RawWs::join(s.addr, &room("close")).await;
    ws.send_close(4321, "done").await;
    let (code, _) = ws.read_frame().await.close();
    assert_eq!(code, 4321);
    assert!(ws.at_eof().await);
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1001() {
    let s = server().await;
    let (a, b) = (room("shut_a"), room("shut_b"));
    let mut clients = vec![
        RawWs::join(s.addr, &a).await,
        RawWs::join(s.addr, &a).await,
        RawWs::join(s.addr, &b).await,
    ];
    let metrics = s.metrics.clone();
    common::eventually("all joined", || metrics.open_connections() == 3).await;
    let addr = s.addr;
    s.begin_shutdown();
    for ws in &mut clients {
        let (code, reason) = ws.read_frame().await.close();
        assert_eq!(code, 1001);
        assert!(reason.contains("shutting down"));
        ws.send_close(1001, "").await;
        assert!(ws.at_eof().await);
    }
    s.stop().await.expect("clean stop");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

/// A member that stops reading is closed with 1013 once its queue is full, and counted; the
/// others get every message.
#[tokio::test]
async fn a_slow_member_is_closed_with_1013_and_the_room_goes_on() {
    let mut config = Config::local();
    config.queue_bytes = 4 * 33 * 1024;
    let s = server_with(config).await;
    let name = room("slow");

    // A tiny receive buffer so the server's writes to this member block soon.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(s.addr).await.expect("connect");
    let mut slow = RawWs::handshake_on(stream, &format!("/ws/chat/{name}/")).await;

    let mut fast = RawWs::join(s.addr, &name).await;
    let message = format!(r#"{{"message":"{}"}}"#, "x".repeat(32 * 1024));
    const COUNT: usize = 400;
    // The sender reads its own copy after each send, so it never falls behind.
    for _ in 0..COUNT {
        fast.send_text(&message).await;
        let frame = fast.read_frame().await;
        assert_eq!(
            frame.opcode,
            op::TEXT,
            "the fast member was closed: {frame:?}"
        );
    }
    assert_eq!(s.metrics.slow_member_closes(), 1);
    // The slow member finds, after what was already in flight, the 1013.
    let (code, reason) = slow.expect_close().await;
    assert_eq!(code, 1013);
    assert!(reason.contains("too slow"), "{reason}");
}
