//! What a client sends on a connection that agreed to permessage-deflate -> what the server's
//! WebSocket codec reads (`reference_server::deflate::Inflating`): never a panic or a hang;
//! what comes out is bounded by the message limit per frame that went in; without the
//! extension the bytes pass through untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::deflate::Inflating;
use tokio::io::AsyncReadExt;

/// The message bound the target runs with (the server's default is 1 MiB; small here so
/// that inputs reach it).
const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut out = Vec::new();
        let _ = Inflating::new(data, true, MAX).read_to_end(&mut out).await;
        // Each frame header takes 2 bytes at least and yields at most one frame of MAX bytes
        // and a 14-byte header; the bytes that are not headers pass once.
        let frames = data.len() / 2 + 1;
        assert!(out.len() <= data.len() + frames * (MAX + 14));

        let mut plain = Vec::new();
        Inflating::new(data, false, MAX)
            .read_to_end(&mut plain)
            .await
            .expect("a slice reads to its end");
        assert_eq!(plain, data);
    });
});
