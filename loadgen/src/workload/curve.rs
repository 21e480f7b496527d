//! The stages' rate multiplier over the run, and the map between run time and *work time*
//! (its integral: the seconds at rate 1 that have gone by). A sender spaces its messages in
//! work time ([`super::arrival`]) and sends each at the run time that reaches it, so a stage
//! at rate 10 makes every room send ten times as often, and a ramp speeds it up smoothly.
//! Times here are seconds from the start of the warm-up, which runs at the first stage's rate.

use std::time::Duration;

use super::Stage;

/// A piece of the curve with a linear multiplier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Piece {
    /// Run time at its start and its length, in seconds.
    pub(super) from: f64,
    pub(super) len: f64,
    /// Multiplier at its start and its end.
    pub(super) m0: f64,
    pub(super) m1: f64,
    /// Work time at its start.
    work: f64,
}

/// The pieces of a level that each stage sets (`level`), ramping to it from the previous
/// stage's, the warm-up at the first stage's level, and the last level held for ever after.
pub(super) fn pieces(
    warmup: Duration,
    stages: &[Stage],
    level: impl Fn(&Stage) -> f64,
) -> Vec<Piece> {
    let first = stages.first().map_or(1.0, &level);
    let mut pieces = Vec::new();
    let push = |pieces: &mut Vec<Piece>, len: f64, m0: f64, m1: f64| {
        let (from, work) = pieces.last().map_or((0.0, 0.0), |p: &Piece| {
            (p.from + p.len, p.work + p.work_len())
        });
        if len > 0.0 {
            pieces.push(Piece {
                from,
                len,
                m0,
                m1,
                work,
            });
        }
    };
    push(&mut pieces, warmup.as_secs_f64(), first, first);
    let mut last = first;
    for stage in stages {
        let ramp = stage.ramp.min(stage.duration).as_secs_f64();
        let to = level(stage);
        push(&mut pieces, ramp, last, to);
        push(&mut pieces, stage.duration.as_secs_f64() - ramp, to, to);
        last = to;
    }
    push(&mut pieces, f64::INFINITY, last, last);
    pieces
}

/// The piece `t` falls in (the first for a time before it).
pub(super) fn piece_at(pieces: &[Piece], t: f64) -> &Piece {
    let i = pieces.partition_point(|p| p.from <= t).saturating_sub(1);
    &pieces[i]
}

impl Piece {
    /// The level `s` seconds into the piece.
    pub(super) fn at(&self, s: f64) -> f64 {
        if self.len.is_finite() && self.len > 0.0 {
            self.m0 + (self.m1 - self.m0) * (s / self.len).clamp(0.0, 1.0)
        } else {
            self.m0
        }
    }

    fn work_len(&self) -> f64 {
        (self.m0 + self.m1) / 2.0 * self.len
    }

    /// Work time done `s` seconds into the piece.
    fn work_after(&self, s: f64) -> f64 {
        let slope = if self.len > 0.0 {
            (self.m1 - self.m0) / self.len
        } else {
            0.0
        };
        self.m0 * s + slope / 2.0 * s * s
    }

    /// Seconds into the piece at which `w` of work is done (`w` within the piece's work).
    fn seconds_for(&self, w: f64) -> f64 {
        let slope = if self.len > 0.0 {
            (self.m1 - self.m0) / self.len
        } else {
            0.0
        };
        if slope.abs() < 1e-12 {
            return if self.m0 > 0.0 { w / self.m0 } else { 0.0 };
        }
        // slope/2 s² + m0 s - w = 0, the root in [0, len].
        let disc = (self.m0 * self.m0 + 2.0 * slope * w).max(0.0);
        ((disc.sqrt() - self.m0) / slope).clamp(0.0, self.len)
    }
}

/// The multiplier over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pieces: Vec<Piece>,
    warmup: f64,
    /// Each stage's start in seconds of the measured run, and the end of the last.
    bounds: Vec<f64>,
}

impl Curve {
    pub fn new(warmup: Duration, stages: &[Stage]) -> Self {
        let mut bounds = vec![0.0];
        for stage in stages {
            bounds.push(bounds.last().copied().unwrap_or(0.0) + stage.duration.as_secs_f64());
        }
        // Past the end the last level holds (nothing is sent there).
        Self {
            pieces: pieces(warmup, stages, |s| s.rate),
            warmup: warmup.as_secs_f64(),
            bounds,
        }
    }

