//! When a sender's messages come, in *work time*: seconds at a rate multiplier of 1, which
//! [`super::Curve`] maps to the run clock (a stage at rate 10 goes through ten seconds of work
//! time per second). A process only spaces its messages; stages change their pace.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How a sender's messages are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Process {
    /// Evenly.
    Fixed,
    /// Exponential gaps (a Poisson process) with the same mean.
    Poisson,
    /// Bursts: the room's conversation alternates between ON and OFF periods of exponential
    /// lengths with these means; during ON its senders send as a Poisson process fast enough
    /// that the mean over time is the room's rate; during OFF nobody in the room sends. Every
    /// sender of a room sees the same periods (drawn from the room's seed).
    OnOff { on: Duration, off: Duration },
}

impl Process {
    /// The share of time the room is ON.
    fn duty(&self) -> f64 {
        match self {
            Self::OnOff { on, off } => {
                on.as_secs_f64() / (on.as_secs_f64() + off.as_secs_f64()).max(f64::MIN_POSITIVE)
            }
            _ => 1.0,
        }
    }

    /// The most messages a sender of `rate` can make in `work_s` of work time, with room to
    /// spare for a random process's run of luck (a completion slot each).
    pub fn bound(&self, rate: f64, work_s: f64) -> f64 {
        match self {
            Self::Fixed => rate * work_s + 2.0,
            Self::Poisson => rate * work_s * 1.5 + 64.0,
            // A room ON the whole run sends at the ON rate throughout.
            Self::OnOff { .. } => rate / self.duty() * work_s * 1.5 + 64.0,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed => f.write_str("fixed"),
            Self::Poisson => f.write_str("poisson"),
            Self::OnOff { on, off } => write!(
                f,
                "onoff:on={},off={}",
                humantime::format_duration(*on),
                humantime::format_duration(*off)
            ),
        }
    }
}

impl FromStr for Process {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let help = "write fixed, poisson or onoff:on=5s,off=30s";
        match s.trim() {
            "fixed" => Ok(Self::Fixed),
            "poisson" => Ok(Self::Poisson),
            other => {
                let args = other
                    .strip_prefix("onoff:")
                    .ok_or_else(|| format!("{other:?}: {help}"))?;
                let (mut on, mut off) = (None, None);
                for part in args.split(',') {
                    let (key, value) = part
                        .split_once('=')
                        .ok_or_else(|| format!("{part:?}: {help}"))?;
                    let d = humantime::parse_duration(value.trim())
                        .map_err(|e| format!("{value:?}: {e} ({help})"))?;
                    if d.is_zero() {
                        return Err(format!("{key} must be more than zero ({help})"));
                    }
                    match key.trim() {
                        "on" => on = Some(d),
                        "off" => off = Some(d),
                        k => return Err(format!("{k:?} is not on or off ({help})")),
                    }
                }
                match (on, off) {
                    (Some(on), Some(off)) => Ok(Self::OnOff { on, off }),
                    _ => Err(format!("onoff needs both on= and off= ({help})")),
                }
            }
        }
    }
}

/// One sender's place in its process, in work time (seconds).
#[derive(Debug)]
pub struct Arrivals {
    process: Process,
    /// Mean gap at the sender's rate, in work seconds.
    gap: f64,
    /// With ON/OFF: the room's periods, the same draws for every sender of the room.
    periods: Option<Periods>,
}

#[derive(Debug)]
struct Periods {
    rng: StdRng,
    on: f64,
    off: f64,
    /// The current ON period, `[start, end)` in work seconds.
    start: f64,
    end: f64,
}

impl Periods {
    fn new(seed: u64, on: f64, off: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        // The run starts inside the process: ON with the share of time it is ON.
        let starts_on = rng.random::<f64>() < on / (on + off);
        let start = if starts_on { 0.0 } else { exp(&mut rng, off) };
        let end = start + exp(&mut rng, on);
        Self {
            rng,
            on,
            off,
            start,
            end,
        }
    }

