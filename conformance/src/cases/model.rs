//! The model-based case: random programs checked against the model (see [`crate::model`]).

use super::case;
use crate::case::{Case, CaseResult, Check, Ctx};

pub(super) const CASES: &[Case] = &[case!(
    "model.programs",
    Core,
    "random join/leave/reconnect/send programs deliver exactly what the model says",
    programs
)];

async fn programs(ctx: Ctx) -> CaseResult {
    let cases = ctx.model_cases;
    let runtime = tokio::runtime::Handle::current();
    // Three quarters of the case's bound: the program running when it is spent (one wait
    // that fails ends a program) still finishes within the bound, and so the evidence of a
    // difference is never lost to "did not finish".
    let budget = ctx.case_deadline() * 3 / 4;
    // proptest drives the programs synchronously; each program runs on this runtime.
    tokio::task::spawn_blocking(move || {
        crate::model::check(&ctx, &runtime, cases, crate::MODEL_MAX_STEPS, budget)
    })
    .await
    .map_err(|e| format!("the model run panicked: {e}"))??;
    Ok(Check::Holds(format!(
        "{cases} random programs matched the model"
    )))
}
