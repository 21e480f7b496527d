//! The plan's identity, which the shards of one plan share and `reports merge` checks.

use crate::opts::Opts;
use crate::shard::StartAt;
use crate::workload::{self, Workload};
use stamp::Fill;

/// The plan's identity: every flag that shapes the load (not where it goes from, nor how many
/// threads), the shard count and the start time, hashed (FNV-1a, 64 bits). Shards of one plan
/// compute the same; `reports merge` refuses to mix others.
pub fn plan_id(opts: &Opts, workload: &Workload, count: u32) -> String {
    let canonical = match &opts.workload {
        // Everything the file shapes, as it reads back.
        Some(_) => format!(
            "{} ws_path={} room_style={} shards={count} start_at={}{}",
            workload::print::to_toml(workload),
            opts.ws_path.as_str(),
            opts.room_style.as_str(),
            opts.start_at.map_or(0, StartAt::unix_ms),
            lists(workload),
        ),
        None => format!(
            "rooms={} clients={} senders={} rate={} arrival={:?} duration={:?} warmup={:?} \
             settle={:?} size={} seed={} ws_path={} room_style={} shards={count} start_at={} \
             churn_session={:?}{}",
            opts.rooms,
            opts.clients,
            opts.senders,
            opts.rate,
            opts.arrival,
            opts.duration,
            opts.warmup,
            opts.settle,
            opts.size,
            opts.seed,
            opts.ws_path.as_str(),
            opts.room_style.as_str(),
            opts.start_at.map_or(0, StartAt::unix_ms),
            opts.churn_session(),
            // Only what a plan did not have before: plans without it keep their ids.
            match &opts.text {
                Fill::X => String::new(),
                Fill::Words => " text=words".into(),
                Fill::List(_) => format!(" text=words{}", lists(workload)),
            },
        ),
    };
    format!("{:016x}", stamp::fnv1a(canonical.bytes()))
}

/// The words of every list the workload pads with (a list's path says where it was read,
/// not what it holds: shards must pad with the same words).
fn lists(workload: &Workload) -> String {
    workload
        .groups
        .iter()
        .filter_map(|g| match &g.text {
            Fill::List(list) => Some(format!(" words={:016x}", list.digest())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn one_plan_one_id() {
        let a = Opts::parse_from(["loadgen", "--rooms", "10", "--start-at", "1795600000"]);
        let b = Opts::parse_from([
            "loadgen",
            "--rooms",
            "10",
            "--start-at",
            "1795600000",
            "--workers",
            "3",
            "--source-ip",
            "127.0.0.5",
        ]);
        assert_eq!(
            plan_id(&a, &a.flags_workload(), 4),
            plan_id(&b, &b.flags_workload(), 4),
            "threads and sources are not the plan"
        );
        let c = Opts::parse_from(["loadgen", "--rooms", "11", "--start-at", "1795600000"]);
        let (wa, wc) = (a.flags_workload(), c.flags_workload());
        assert_ne!(plan_id(&a, &wa, 4), plan_id(&c, &wc, 4));
        assert_ne!(plan_id(&a, &wa, 4), plan_id(&a, &wa, 5));
    }
}
