//! docs/protocol.md sections 3, 4 and 6: what members receive, byte for byte, and in which order.

mod common;

use common::{RawWs, eventually_async, metric, op, room, server, server_with};
use reference_server::{Config, RunningServer};

#[tokio::test]
async fn section_4_vectors_over_the_wire() {
    let s = server().await;
    let name = room("vectors");
    let mut sender = RawWs::join(s.addr, &name).await;
    let mut other = RawWs::join(s.addr, &name).await;
    let vectors = protocol::vectors::SECTION_4;
    for (input, want) in vectors {
        sender.send_text(input).await;
        for ws in [&mut sender, &mut other] {
            let frame = ws.read_frame().await;
            assert!(frame.fin);
            assert_eq!(frame.text(), *want, "input {input:?}");
        }
    }
}

#[tokio::test]
async fn fragmented_messages_are_reassembled() {
    let s = server().await;
    let mut ws = RawWs::join(s.addr, &room("frag")).await;
    ws.send_frame(false, op::TEXT, br#"{"mess"#).await;
    ws.send_frame(false, op::CONT, br#"age":"in "#).await;
    // A control frame may arrive between fragments.
    ws.send_frame(true, op::PING, b"p").await;
    ws.send_frame(true, op::CONT, br#"parts"}"#).await;
    let pong = ws.read_frame().await;
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (op::PONG, &b"p"[..])
    );
    assert_eq!(ws.recv_text().await, r#"{"message": "in parts"}"#);
}

#[tokio::test]
async fn every_member_gets_every_message_once_in_one_order() {
    one_order_for_all(server().await).await;
}

/// The same through either write path alone: every frame queued and written by the members'
/// sessions (`--direct-write-below 0`), or written by the publisher whenever a member is idle
/// (no rate limit); and through both at once, the publisher writing into two of the four
/// members' sockets and the other two woken (`--direct-write-members 2`).
#[tokio::test]
async fn one_order_through_either_write_path() {
    for (direct_write_below, direct_write_members) in [(0, 16), (u64::MAX, 16), (u64::MAX, 2)] {
        let config = Config {
            direct_write_below,
            direct_write_members,
            ..Config::local()
        };
        one_order_for_all(server_with(config).await).await;
    }
}

/// A room large enough for the fan-out helper (`reference-server/src/spread.rs`), its members
/// idle for `DIRECT_GAP` between rounds so that each message is written straight into the
/// sockets, by the publisher into one share of the room and by the helper into the other; two
/// senders at once, so two publishers contend for the one helper. Every member gets every
/// message once, in the room's one order.
#[tokio::test]
async fn a_large_room_is_written_by_the_publisher_and_the_helper_in_one_order() {
    const MEMBERS: usize = 24;
    const ROUNDS: usize = 20;
    let s = server_with(Config {
        direct_write_below: u64::MAX,
        ..Config::local()
    })
    .await;
    let name = room("spread");
    let mut members = join_all(s.addr, &name, MEMBERS).await;
    let mut orders = vec![Vec::new(); MEMBERS];
    for round in 0..ROUNDS {
        members[round % MEMBERS]
            .send_text(&format!(r#"{{"message":"a-{round}"}}"#))
            .await;
        members[(round + 7) % MEMBERS]
            .send_text(&format!(r#"{{"message":"b-{round}"}}"#))
            .await;
        for (ws, seen) in members.iter_mut().zip(&mut orders) {
            for _ in 0..2 {
                let v: serde_json::Value =
                    serde_json::from_str(&ws.recv_text().await).expect("JSON");
                seen.push(v["message"].as_str().expect("string").to_owned());
            }
        }
        // The shape of the load, not a wait for anything: idle members are written directly.
        tokio::time::sleep(reference_server::outlet::DIRECT_GAP).await;
    }
    assert_one_order(&orders, &["a", "b"], ROUNDS);
    // Both wrote: the helper some of the frames (it takes a room's share whenever it is
    // idle, so at least the first round's), the publishers the rest of the direct writes.
    let frames = (2 * ROUNDS * MEMBERS) as f64;
    all_counted(s.addr, frames).await;
    let by_helper = metric(s.addr, "chat_fanout_helper_frames_total").await;
    let by_publishers = metric(s.addr, "chat_publisher_frames_total").await;
    assert!(
        by_helper > 0.0 && by_publishers > 0.0 && by_helper + by_publishers <= frames,
        "of {frames} frames the helper wrote {by_helper}, the publishers {by_publishers}"
    );
}

/// The room decides who writes: with `--direct-write-members 2` the publisher writes into
/// the sockets of the room's first two members and no others (their sessions write theirs),
/// every message, the members idle for `DIRECT_GAP` between messages.
#[tokio::test]
async fn the_publisher_writes_into_the_first_members_of_a_room_only() {
    const MEMBERS: usize = 5;
    const DIRECT: usize = 2;
    const ROUNDS: usize = 6;
    let s = server_with(Config {
        direct_write_below: u64::MAX,
        direct_write_members: DIRECT,
        ..Config::local()
    })
    .await;
    let name = room("first_two");
    let mut members = join_all(s.addr, &name, MEMBERS).await;
    for round in 0..ROUNDS {
        members[round % MEMBERS]
            .send_text(&format!(r#"{{"message":"r{round}"}}"#))
            .await;
        for ws in &mut members {
            assert_eq!(
                ws.recv_text().await,
                format!(r#"{{"message": "r{round}"}}"#)
            );
        }
        // The shape of the load, not a wait for anything: idle members are written directly.
        tokio::time::sleep(reference_server::outlet::DIRECT_GAP).await;
    }
    let frames = (ROUNDS * MEMBERS) as f64;
    all_counted(s.addr, frames).await;
    assert_eq!(
        metric(s.addr, "chat_publisher_frames_total").await,
        (ROUNDS * DIRECT) as f64
    );
}

/// A room larger than its direct-write share (`--direct-write-members`): the members past the
/// share are queued and woken, and the fan-out helper still writes the top of the share, in
/// parallel with the publisher. (Split over the whole room, the helper's positions would fall
/// past the share and the helper would write nothing.)
#[tokio::test]
async fn the_helper_shares_the_direct_writes_of_a_room_larger_than_them() {
    const MEMBERS: usize = 100;
    const DIRECT: usize = 50;
    let s = server_with(Config {
        direct_write_below: u64::MAX,
        direct_write_members: DIRECT,
        ..Config::local()
    })
    .await;
    let name = room("beyond_share");
    let mut members = join_all(s.addr, &name, MEMBERS).await;
    members[0].send_text(r#"{"message":"m"}"#).await;
    for ws in &mut members {
        assert_eq!(ws.recv_text().await, r#"{"message": "m"}"#);
    }
    // The helper counts its frames before frames_delivered does.
    all_counted(s.addr, MEMBERS as f64).await;
    let by_helper = metric(s.addr, "chat_fanout_helper_frames_total").await;
    assert!(
        by_helper > 0.0 && by_helper < DIRECT as f64,
        "the helper wrote {by_helper} of the {DIRECT} direct writes"
    );
}

async fn one_order_for_all(s: RunningServer) {
    let name = room("order");
    let mut members = join_all(s.addr, &name, 4).await;
    // Every member sends concurrently-ish: interleave sends across members.
    const PER_SENDER: usize = 50;
    for i in 0..PER_SENDER {
        for (m, ws) in members.iter_mut().enumerate() {
            ws.send_text(&format!(r#"{{"message":"{m}-{i}"}}"#)).await;
        }
    }
    let mut orders = Vec::new();
    for ws in &mut members {
        let mut seen = Vec::new();
        for _ in 0..PER_SENDER * 4 {
            let text = ws.recv_text().await;
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            seen.push(v["message"].as_str().expect("string").to_owned());
        }
        orders.push(seen);
    }
    assert_one_order(&orders, &["0", "1", "2", "3"], PER_SENDER);
}

/// One order for all members, containing each message (`"{sender}-{i}"`, `i` below
/// `per_sender`) once, each sender's in its sent order.
fn assert_one_order(orders: &[Vec<String>], senders: &[&str], per_sender: usize) {
    for other in &orders[1..] {
        assert_eq!(&orders[0], other);
    }
    for sender in senders {
        let mine: Vec<&String> = orders[0]
            .iter()
            .filter(|t| t.starts_with(&format!("{sender}-")))
            .collect();
        let want: Vec<String> = (0..per_sender).map(|i| format!("{sender}-{i}")).collect();
        assert_eq!(mine, want.iter().collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn nothing_crosses_rooms() {
    let s = server().await;
    let (a, b) = (room("iso_a"), room("iso_b"));
    let mut in_a = RawWs::join(s.addr, &a).await;
    let mut in_b = RawWs::join(s.addr, &b).await;
    in_a.send_text(r#"{"message":"for a"}"#).await;
    in_b.send_text(r#"{"message":"for b"}"#).await;
    assert_eq!(in_a.recv_text().await, r#"{"message": "for a"}"#);
    assert_eq!(in_b.recv_text().await, r#"{"message": "for b"}"#);
    // A marker proves nothing else was queued before it.
    in_a.send_text(r#"{"message":"end"}"#).await;
    assert_eq!(in_a.recv_text().await, r#"{"message": "end"}"#);
}

#[tokio::test]
async fn a_member_that_left_gets_nothing_and_can_rejoin_at_once() {
    let s = server().await;
    let name = room("leave");
    let mut stay = RawWs::join(s.addr, &name).await;
    let mut leaver = RawWs::join(s.addr, &name).await;
    leaver.send_close(1000, "bye").await;
    assert_eq!(leaver.expect_close().await.0, 1000);
    assert!(leaver.at_eof().await);

    stay.send_text(r#"{"message":"after"}"#).await;
    assert_eq!(stay.recv_text().await, r#"{"message": "after"}"#);

    let mut back = RawWs::join(s.addr, &name).await;
    back.send_text(r#"{"message":"back"}"#).await;
    assert_eq!(back.recv_text().await, r#"{"message": "back"}"#);
    assert_eq!(stay.recv_text().await, r#"{"message": "back"}"#);
}

#[tokio::test]
async fn a_member_leaves_when_its_socket_drops_without_a_close() {
    let s = server().await;
    let name = room("drop");
    let mut stay = RawWs::join(s.addr, &name).await;
    let gone = RawWs::join(s.addr, &name).await;
    let metrics = s.metrics.clone();
    common::eventually("two members", || metrics.open_connections() == 2).await;
    drop(gone);
    common::eventually("the dropped member left", || {
        metrics.open_connections() == 1
    })
    .await;
    stay.send_text(r#"{"message":"still here"}"#).await;
    assert_eq!(stay.recv_text().await, r#"{"message": "still here"}"#);
    assert_eq!(metrics.rooms(), 1);
    stay.send_close(1000, "").await;
    stay.expect_close().await;
    common::eventually("the room is gone", || metrics.rooms() == 0).await;
}

/// A frame sent in the same write as the upgrade request (the HTTP server reads it with the
/// request) is the session's first frame: it is broadcast, and its sender gets it back.
#[tokio::test]
async fn a_frame_sent_with_the_upgrade_request_is_not_lost() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server().await;
    let name = room("early");
    let mut tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let payload = br#"{"message":"early"}"#;
    let mask = [1u8, 2, 3, 4];
    let mut bytes = format!(
        "GET /ws/chat/{name}/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(&[0x81, 0x80 | payload.len() as u8]);
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&bytes)
        .await
        .expect("request and frame in one write");

    let want = br#"{"message": "early"}"#;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let frame = loop {
        if let Some(head_end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(got.starts_with(b"HTTP/1.1 101"), "a 101 first");
            let rest = &got[head_end + 4..];
            if rest.len() >= 2 + want.len() {
                break rest.to_vec();
            }
        }
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut buf))
            .await
            .expect("the echo in time")
            .expect("read");
        assert!(n > 0, "the server closed instead of answering");
        got.extend_from_slice(&buf[..n]);
    };
    assert_eq!(&frame[..2], &[0x81, want.len() as u8]);
    assert_eq!(&frame[2..2 + want.len()], want);
}

/// `n` members of `room`, in join order (their positions in the room).
async fn join_all(addr: std::net::SocketAddr, room: &str, n: usize) -> Vec<RawWs> {
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        members.push(RawWs::join(addr, room).await);
    }
    members
}

/// Waits until the server has counted `frames` deliveries (every writer counts its own
/// before `chat_frames_delivered_total`).
async fn all_counted(addr: std::net::SocketAddr, frames: f64) {
    eventually_async("every delivery counted", || async {
        metric(addr, "chat_frames_delivered_total").await == frames
    })
    .await;
}
