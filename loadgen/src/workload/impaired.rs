//! Impaired members (`--impair SHARE:rtt=..,jitter=..,loss=..,rate=..`, `impair` in a
//! workload's group): a share of a group's receiving members, spread evenly over its rooms,
//! reach the server over a link with delay, jitter, packet loss and a bandwidth limit
//! (loadgen's `impair` module builds it). Delay and jitter are added in user space; loss and rate are
//! the kernel's own (a network namespace pair with a veth link, `tbf` and nf_tables drops),
//! which needs root.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A share of members and their link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impair {
    /// Of the group's receiving members (0 to 1).
    pub share: f64,
    pub link: Link,
}

/// What the link does to every packet or byte.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Link {
    /// Round trip added: each way holds bytes for half of it.
    pub rtt: Duration,
    /// Each way's hold varies uniformly by up to half of this either side (bytes never
    /// overtake the ones before them).
    pub jitter: Duration,
    /// The chance that a packet is dropped, each way (0 to 1).
    pub loss: f64,
    /// Bits a second each way; `None`: not limited.
    pub rate: Option<u64>,
}

impl Link {
    /// Whether the link needs the kernel's parts (loss or rate), and so root.
    pub fn kernel(&self) -> bool {
        self.loss > 0.0 || self.rate.is_some()
    }
}

impl Impair {
    /// Whether receiver `j` of its group (numbered in the order receivers are planned) is
    /// impaired: exactly `floor(n * share)` of the first `n` are.
    pub fn picks(&self, j: u64) -> bool {
        super::slow::picks(self.share, j)
    }
}

impl FromStr for Impair {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "{s:?}: write SHARE:rtt=80ms,jitter=20ms,loss=1%,rate=1mbit (any of the four, \
                 rate in bit, kbit, mbit or gbit a second)"
            )
        };
        let (share, spec) = s.split_once(':').ok_or_else(usage)?;
        let share = super::values::chance(share).map_err(|e| format!("{e} ({})", usage()))?;
        let mut link = Link::default();
        let mut any = false;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(usage)?;
            let value = value.trim();
            let duration = || {
                humantime::parse_duration(value)
                    .map_err(|e| format!("{key}={value}: {e} ({})", usage()))
            };
            match key.trim() {
                "rtt" => link.rtt = duration()?,
                "jitter" => link.jitter = duration()?,
                "loss" => link.loss = super::values::chance(value)?,
                "rate" => link.rate = Some(bits(value).ok_or_else(usage)?),
                other => {
                    return Err(format!(
                        "{other:?} is not rtt, jitter, loss or rate ({})",
                        usage()
                    ));
                }
            }
            any = true;
        }
        if !any {
            return Err(usage());
        }
        if link.jitter > link.rtt {
            return Err(format!(
                "{s:?}: jitter ({:?}) larger than rtt ({:?}): a hold cannot be negative",
                link.jitter, link.rtt
            ));
        }
        Ok(Self { share, link })
    }
}

/// `1mbit`, `500kbit`, `64000bit`, `2gbit` (tc's units, powers of 1000): bits a second, at
/// least 8000 (tbf needs room for a packet a burst).
fn bits(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (number, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n.trim(), scale)))?;
    let value = number.parse::<f64>().ok()? * scale;
    (value.is_finite() && value >= 8000.0).then_some(value as u64)
}

impl fmt::Display for Impair {
    /// As it is read back exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.share, self.link)
    }
}

impl fmt::Display for Link {
    /// `rtt=80ms,jitter=20ms,loss=0.01,rate=1mbit`, leaving out what is not set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.rtt.is_zero() {
            parts.push(format!("rtt={}", humantime::format_duration(self.rtt)));
        }
        if !self.jitter.is_zero() {
            parts.push(format!(
                "jitter={}",
                humantime::format_duration(self.jitter)
            ));
        }
        if self.loss > 0.0 {
            parts.push(format!("loss={}", self.loss));
        }
        if let Some(rate) = self.rate {
            parts.push(format!("rate={}", rate_text(rate)));
        }
        if parts.is_empty() {
            parts.push("rtt=0s".into());
        }
        f.write_str(&parts.join(","))
    }
}

/// Bits a second in the largest of tc's units that writes them exactly.
fn rate_text(rate: u64) -> String {
    [
        (1_000_000_000, "gbit"),
        (1_000_000, "mbit"),
        (1_000, "kbit"),
    ]
    .into_iter()
    .find(|(scale, _)| rate % scale == 0)
    .map_or_else(
        || format!("{rate}bit"),
        |(scale, unit)| format!("{}{unit}", rate / scale),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_links_and_writes_them_back() {
        let i: Impair = "10%:rtt=80ms,jitter=20ms,loss=1%,rate=1mbit"
            .parse()
            .expect("valid");
        assert_eq!(i.share, 0.1);
        assert_eq!(i.link.rtt, Duration::from_millis(80));
        assert_eq!(i.link.jitter, Duration::from_millis(20));
        assert_eq!(i.link.loss, 0.01);
        assert_eq!(i.link.rate, Some(1_000_000));
        assert!(i.link.kernel());
        assert_eq!(
            i.to_string(),
            "0.1:rtt=80ms,jitter=20ms,loss=0.01,rate=1mbit"
        );
        assert_eq!(i.to_string().parse::<Impair>(), Ok(i));
        let delay: Impair = "0.5:rtt=100ms".parse().expect("valid");
        assert!(!delay.link.kernel());
        assert_eq!(delay.to_string().parse::<Impair>(), Ok(delay));
        let kbit: Impair = "5%:rate=640kbit".parse().expect("valid");
        assert_eq!(kbit.link.rate, Some(640_000));
        assert_eq!(kbit.to_string(), "0.05:rate=640kbit");
        let odd: Impair = "5%:rate=12345bit".parse().expect("valid");
        assert_eq!(odd.to_string().parse::<Impair>(), Ok(odd));
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        for bad in [
            "10%",
            "10%:",
            "150%:rtt=1s",
            "10%:rtt=fast",
            "10%:delay=80ms",
            "10%:loss=200%",
            "10%:rate=1mb",
            "10%:rate=10bit",
            "10%:rtt=10ms,jitter=20ms",
            "10%:rtt",
        ] {
            assert!(bad.parse::<Impair>().is_err(), "{bad}");
        }
    }
}
