//! `--deflate` and the bytes on the wire: against a server that compresses (the fault server
//! doing permessage-deflate right, the embedded reference server) nothing is missing, every
//! connection agreed, and a delivery of word text costs fewer bytes than without; against one that sets RSV1 on a
//! continuation frame the connections fail and the run says so.

mod common;

use fault_server::{Deflate, Faults};

fn deflating(mode: Deflate) -> Faults {
    Faults {
        deflate: Some(mode),
        ..Faults::default()
    }
}

/// Runs `args` (160 bytes of words each) without and with `--deflate`: nothing missing either
/// way, every connection of the second agreed and every delivery inflated; the wire figures
/// of both.
async fn plain_and_compressed(
    args: &[&str],
) -> (run_result::wire::WireLoad, run_result::wire::WireLoad) {
    let words = [args, &["--text", "words", "--size", "160"]].concat();
    let plain = common::run(&words).await;
    let compressed = common::run(&[words.as_slice(), &["--deflate"]].concat()).await;
    for r in [&plain, &compressed] {
        assert_eq!(r.summary.missing, 0);
        assert!(r.summary.delivered > 0);
    }
    let c = compressed.wire.clone().expect("wire figures");
    assert!(c.deflate_offered);
    assert_eq!(c.deflate_agreed, compressed.summary.connections.established);
    assert!(c.inflated_messages >= compressed.summary.delivered);
    (plain.wire.expect("wire figures"), c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_deliveries_are_counted_and_cost_fewer_bytes() {
    let server = fault_server::spawn(deflating(Deflate::Correct))
        .await
        .expect("fault server");
    let url = server.url();
    let (p, c) = plain_and_compressed(&common::small_plan(&url, &[])).await;
    assert!(!p.deflate_offered && p.deflate_agreed == 0 && p.inflated_messages == 0);
    assert!(
        c.read_per_delivery < p.read_per_delivery * 0.8,
        "{} B per delivery compressed, {} plain",
        c.read_per_delivery,
        p.read_per_delivery
    );
}

/// The embedded reference server compresses each broadcast once, without context: every
/// delivery of 160 bytes of words comes compressed, at under 0.9x the bytes (not the fault
/// server's 0.8x: no message reaches back into the one before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_compresses_every_delivery_of_words() {
    let (p, c) = plain_and_compressed(common::SMALL).await;
    assert_eq!(p.deflate_agreed, 0);
    assert!(
        c.read_per_delivery < p.read_per_delivery * 0.9,
        "{} B per delivery compressed, {} plain",
        c.read_per_delivery,
        p.read_per_delivery
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_gets_it_wrong_fails_the_connections() {
    let (code, output) = common::binary_against(
        Some(deflating(Deflate::RsvOnContinuation)),
        &[common::SMALL, &["--deflate"]].concat(),
    )
    .await;
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("RSV1"), "{output}");
}
