//! One plan over several loadgen processes: `--shard K/N` (or `--shards N` with the index from
//! `JOB_COMPLETION_INDEX`, as a Kubernetes Indexed Job sets it). Shard K owns whole rooms (K,
//! K+N, K+2N, ...), so every fan-out latency is measured on one machine's clock; every shard
//! names the plan's rooms alike (the names derive from the plan, not the process), so the
//! shards' rooms are disjoint and together the plan's. `--start-at` makes the shards start
//! sending together.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::PlanError;

/// The environment variable a Kubernetes Indexed Job gives each pod.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// Shard `index` of `count` (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: write K/N, shard K (from 0) of N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(format!("{s:?}: K must be below N (shards are 0 to N-1)"));
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// From `--shard`, or `--shards` and [`INDEX_VAR`]; `None` for a whole run.
    pub fn resolve(shard: Option<Shard>, shards: Option<u32>) -> Result<Option<Self>, PlanError> {
        match (shard, shards) {
            (Some(shard), _) => Ok(Some(shard)),
            (None, Some(count)) => {
                let value = std::env::var(INDEX_VAR).map_err(|_| PlanError::ShardIndexMissing)?;
                let shard: Shard = format!("{}/{count}", value.trim())
                    .parse()
                    .map_err(|e| PlanError::ShardIndex(value.clone(), e))?;
                Ok(Some(shard))
            }
            (None, None) => Ok(None),
        }
    }

    /// The rooms this shard owns out of `rooms`.
    pub fn rooms(self, rooms: u32) -> Vec<u32> {
        (self.index..rooms).step_by(self.count as usize).collect()
    }
}

/// `--start-at`: RFC 3339 (`2026-11-26T10:00:00Z`) or Unix seconds (`1795600000`, `1795600000.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartAt(pub SystemTime);

impl FromStr for StartAt {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Ok(Self(UNIX_EPOCH + Duration::from_secs_f64(secs)));
            }
        }
        humantime::parse_rfc3339_weak(s).map(Self).map_err(|e| {
            format!("{s:?}: {e} (write RFC 3339, 2026-11-26T10:00:00Z, or Unix seconds)")
        })
    }
}

impl StartAt {
    pub fn rfc3339(self) -> String {
        humantime::format_rfc3339_millis(self.0).to_string()
    }

    pub fn unix_ms(self) -> u128 {
        self.0
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    }

    /// How long from now until it; zero when it has passed.
    pub fn from_now(self) -> Duration {
        self.0
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_their_rooms() {
        let s: Shard = "1/3".parse().expect("valid");
        assert_eq!(s.rooms(8), [1, 4, 7]);
        assert!(s.rooms(8).contains(&4) && !s.rooms(8).contains(&5));
        let all: Vec<u32> = (0..3)
            .flat_map(|k| Shard { index: k, count: 3 }.rooms(8))
            .collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..8).collect::<Vec<_>>(), "every room once");
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn start_times() {
        let t: StartAt = "1795600000".parse().expect("unix");
        assert_eq!(t.rfc3339(), "2026-11-25T09:46:40.000Z");
        let r: StartAt = "2026-11-25T09:46:40Z".parse().expect("rfc 3339");
        assert_eq!(r, t);
        assert!("tomorrow".parse::<StartAt>().is_err());
    }
}
