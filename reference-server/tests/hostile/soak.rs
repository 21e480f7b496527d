//! The soak: waves of connections that join, chat and leave; RSS returns to its baseline.
//! Slow (about a minute), so `#[ignore]`d: `cargo test -p reference-server --release --test
//! hostile -- --ignored soak --nocapture`.

use std::time::Duration;

use crate::common::process::ServerProcess;
use crate::common::{RawWs, room};

#[tokio::test]
#[ignore = "a minute long; run by hand, figures in docs/limits.md"]
async fn soak_waves_of_connections_return_rss_to_baseline() {
    const WAVES: usize = 10;
    const PER_WAVE: usize = 4000;
    const ROOMS: usize = 40;
    let server = ServerProcess::start(&[]);
    let addr = server.addr;
    // One warm-up wave so the allocator has its working set, then the baseline.
    let mut baseline = 0;
    for wave in 0..=WAVES {
        let names: Vec<String> = (0..ROOMS).map(|_| room("soak")).collect();
        let mut members = Vec::with_capacity(PER_WAVE);
        for i in 0..PER_WAVE {
            members.push(RawWs::join(addr, &names[i % ROOMS]).await);
        }
        let held = server.rss_bytes();
        // One message per room; every member reads it.
        for sender in members.iter_mut().take(ROOMS) {
            sender.send_text(r#"{"message":"wave"}"#).await;
        }
        for member in &mut members {
            assert_eq!(member.recv_text().await, r#"{"message": "wave"}"#);
        }
        // Half leave with a close frame, half drop TCP.
        for (i, mut member) in members.into_iter().enumerate() {
            if i % 2 == 0 {
                member.send_close(1000, "").await;
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while crate::common::metric(addr, "chat_open_connections").await > 0.0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "connections left open"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = server.rss_bytes();
        eprintln!(
            "wave {wave}: RSS with {PER_WAVE} open {} MiB, after they left {} MiB",
            held >> 20,
            after >> 20
        );
        if wave == 0 {
            baseline = after;
        }
    }
    let end = server.rss_bytes();
    eprintln!("baseline {} MiB, end {} MiB", baseline >> 20, end >> 20);
    assert!(
        end < baseline + (16 << 20),
        "RSS grew from {} to {} MiB over {WAVES} waves",
        baseline >> 20,
        end >> 20
    );
}
