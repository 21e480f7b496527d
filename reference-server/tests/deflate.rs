//! permessage-deflate on the reference server (docs/reference-server.md, "Compression"): the
//! offer accepted with no context takeover either way, a broadcast compressed once for every
//! member that agreed (the counter), plain frames for the others, and compressed client
//! messages inflated within the message bound.

mod common;

use std::time::Duration;

use common::{TIMEOUT, room, server, server_with};
use rawws::deflate::{Deflater, OFFER};
use rawws::{Handshake, Next, RSV1, Ws, op};
use reference_server::Config;

const ANSWER: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Joins `room` offering permessage-deflate as Chromium does, or offering nothing.
async fn join(addr: std::net::SocketAddr, room: &str, offer: bool) -> Ws {
    let extra = if offer {
        format!("Sec-WebSocket-Extensions: {OFFER}\r\n")
    } else {
        String::new()
    };
    match Ws::handshake(
        addr,
        "localhost",
        &format!("/ws/chat/{room}/"),
        &extra,
        TIMEOUT,
    )
    .await
    .expect("a handshake answer")
    {
        Handshake::Accepted(ws) => ws,
        Handshake::Refused(r) => panic!("refused: {r:?}"),
    }
}

/// The next message: its text and whether it came compressed.
async fn next_message(ws: &mut Ws) -> (String, bool) {
    match ws.next(TIMEOUT).await.expect("a message") {
        Next::Frame(f) if f.opcode == op::TEXT => (
            String::from_utf8(f.payload).expect("UTF-8"),
            f.rsv & RSV1 != 0,
        ),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The close code the server sent.
async fn close_code(ws: &mut Ws) -> u16 {
    match ws.next(TIMEOUT).await.expect("a close frame") {
        Next::Frame(f) => f.close_code().expect("a close frame").0,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

fn compressions(server: &reference_server::RunningServer) -> u64 {
    let metrics = server.metrics.render();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("chat_deflate_compressions_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no deflate counter in:\n{metrics}"))
}

#[tokio::test]
async fn a_broadcast_is_compressed_once_for_every_member_that_agreed() {
    let server = server().await;
    let room = room("deflate");
    let mut agreed = Vec::new();
    for _ in 0..4 {
        let ws = join(server.addr, &room, true).await;
        assert_eq!(ws.response.header("sec-websocket-extensions"), Some(ANSWER));
        agreed.push(ws);
    }
    let mut plain = join(server.addr, &room, false).await;
    assert_eq!(plain.response.header("sec-websocket-extensions"), None);
    let before = compressions(&server);
    let sent: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"message": "message {i}: the quick brown fox jumps over the lazy dog, the quick brown fox"}}"#))
        .collect();
    for text in &sent {
        // From a member that agreed: its message comes compressed (RSV1) and is inflated.
        agreed[0].send_text(text).await.expect("sent");
        for ws in &mut agreed {
            assert_eq!(next_message(ws).await, (text.clone(), true));
        }
        assert_eq!(next_message(&mut plain).await, (text.clone(), false));
    }
    // Three broadcasts to four members that agreed: three compressions, not twelve.
    assert_eq!(compressions(&server) - before, 3);
    // A message that does not shrink goes plain to everyone, compressed or not.
    plain.send_text(r#"{"message": "q"}"#).await.expect("sent");
    assert_eq!(
        next_message(&mut agreed[1]).await,
        (r#"{"message": "q"}"#.to_owned(), false)
    );
}

#[tokio::test]
async fn with_no_deflate_the_offer_is_declined() {
    let server = server_with(Config {
        no_deflate: true,
        ..Config::local()
    })
    .await;
    let room = room("nodeflate");
    let mut ws = join(server.addr, &room, true).await;
    assert_eq!(ws.response.header("sec-websocket-extensions"), None);
    let text = r#"{"message": "the quick brown fox jumps over the lazy dog, the quick brown fox"}"#;
    ws.send_text(text).await.expect("sent");
    assert_eq!(next_message(&mut ws).await, (text.to_owned(), false));
    assert_eq!(compressions(&server), 0);
}

/// A compressed message in fragments, a ping between them: inflated whole, broadcast.
#[tokio::test]
async fn a_fragmented_compressed_message_is_inflated_whole() {
    let server = server().await;
    let room = room("deflate_frag");
    let mut ws = join(server.addr, &room, true).await;
    let text = format!(r#"{{"message": "{}"}}"#, "fragments of words ".repeat(50));
    let mut deflater =
        Deflater::new(&rawws::deflate::negotiated(ANSWER).expect("valid")).expect("15 bits");
    let payload = deflater.deflate(text.as_bytes());
    let (first, rest) = payload.split_at(payload.len() / 2);
    ws.send_frame_rsv(false, RSV1, op::TEXT, first)
        .await
        .expect("sent");
    ws.send_frame(true, op::PING, b"between")
        .await
        .expect("sent");
    ws.send_frame(true, op::CONT, rest).await.expect("sent");
    assert_eq!(next_message(&mut ws).await, (text, true));
}

#[tokio::test]
async fn a_compressed_bomb_is_refused_with_1009_before_it_is_expanded() {
    let server = server().await;
    let mut ws = join(server.addr, &room("deflate_bomb"), true).await;
    let mut deflater =
        Deflater::new(&rawws::deflate::negotiated(ANSWER).expect("valid")).expect("15 bits");
    // 64 MiB of one character: about 64 KiB compressed, far over the 1 MiB message limit.
    let bomb = deflater.deflate(&vec![b'a'; 64 << 20]);
    assert!(bomb.len() < Config::local().max_message_bytes);
    ws.send_frame_rsv(true, RSV1, op::TEXT, &bomb)
        .await
        .expect("sent");
    assert_eq!(close_code(&mut ws).await, 1009);
}

/// A frame to send: FIN, reserved bits, opcode, payload.
type Sent = (bool, u8, u8, Vec<u8>);

/// RSV1 where RFC 7692 6.1 does not allow it, and a payload that is not DEFLATE: 1002.
#[tokio::test]
async fn misplaced_rsv1_and_bad_deflate_fail_with_1002() {
    let server = server().await;
    let room = room("deflate_bad");
    let mut deflater =
        Deflater::new(&rawws::deflate::negotiated(ANSWER).expect("valid")).expect("15 bits");
    let good = deflater.deflate(br#"{"message": "hello hello hello hello"}"#);
    let cases: [(&str, Vec<Sent>); 3] = [
        (
            "RSV1 on a ping",
            vec![(true, RSV1, op::PING, b"p".to_vec())],
        ),
        (
            "RSV1 on a continuation",
            vec![
                (false, RSV1, op::TEXT, good[..4].to_vec()),
                (true, RSV1, op::CONT, good[4..].to_vec()),
            ],
        ),
        (
            "not DEFLATE",
            vec![(true, RSV1, op::TEXT, vec![0xff, 0xff, 0xff, 0xff])],
        ),
    ];
    for (what, frames) in cases {
        let mut ws = join(server.addr, &room, true).await;
        for (fin, rsv, opcode, payload) in frames {
            ws.send_frame_rsv(fin, rsv, opcode, &payload)
                .await
                .expect("sent");
        }
        assert_eq!(close_code(&mut ws).await, 1002, "{what}");
    }
    // RSV1 from a member that did not agree: the codec's own rule.
    let mut ws = join(server.addr, &room, false).await;
    ws.send_frame_rsv(true, RSV1, op::TEXT, &good)
        .await
        .expect("sent");
    assert_eq!(close_code(&mut ws).await, 1002);
    // The server still serves the room.
    let mut ws = join(server.addr, &room, true).await;
    ws.send_text(r#"{"message": "still here"}"#)
        .await
        .expect("sent");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), next_message(&mut ws))
            .await
            .expect("in time")
            .0,
        r#"{"message": "still here"}"#
    );
}
