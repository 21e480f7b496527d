//! Helpers: run cases against `CHAT_TARGET`, or the reference server in-process, or a server
//! with injected faults.
#![allow(dead_code)]

use conformance::case::{Ctx, Outcome};
use conformance::runner::{self, CaseReport};
use conformance::target::Target;
use conformance::{DEFAULT_SETTLE, DEFAULT_TIMEOUT, cases};

pub fn ctx_for(target: &Target) -> Ctx {
    conformance::context(target, DEFAULT_TIMEOUT, DEFAULT_SETTLE, None)
}

/// Runs the cases with these IDs against `target`.
pub async fn run_ids(target: &Target, ids: &[&str]) -> Vec<CaseReport> {
    let all = cases::all();
    let selected = ids
        .iter()
        .map(|id| {
            *all.iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("no case {id}"))
        })
        .collect();
    runner::run_all(selected, &ctx_for(target), 8).await
}

/// Runs one case against `CHAT_TARGET` (or the in-process reference server) and requires PASS.
pub async fn assert_passes(id: &str) {
    let (target, _server) = conformance::target_from_env().await.expect("a target");
    let report = run_ids(&target, &[id]).await.remove(0);
    assert_eq!(
        report.verdict,
        Outcome::Pass,
        "{id} against {}: {}",
        target.label,
        report.evidence
    );
}
