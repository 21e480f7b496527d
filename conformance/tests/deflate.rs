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

/// A server that declines the offer (the reference server) passes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_declines_passes() {
    let (targets, _server) = conformance::targets_from_env().await.expect("a target");
    let reports = core_with_deflate(&targets[0]).await;
    for r in &reports {
        assert_eq!(r.verdict, Outcome::Pass, "{}: {}", r.id, r.evidence);
    }
    assert!(evidence(&reports, "deflate.negotiation").ends_with("declined"));
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