    /// The ON period `at` falls in or comes before.
    fn at_or_after(&mut self, at: f64) -> (f64, f64) {
        while at >= self.end {
            self.start = self.end + exp(&mut self.rng, self.off);
            self.end = self.start + exp(&mut self.rng, self.on);
        }
        (self.start, self.end)
    }
}

fn exp(rng: &mut impl Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

impl Arrivals {
    /// A sender of `rate` messages per work second; `room_seed` draws its room's periods.
    pub fn new(process: Process, rate: f64, room_seed: u64) -> Self {
        let periods = match process {
            Process::OnOff { on, off } => {
                Some(Periods::new(room_seed, on.as_secs_f64(), off.as_secs_f64()))
            }
            _ => None,
        };
        Self {
            process,
            // During ON the rate is the mean's over the share of time ON.
            gap: process.duty() / rate,
            periods,
        }
    }

    /// The mean gap, in work seconds (infinite for a sender that never sends).
    pub fn gap(&self) -> f64 {
        self.gap
    }

    /// The next send after one at `at`, drawing from `rng` (the sender's own).
    pub fn next(&mut self, at: f64, rng: &mut impl Rng) -> f64 {
        match (&self.process, &mut self.periods) {
            (Process::Fixed, _) => at + self.gap,
            (Process::OnOff { .. }, Some(periods)) => {
                let mut from = at;
                loop {
                    let (start, end) = periods.at_or_after(from);
                    let next = from.max(start) + exp(rng, self.gap);
                    if next < end {
                        return next;
                    }
                    // Memoryless: the gap starts again in the next ON period.
                    from = end;
                }
            }
            _ => at + exp(rng, self.gap),
        }
    }

    /// The first send: `at` if the room is ON then, else the start of its next ON period.
    pub fn first(&mut self, at: f64) -> f64 {
        match &mut self.periods {
            Some(periods) => at.max(periods.at_or_after(at).0),
            None => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(process: Process, rate: f64, until: f64, seed: u64) -> (usize, Vec<f64>) {
        let mut a = Arrivals::new(process, rate, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 7);
        let mut t = a.first(0.0);
        let mut times = Vec::new();
        while t < until {
            times.push(t);
            t = a.next(t, &mut rng);
        }
        (times.len(), times)
    }

    #[test]
    fn on_off_keeps_the_mean_rate_and_goes_quiet_in_between() {
        let p: Process = "onoff:on=2s,off=8s".parse().expect("parse");
        assert_eq!(p.to_string(), "onoff:on=2s,off=8s");
        let (n, times) = count(p, 5.0, 2000.0, 3);
        // 5 per second on average over 2,000 s: 10,000, within a few per cent.
        assert!((9_000..11_000).contains(&n), "{n}");
        // Bursty: gaps far longer than the ON rate's 40 ms mean are common.
        let long = times.windows(2).filter(|w| w[1] - w[0] > 2.0).count();
        assert!(long > 50, "{long} gaps over 2 s");
        let (n, _) = count(Process::Poisson, 5.0, 2000.0, 3);
        assert!((9_500..10_500).contains(&n), "{n}");
    }

    #[test]
    fn senders_of_a_room_share_its_periods() {
        let p = Process::OnOff {
            on: Duration::from_secs(1),
            off: Duration::from_secs(4),
        };
        let (_, a) = count(p, 20.0, 60.0, 11);
        let mut other = Arrivals::new(p, 20.0, 11);
        let mut rng = StdRng::seed_from_u64(99);
        // Another sender of the same room sends only when the first could: within its ON
        // periods, so each of its sends is near one of the first sender's.
        let mut t = other.first(0.0);
        while t < 60.0 {
            let near = a.iter().any(|x| (x - t).abs() < 1.5);
            assert!(near, "a send at {t} outside the room's ON periods");
            t = other.next(t, &mut rng);
        }
    }

    #[test]
    fn bad_processes_say_how_to_write_one() {
        for bad in [
            "onoff:on=5s",
            "onoff:on=0s,off=1s",
            "bursty",
            "onoff:up=1s,off=1s",
        ] {
            let e = bad.parse::<Process>().expect_err(bad);
            assert!(e.contains("onoff:on=5s,off=30s"), "{e}");
        }
    }
}
