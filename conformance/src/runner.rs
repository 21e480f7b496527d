//! Runs the selected cases concurrently, each with its own rooms and an overall time bound.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::case::{Case, Check, Ctx, Level, Outcome};

/// Which levels are graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Core cases only.
    Core,
    /// Core and django cases (differences from Django are NON-STRICT).
    Django,
    /// Core and reference cases.
    Reference,
    /// The hostile cases only (attacks on the backend; they need `--target`).
    Hostile,
    /// Everything.
    All,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Core => "core",
            Self::Django => "django",
            Self::Reference => "reference",
            Self::Hostile => "hostile",
            Self::All => "all",
        })
    }
}

impl Profile {
    /// Whether `case` is in this profile: the hostile section only in `hostile` and `all`.
    pub fn admits(self, case: &Case) -> bool {
        let hostile = case.section() == crate::cases::hostile::SECTION;
        match self {
            Self::Hostile => hostile,
            Self::All => true,
            _ => !hostile && self.includes(case.level),
        }
    }

    pub fn includes(self, level: Level) -> bool {
        match self {
            Self::Core => level == Level::Core,
            Self::Django => matches!(level, Level::Core | Level::Django),
            Self::Reference => matches!(level, Level::Core | Level::Reference),
            Self::Hostile | Self::All => true,
        }
    }
}

/// One case's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    pub id: String,
    pub level: Level,
    pub description: String,
    pub verdict: Outcome,
    pub evidence: String,
    pub duration_ms: u64,
    /// The case's wire log (`--trace-failed`), where it was written: `reports matrix` links
    /// the verdict to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<std::path::PathBuf>,
}

/// Cases in `profile` whose ID equals or starts with one of `filters` (`section` or
/// `section.name`); all of the profile when `filters` is empty.
pub fn select(cases: &[Case], profile: Profile, filters: &[String]) -> Vec<Case> {
    cases
        .iter()
        .filter(|c| profile.admits(c))
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.matches(f)))
        .copied()
        .collect()
}

/// Runs one case and grades it.
pub async fn run_case(case: Case, mut ctx: Ctx) -> CaseReport {
    let started = Instant::now();
    let deadline = ctx.case_deadline();
    let traces = ctx.traces.clone();
    if traces.is_some() {
        ctx.trace = Some(rawws::trace::Trace::default());
    }
    let trace = ctx.trace.clone();
    let check = match tokio::time::timeout(deadline, (case.run)(ctx)).await {
        Ok(Ok(check)) => check,
        Ok(Err(evidence)) => Check::Differs(evidence),
        Err(_) => Check::Differs(format!("the case did not finish within {deadline:?}")),
    };
    let (verdict, mut evidence) = check.grade(case.level);
    let mut kept = None;
    if let (Some(traces), Some(trace)) = (traces, trace) {
        let title = format!("{} ({}) {verdict}", case.id, case.level);
        let failed = verdict == Outcome::Fail;
        kept = traces.keep((case.id, &title, failed), &mut evidence, &trace);
    }
    CaseReport {
        id: case.id.into(),
        level: case.level,
        description: case.description.into(),
        verdict,
        evidence,
        duration_ms: started.elapsed().as_millis() as u64,
        trace: kept,
    }
}

/// Runs `cases`, at most `parallel` at once, then the exclusive ones one by one, alone; the
/// reports come back in the cases' order.
pub async fn run_all(cases: Vec<Case>, ctx: &Ctx, parallel: usize) -> Vec<CaseReport> {
    let (exclusive, shared): (Vec<_>, Vec<_>) = cases
        .into_iter()
        .enumerate()
        .partition(|(_, c)| c.exclusive);
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let handles: Vec<_> = shared
        .into_iter()
        .map(|(i, case)| {
            let ctx = ctx.clone();
            let semaphore = semaphore.clone();
            (
                i,
                tokio::spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    run_case(case, ctx).await
                }),
            )
        })
        .collect();
    let mut reports = Vec::with_capacity(handles.len() + exclusive.len());
    for (i, handle) in handles {
        reports.push((i, joined(handle.await)));
    }
    for (i, case) in exclusive {
        let ctx = ctx.clone();
        reports.push((i, joined(tokio::spawn(run_case(case, ctx)).await)));
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// A case's report, or a FAIL saying that it panicked.
fn joined(done: Result<CaseReport, tokio::task::JoinError>) -> CaseReport {
    done.unwrap_or_else(|e| CaseReport {
        id: "internal".into(),
        level: Level::Core,
        description: "a case panicked".into(),
        verdict: Outcome::Fail,
        evidence: e.to_string(),
        duration_ms: 0,
        trace: None,
    })
}
