//! The reference server keeps its promises: every reference case passes, and every django case
//! too but the three where it differs on purpose (docs/protocol.md sections 2 and 5: a 404
//! for a refused room, 1007 for bad input, permessage-deflate agreed as uvicorn does), and the
//! informational `payload.largest` and `slow.member`, which report its limit and its eviction.

mod common;

use conformance::case::{Level, Outcome};
use conformance::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_its_reference_and_django_cases() {
    let server = reference_server::spawn(reference_server::Config::local())
        .await
        .expect("server");
    let target = Target::parse(&server.http_url()).expect("target");
    let deliberate = [
        "rooms.refusal-500",
        "bad-input.django-1011",
        "life.no-compression",
    ];
    let ids: Vec<&str> = conformance::cases::all()
        .iter()
        .filter(|c| c.level != Level::Core)
        .map(|c| c.id)
        .collect();
    let reports = common::run_ids(&target, &ids).await;
    for r in &reports {
        let want = if deliberate.contains(&r.id.as_str()) {
            Outcome::NonStrict
        } else if r.id == "payload.largest" {
            // Informational by design: 512 KiB echoed, 1 MiB over --max-message-bytes.
            assert!(r.evidence.starts_with("512 KiB echoed"), "{}", r.evidence);
            Outcome::Informational
        } else if r.id == "slow.member" {
            // Informational by design: the silent member is cut, not kept.
            assert!(!r.evidence.contains("still open"), "{}", r.evidence);
            Outcome::Informational
        } else {
            Outcome::Pass
        };
        assert_eq!(r.verdict, want, "{}: {}", r.id, r.evidence);
    }
    assert!(reports.len() >= 20);
}
