//! Slow members, done right: a burst never evicts members that read, a member that never
//! reads is evicted and then disconnected within the close grace, and its slot and queue are
//! freed at once.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

use crate::common::process::ServerProcess;
use crate::common::{self, RawWs, eventually_async, metric, room, server};

#[tokio::test]
async fn a_burst_of_1100_small_messages_reaches_every_member_and_evicts_nobody() {
    let s = server().await;
    let name = room("burst");
    const READERS: usize = 10;
    const BURST: usize = 1100;
    let mut readers = Vec::new();
    for _ in 0..READERS {
        readers.push(RawWs::join(s.addr, &name).await);
    }
    let mut sender = RawWs::join(s.addr, &name).await;
    // The whole burst in one write, as a paste or a reconnect flush sends it.
    let mut burst = Vec::new();
    for i in 0..BURST {
        let text = format!(r#"{{"message":"burst message number {i:05} xxxxxxxxx"}}"#);
        burst.extend_from_slice(&masked_text(&text));
    }
    let readers = readers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                for i in 0..BURST {
                    let text = ws.recv_text().await;
                    assert!(text.contains(&format!("{i:05}")), "message {i}: {text}");
                }
            })
        })
        .collect::<Vec<_>>();
    let stream = sender.stream_mut();
    tokio::time::timeout(common::TIMEOUT, stream.write_all(&burst))
        .await
        .expect("burst written in time")
        .expect("write burst");
    for i in 0..BURST {
        let text = sender.recv_text().await;
        assert!(
            text.contains(&format!("{i:05}")),
            "sender's copy {i}: {text}"
        );
    }
    for reader in readers {
        reader.await.expect("a reader got all 1,100 in order");
    }
    assert_eq!(s.metrics.slow_member_closes(), 0);
    assert_eq!(s.metrics.open_connections(), READERS as i64 + 1);
}

fn masked_text(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81];
    let len = text.len();
    assert!(len < 126);
    frame.push(0x80 | len as u8);
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(text.as_bytes());
    frame
}

#[tokio::test]
async fn a_member_that_never_reads_is_evicted_then_disconnected_and_its_slot_freed_at_once() {
    // close wait = min(2 s, shutdown grace) = 1 s.
    let server = ServerProcess::start(&["--queue-bytes", "262144", "--shutdown-grace", "1s"]);
    let addr = server.addr;
    let name = room("nonreader");
    let mut sender = RawWs::join(addr, &name).await;
    let files_before = server.open_files();

    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(addr).await.expect("connect");
    let _never_reads = RawWs::handshake_on(stream, &format!("/ws/chat/{name}/")).await;
    assert_eq!(server.open_files(), files_before + 1);

    let message = format!(r#"{{"message":"{}"}}"#, "x".repeat(20 * 1024));
    let mut sent = 0;
    while metric(addr, "chat_slow_member_closes_total").await < 1.0 {
        assert!(sent < 500, "no eviction after {sent} messages of 20 KB");
        sender.send_text(&message).await;
        sender.recv_text().await;
        sent += 1;
    }
    let evicted_at = Instant::now();
    // The slot is free at once: the gauge says one connection, the sender.
    assert_eq!(metric(addr, "chat_open_connections").await, 1.0);
    assert_eq!(metric(addr, "chat_closes_total{code=\"1013\"}").await, 1.0);
    // The socket cannot take the close frame: it is dropped after the 1 s grace.
    eventually_async("the non-reader's descriptor is closed", || async {
        server.open_files() == files_before
    })
    .await;
    let took = evicted_at.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "dropped {took:?} after eviction"
    );
    // Its queue is freed: nothing is held for it any more.
    assert_eq!(metric(addr, "chat_memory_used_bytes").await, 0.0);
    // The sender goes on.
    sender.send_text(r#"{"message":"on"}"#).await;
    assert_eq!(sender.recv_text().await, r#"{"message": "on"}"#);
}
