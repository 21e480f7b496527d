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
            "{} ws_path={} room_style={} shards={count} start_at={}",
            workload::print::to_toml(workload),
            opts.ws_path.as_str(),
            opts.room_style.as_str(),
            opts.start_at.map_or(0, StartAt::unix_ms),
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
            if opts.text == Fill::Words {
                " text=words"
            } else {
                ""
            },
        ),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
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
