//! Slow readers (`--slow-readers SHARE:RATE`, `slow_readers` in a workload's group): a share
//! of a group's receiving members, spread evenly over its rooms, each of which reads at most
//! RATE bytes a second with a small receive buffer (`endpoint::throttle`), as a member on a
//! slow phone does; RATE 0 stops reading after the handshake. Their deliveries, losses and
//! closes are counted apart from the healthy members' (`readers` in the result).

use std::fmt;
use std::str::FromStr;

/// A share of members and the pace they read at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowReaders {
    /// Of the group's receiving members (0 to 1).
    pub share: f64,
    /// Bytes a second; 0: never reads after the handshake.
    pub rate: u64,
}

impl SlowReaders {
    /// Whether receiver `j` of its group (numbered in the order receivers are planned) is
    /// one of them: exactly `floor(n * share)` of the first `n` are.
    pub fn picks(&self, j: u64) -> bool {
        picks(self.share, j)
    }
}

/// Whether item `j` of a sequence is picked when exactly `floor(n * share)` of the first `n`
/// are, spread evenly.
pub(super) fn picks(share: f64, j: u64) -> bool {
    let before = (j as f64 * share).floor();
    ((j + 1) as f64 * share).floor() > before
}

impl FromStr for SlowReaders {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "{s:?}: write SHARE:RATE, e.g. 5%:64KiB (RATE in bytes a second, 0 never reads)"
            )
        };
        let (share, rate) = s.split_once(':').ok_or_else(usage)?;
        let share = super::values::chance(share).map_err(|e| format!("{e} ({})", usage()))?;
        let rate = rate
            .trim()
            .parse::<bytesize::ByteSize>()
            .map_err(|_| usage())?
            .as_u64();
        Ok(Self { share, rate })
    }
}

impl fmt::Display for SlowReaders {
    /// As it is read back exactly: the share as a fraction, the rate in bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.share, self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shares_and_rates_and_writes_them_back() {
        let s: SlowReaders = "5%:64KiB".parse().expect("valid");
        assert_eq!((s.share, s.rate), (0.05, 65536));
        assert_eq!(s.to_string(), "0.05:65536");
        assert_eq!(s.to_string().parse::<SlowReaders>(), Ok(s));
        let odd: SlowReaders = "7%:1".parse().expect("valid");
        assert_eq!(odd.to_string().parse::<SlowReaders>(), Ok(odd));
        let s: SlowReaders = "0.25:0".parse().expect("valid");
        assert_eq!((s.share, s.rate), (0.25, 0));
        for bad in ["5%", "150%:1KiB", "5%:fast", ":1KiB"] {
            assert!(bad.parse::<SlowReaders>().is_err(), "{bad}");
        }
    }

    #[test]
    fn picks_exactly_the_share_spread_evenly() {
        let s = SlowReaders {
            share: 0.1,
            rate: 1,
        };
        let picked: Vec<u64> = (0..40).filter(|j| s.picks(*j)).collect();
        assert_eq!(picked, [9, 19, 29, 39]);
        let all = SlowReaders {
            share: 1.0,
            rate: 1,
        };
        assert!((0..10).all(|j| all.picks(j)));
    }
}
