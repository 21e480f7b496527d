//! Memory per connection is bounded whatever the client does.

use std::time::{Duration, Instant};

use reference_server::Config;
use tokio::io::AsyncWriteExt;

use crate::common::process::ServerProcess;
use crate::common::{self, RawWs, op, room, server_with};

/// One 125-byte masked ping frame.
fn ping_frame() -> Vec<u8> {
    let mut frame = vec![0x80 | op::PING, 0x80 | 125, 1, 2, 3, 4];
    frame.extend(std::iter::repeat_n(0x55, 125));
    frame
}

#[tokio::test]
async fn a_ping_flood_that_never_reads_grows_rss_by_less_than_64_mib() {
    let server = ServerProcess::start(&[]);
    let ws = RawWs::join(server.addr, &room("pingflood")).await;
    // Let the server settle after the handshake before the baseline.
    assert_eq!(common::get(server.addr, "/healthz").await.status, 200);
    let before = server.rss_bytes();

    let mut stream = ws.into_stream();
    let burst: Vec<u8> = std::iter::repeat_n(ping_frame(), 512).flatten().collect();
    let start = Instant::now();
    let mut sent = 0usize;
    let mut peak = before;
    while start.elapsed() < Duration::from_secs(10) {
        // Never reads. Writes until the server stops taking pings (it does, once the pongs
        // it owes cannot be written); each write is bounded so the loop keeps sampling RSS.
        if let Ok(Ok(())) =
            tokio::time::timeout(Duration::from_millis(100), stream.write_all(&burst)).await
        {
            sent += burst.len();
        }
        peak = peak.max(server.rss_bytes());
    }
    let growth = peak.saturating_sub(before);
    eprintln!(
        "ping flood: {} MiB of pings written, RSS {} -> peak {} KiB (+{} KiB)",
        sent >> 20,
        before >> 10,
        peak >> 10,
        growth >> 10
    );
    assert!(sent > 1 << 20, "the flood did not happen ({sent} bytes)");
    assert!(
        growth < 64 << 20,
        "RSS grew by {} MiB under a ping flood",
        growth >> 20
    );
    // The server is still serving others.
    let mut other = RawWs::join(server.addr, &room("afterflood")).await;
    other.send_text(r#"{"message":"ok"}"#).await;
    assert_eq!(other.recv_text().await, r#"{"message": "ok"}"#);
}

#[tokio::test]
async fn a_fragment_flood_is_closed_at_the_message_limit() {
    let mut config = Config::local();
    config.max_message_bytes = 64 * 1024;
    let s = server_with(config).await;
    let mut ws = RawWs::join(s.addr, &room("fragments")).await;
    ws.send_frame(false, op::TEXT, b"{\"message\":\"").await;
    // 1 KiB continuation frames without FIN: the 65th crosses the limit; the server closes
    // then, whatever comes after.
    let chunk = vec![b'a'; 1024];
    for _ in 0..100 {
        if !ws.try_send_frame(false, op::CONT, &chunk).await {
            break;
        }
    }
    assert_eq!(ws.expect_close().await.0, 1009);
    assert_eq!(s.metrics.closes(1009), 1);
}

/// chat_memory_used_bytes from /metrics.
async fn memory_used(addr: std::net::SocketAddr) -> u64 {
    common::get(addr, "/metrics")
        .await
        .body
        .lines()
        .find_map(|l| l.strip_prefix("chat_memory_used_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .expect("chat_memory_used_bytes in /metrics")
}

#[tokio::test]
async fn half_received_messages_over_the_memory_budget_are_closed_with_1013() {
    let mut config = Config::local();
    config.memory_budget = 256 * 1024;
    let s = server_with(config).await;
    // Two clients each announce a 900 KiB message and send it 64 KiB at a time: together
    // they cross the budget, and the one that crosses it (beyond its first 64 KiB) is closed.
    let name = room("budget");
    let mut clients = [
        RawWs::join(s.addr, &name).await,
        RawWs::join(s.addr, &name).await,
    ];
    let chunk = vec![b'a'; 64 * 1024];
    for ws in &mut clients {
        ws.send_frame_header(true, op::TEXT, 900 * 1024).await;
    }
    for _ in 0..14 {
        for ws in &mut clients {
            ws.try_send_payload(&chunk).await;
        }
        if s.metrics.memory_budget_closes() > 0 {
            break;
        }
    }
    let metrics = s.metrics.clone();
    common::eventually("a budget close", || metrics.memory_budget_closes() >= 1).await;
    let mut codes = Vec::new();
    for ws in &mut clients {
        // The client still inside the budget gets nothing; half a second tells.
        if let Ok(Some(frame)) =
            tokio::time::timeout(Duration::from_millis(500), ws.try_read_frame()).await
        {
            codes.push(frame.close());
        }
    }
    assert!(
        codes
            .iter()
            .any(|(code, reason)| *code == 1013 && reason.contains("memory budget")),
        "{codes:?}"
    );
    assert_eq!(s.metrics.closes(1013), s.metrics.memory_budget_closes());
    // Whatever was held is given back once the clients are gone.
    drop(clients);
    common::eventually_async("the budget is released", || async {
        memory_used(s.addr).await == 0
    })
    .await;
    let mut c = RawWs::join(s.addr, &room("budget_after")).await;
    c.send_text(r#"{"message":"still here"}"#).await;
    assert_eq!(c.recv_text().await, r#"{"message": "still here"}"#);
}
