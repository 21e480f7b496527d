//! When sending starts: `--start-at` if it is still ahead (shards of one plan start together),
//! else as soon as connecting ends, and what the result records about it.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::plan::Plan;
use crate::shared::Shared;

/// From the end of the ramp to the first scheduled send.
const LEAD_US: u64 = 50_000;

/// When sending started, against `--start-at`.
#[derive(Debug, Default)]
pub struct StartRecord {
    /// The first scheduled send, on the run clock.
    pub at_us: u64,
    /// How late the shard was for `--start-at`, in milliseconds.
    pub late_ms: u64,
    /// Connections open when sending started.
    pub connected: u64,
}

/// The first send's time on the run clock: `--start-at` if it is still ahead, else now (plus
/// a lead); a shard that is late or not fully connected says so on stderr.
pub fn start_time(shared: &Shared, plan: &Plan) -> StartRecord {
    let connected = shared.connected.load(Ordering::Relaxed);
    let failed = shared.connect_failed.load(Ordering::Relaxed);
    let who = match plan.shard {
        Some(s) => format!("shard {}/{}", s.index, s.count),
        None => "this run".to_owned(),
    };
    let Some(start_at) = plan.timing.start_at else {
        return StartRecord {
            at_us: shared.now_us() + LEAD_US,
            late_ms: 0,
            connected,
        };
    };
    if connected + failed < plan.connections {
        eprintln!(
            "loadgen: {who}: {connected} of {} connections open at --start-at {}; starting with them",
            plan.connections,
            start_at.rfc3339()
        );
    }
    let ahead = start_at.from_now();
    if ahead.is_zero() {
        let late_ms = SystemTime::now()
            .duration_since(start_at.0)
            .map_or(0, |d| d.as_millis() as u64);
        eprintln!(
            "loadgen: {who}: --start-at {} had passed by {late_ms} ms when connecting ended; starting now",
            start_at.rfc3339()
        );
        return StartRecord {
            at_us: shared.now_us() + LEAD_US,
            late_ms,
            connected,
        };
    }
    StartRecord {
        at_us: shared.now_us() + ahead.as_micros() as u64,
        late_ms: 0,
        connected,
    }
}