    /// Work time done by run time `t`.
    pub fn work_at(&self, t: f64) -> f64 {
        let p = piece_at(&self.pieces, t);
        p.work + p.work_after((t - p.from).min(p.len))
    }

    /// The run time at which `work` of work time is done (infinite if never).
    pub fn time_at(&self, work: f64) -> f64 {
        let i = self
            .pieces
            .partition_point(|p| p.work + p.work_len() <= work);
        match self.pieces.get(i) {
            Some(p) if p.m0 > 0.0 || p.m1 > 0.0 => p.from + p.seconds_for(work - p.work),
            _ => f64::INFINITY,
        }
    }

    /// The stage that `s` seconds of the measured run fall in (the last for any later time,
    /// the first for the warm-up).
    pub fn stage_at(&self, s: f64) -> usize {
        let stages = self.bounds.len().saturating_sub(1);
        self.bounds
            .partition_point(|b| *b <= s)
            .saturating_sub(1)
            .min(stages.saturating_sub(1))
    }

    /// The stage of a message scheduled at `scheduled_us` on the run clock, given when the
    /// measurement started on it.
    pub fn stage_of(&self, scheduled_us: u64, measure_start_us: u64) -> usize {
        self.stage_at(scheduled_us.saturating_sub(measure_start_us) as f64 / 1e6)
    }

    /// The warm-up, in seconds.
    pub fn warmup(&self) -> f64 {
        self.warmup
    }

    /// Each stage's span in seconds of the measured run.
    pub fn spans(&self) -> Vec<(f64, f64)> {
        self.bounds.windows(2).map(|w| (w[0], w[1])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: u64, rate: f64, ramp: u64) -> Stage {
        Stage {
            name: String::new(),
            duration: Duration::from_secs(secs),
            rate,
            ramp: Duration::from_secs(ramp),
            members: 1.0,
        }
    }

    #[test]
    fn one_stage_at_rate_one_is_the_run_clock() {
        let c = Curve::new(Duration::from_secs(2), &[stage(10, 1.0, 0)]);
        for t in [0.0, 0.5, 2.0, 7.25, 12.0] {
            assert!((c.work_at(t) - t).abs() < 1e-9);
            assert!((c.time_at(t) - t).abs() < 1e-9);
        }
    }

    #[test]
    fn a_spike_does_ten_times_the_work_and_a_ramp_the_mean() {
        let c = Curve::new(
            Duration::from_secs(1),
            &[stage(4, 1.0, 0), stage(2, 10.0, 0), stage(4, 1.0, 2)],
        );
        // Warm-up 1 + stage 4 at 1, then 2 s at 10, then a 2 s ramp 10 -> 1 and 2 s at 1.
        assert!((c.work_at(5.0) - 5.0).abs() < 1e-9);
        assert!((c.work_at(7.0) - 25.0).abs() < 1e-9);
        assert!((c.work_at(9.0) - 36.0).abs() < 1e-9);
        assert!((c.work_at(11.0) - 38.0).abs() < 1e-9);
        for w in [0.3, 5.0, 12.5, 25.0, 30.0, 36.0, 37.5] {
            assert!((c.work_at(c.time_at(w)) - w).abs() < 1e-6, "{w}");
        }
        assert_eq!(c.spans(), [(0.0, 4.0), (4.0, 6.0), (6.0, 10.0)]);
        assert_eq!(
            [-0.5, 0.0, 3.99, 4.0, 6.5, 10.0, 99.0].map(|s| c.stage_at(s)),
            [0, 0, 0, 1, 2, 2, 2]
        );
    }

    #[test]
    fn a_pause_sends_nothing_and_sending_goes_on_after_it() {
        let c = Curve::new(
            Duration::ZERO,
            &[stage(2, 1.0, 0), stage(3, 0.0, 0), stage(2, 1.0, 0)],
        );
        // Work 2.5 is reached only after the pause, half a second into the last stage.
        assert!((c.time_at(2.5) - 5.5).abs() < 1e-9);
        let quiet = Curve::new(Duration::ZERO, &[stage(2, 0.0, 0)]);
        assert!(quiet.time_at(0.1).is_infinite());
    }
}
