//! permessage-deflate: servers that get it right pass every core case over compressed frames
//! (`--deflate`), and each way of getting it wrong fails a named case.

mod common;

use conformance::case::Outcome;
use conformance::runner::{self, CaseReport, Profile};
use conformance::target::Target;
use fault_server::{Deflate, Faults};

/// The core profile with every handshake offering permessage-deflate.
async fn core_with_deflate(target: &Target) -> Vec<CaseReport> {
    let mut ctx = common::ctx_for(target);
    ctx.deflate = true;
    let all = conformance::cases::all();
    let selected = runner::select(&all, Profile::Core, &[]);
    runner::run_all(selected, &ctx, 8).await
}

/// The fault server doing permessage-deflate as `mode` says, and its target.
async fn deflating(mode: Deflate) -> (fault_server::FaultServer, Target) {
    let server = fault_server::spawn(Faults {
        deflate: Some(mode),
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let target = Target::parse(&server.url()).expect("target");
    (server, target)
}

fn evidence(reports: &[CaseReport], id: &str) -> String {
    reports
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.evidence.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_get_it_right_pass_every_core_case_compressed() {
    for mode in [Deflate::Correct, Deflate::NoContext] {
        let (_server, target) = deflating(mode).await;
        let reports = core_with_deflate(&target).await;
        let failed: Vec<String> = reports
            .iter()
            .filter(|r| r.verdict != Outcome::Pass)
            .map(|r| format!("{}: {}", r.id, r.evidence))
            .collect();
        assert!(failed.is_empty(), "{mode:?}: {failed:#?}");
        let messages = evidence(&reports, "deflate.messages");
        assert!(
            messages.contains("6 of 6 deliveries compressed"),
            "{mode:?}: {messages}"
        );
    }
}

/// The reference server agrees (no context takeover either way, one compression per
/// broadcast) and passes every core case compressed; with `--no-deflate` it declines and
/// passes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_agreeing_and_declining() {
    for no_deflate in [false, true] {
        let server = reference_server::spawn(reference_server::Config {
            no_deflate,
            ..reference_server::Config::local()
        })
        .await
        .expect("server");
        let target = Target::parse(&server.http_url()).expect("target");
        let reports = core_with_deflate(&target).await;
        for r in &reports {
            assert_eq!(r.verdict, Outcome::Pass, "{}: {}", r.id, r.evidence);
        }
        let negotiation = evidence(&reports, "deflate.negotiation");
        let messages = evidence(&reports, "deflate.messages");
        if no_deflate {
            assert!(negotiation.ends_with("declined"), "{negotiation}");
        } else {
            assert!(
                negotiation.ends_with(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
                ),
                "{negotiation}"
            );
            // The third message, {"message": "plain"}, does not shrink: the server sends it
            // plain, as it may choose per message.
            assert!(
                messages.contains("4 of 6 deliveries compressed"),
                "{messages}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_of_getting_it_wrong_fails_its_case() {
    let rows: [(Deflate, &[&str]); 4] = [
        (
            Deflate::RsvOnContinuation,
            &[
                "deflate.messages",
                "deflate.late-member",
                "deflate.control-frames",
            ],
        ),
        (
            Deflate::KeepsContext,
            &["deflate.messages", "deflate.late-member"],
        ),
        (Deflate::SharedContext, &["deflate.late-member"]),
        (Deflate::CompressedPong, &["deflate.control-frames"]),
    ];
    let mut wrong = Vec::new();
    for (mode, fail) in rows {
        let (_server, target) = deflating(mode).await;
        let ids = [
            "deflate.negotiation",
            "deflate.messages",
            "deflate.late-member",
            "deflate.control-frames",
        ];
        for r in common::run_ids(&target, &ids).await {
            let want = if fail.contains(&r.id.as_str()) {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            if r.verdict != want {
                wrong.push(format!(
                    "{mode:?}: {} is {:?}, not {want:?}: {}",
                    r.id, r.verdict, r.evidence
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
