//! A run's live metrics (`--out`, `--metrics-bind`; the mechanism is `crate::live`): started
//! with the plan's labels before the workers, fed from the coordinator's counters and the
//! workers' board, ended with the result's own counts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use run_result::{RunResult, Totals};

use crate::live::board::Slot;
use crate::live::{self, Board, Figures, Live};
use crate::plan::Plan;
use crate::shared::Shared;
use crate::target::Target;

/// Starts streaming if the plan asks for it: the streaming side, and the board the `workers`
/// copy their figures to (also for `--abort-on`, which watches it; none when neither is on).
pub async fn start(
    plan: &Plan,
    targets: &[Target],
    workers: usize,
    shared: &Arc<Shared>,
) -> anyhow::Result<(Option<Live>, Option<Arc<Board>>)> {
    let board = Arc::new(Board::new(workers, plan.live.every));
    if !plan.live.is_on() {
        let watched = (!plan.abort_on.is_empty()).then_some(board);
        return Ok((None, watched));
    }
    let names: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let labels = live::labels(plan.run_id(), plan.plan_id.as_deref(), plan.shard, &names);
    let (shared, from) = (Arc::clone(shared), Arc::clone(&board));
    let figures = move || now(&shared, &from);
    let live = Live::start(&plan.live, labels, figures).await?;
    Ok((Some(live), Some(board)))
}

/// The last push, with the result's counts and the merged workers' histogram and errors.
pub async fn finish(live: Live, shared: &Shared, totals: &Totals, result: &RunResult) {
    let s = &result.summary;
    let last = Figures {
        sent: s.sent,
        expected: s.expected,
        delivered: s.delivered,
        missing: s.missing,
        open: shared.members_now(),
        connect_failed: s.connections.failed,
        workers: Slot {
            latency: totals.latency.clone(),
            errors: totals.errors.clone(),
            reconnects: totals.reconnects.clone(),
        },
    };
    live.finish(&last).await;
}

/// The live figures now: the run-wide counts and the workers' last copies.
fn now(shared: &Shared, board: &Board) -> Figures {
    Figures {
        sent: shared.sent.load(Ordering::Relaxed),
        expected: shared.expected.load(Ordering::Relaxed),
        delivered: shared.delivered.load(Ordering::Relaxed),
        missing: 0,
        open: shared.members_now(),
        connect_failed: shared.connect_failed.load(Ordering::Relaxed),
        workers: board.merged(),
    }
}
