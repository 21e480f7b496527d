//! A run broken down: the measurements of one part of it (a room group of a workload, the
//! rooms of one size class, the messages of one stage), kept as mergeable totals while the
//! run lasts and written into the result with their histograms, so shards merge exactly.
//!
//! Every part is counted by its messages: a delivery, a send and a missing delivery belong to
//! the group and size class of the message's room and to the stage its send was scheduled in;
//! the reader kinds (healthy members, slow readers) are counted by the receiving member
//! instead, with the close codes their connections ended with. Within each breakdown the parts
//! add up to the run: their `delivered` and `missing` sum to the summary's.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::histogram::{self, DecodeError};
use crate::result::Latency;
pub use crate::result::{PartResult, Retransmits};

/// What a part of a run measured.
#[derive(Debug, Clone)]
pub struct Part {
    /// Measured messages sent.
    pub sent: u64,
    /// Distinct deliveries of those messages.
    pub delivered: u64,
    /// Deliveries of those messages that never came.
    pub missing: u64,
    /// Per delivery: fan-out latency from the scheduled send time.
    pub latency: Histogram<u64>,
    /// Per message: until its first receiver had it.
    pub first: Histogram<u64>,
    /// Per message: until the last member present had it (whole room).
    pub completion: Histogram<u64>,
    /// A reader kind: the close codes its members' connections ended with.
    pub closes: BTreeMap<u16, u64>,
    /// An impaired reader kind on a kernel link: the TCP segments it retransmitted.
    pub retransmits: Option<Retransmits>,
}

impl Default for Part {
    fn default() -> Self {
        Self {
            sent: 0,
            delivered: 0,
            missing: 0,
            latency: histogram::new(),
            first: histogram::new(),
            completion: histogram::new(),
            closes: BTreeMap::new(),
            retransmits: None,
        }
    }
}

impl Part {
    pub fn merge(&mut self, other: &Self) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.missing += other.missing;
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.first.add(&other.first);
        let _ = self.completion.add(&other.completion);
        for (code, n) in &other.closes {
            *self.closes.entry(*code).or_default() += n;
        }
        self.retransmits = match (self.retransmits, other.retransmits) {
            (Some(a), Some(b)) => Some(Retransmits {
                to_members: a.to_members + b.to_members,
                from_members: a.from_members + b.from_members,
            }),
            (a, b) => a.or(b),
        };
    }

    /// The part as a result writes it, under `info`'s name.
    pub fn result(&self, info: &PartInfo, measured_s: f64) -> PartResult {
        let expected = self.delivered + self.missing;
        PartResult {
            name: info.name.clone(),
            rooms: info.rooms,
            members: info.members,
            from_s: info.span.map(|s| s.0),
            to_s: info.span.map(|s| s.1),
            rate: info.rate,
            sent: self.sent,
            expected,
            delivered: self.delivered,
            missing: self.missing,
            loss: if expected == 0 {
                0.0
            } else {
                self.missing as f64 / expected as f64
            },
            deliveries_per_s: match info.span {
                Some((from, to)) if to > from => self.delivered as f64 / (to - from),
                _ if measured_s > 0.0 => self.delivered as f64 / measured_s,
                _ => 0.0,
            },
            latency_us: Latency::of(&self.latency),
            first_us: Latency::of(&self.first),
            completion_us: Latency::of(&self.completion),
            recovery_s: None,
            closes: self
                .closes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            retransmits: self.retransmits,
            histograms: [
                ("latency_us", &self.latency),
                ("first_us", &self.first),
                ("completion_us", &self.completion),
            ]
            .into_iter()
            .map(|(name, h)| (name.to_owned(), histogram::encode(h)))
            .collect(),
        }
    }

    /// The part a result wrote ([`Part::result`]), histograms included.
    pub fn from_result(r: &PartResult) -> Result<Self, (String, DecodeError)> {
        let decode = |name: &str| match r.histograms.get(name) {
            Some(text) => histogram::decode(text).map_err(|e| (format!("{}/{name}", r.name), e)),
            None => Ok(histogram::new()),
        };
        Ok(Self {
            sent: r.sent,
            delivered: r.delivered,
            missing: r.missing,
            latency: decode("latency_us")?,
            first: decode("first_us")?,
            completion: decode("completion_us")?,
            closes: r
                .closes
                .iter()
                .filter_map(|(code, n)| Some((code.parse().ok()?, *n)))
                .collect(),
            retransmits: r.retransmits,
        })
    }
}

/// What a part is, from the plan: its name, and its rooms or its time span.
#[derive(Debug, Clone, PartialEq)]
pub struct PartInfo {
    pub name: String,
    pub rooms: Option<u32>,
    /// A group or size class: its members; a stage, when stages change who is in the rooms:
    /// the members in their rooms at its share.
    pub members: Option<u64>,
    /// A stage: seconds of the measured run it covers.
    pub span: Option<(f64, f64)>,
    /// A stage: its rate multiplier once any ramp is done.
    pub rate: Option<f64>,
}

/// The parts of a run, by breakdown: each list in its plan's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakdown {
    pub groups: Vec<PartInfo>,
    pub classes: Vec<PartInfo>,
    pub stages: Vec<PartInfo>,
    /// Healthy members and each kind of slow reader; empty without slow readers.
    pub readers: Vec<PartInfo>,
}

impl Breakdown {
    /// What a saved result says its parts were (`reports merge`): rooms and members summed
    /// over `results`, names and spans from the first that has them.
    pub fn of_results<'a>(results: impl IntoIterator<Item = &'a crate::RunResult>) -> Self {
        let mut out = Self::default();
        for r in results {
            add_infos(&mut out.groups, &r.groups);
            add_infos(&mut out.classes, &r.size_classes);
            add_infos(&mut out.stages, &r.stages);
            add_infos(&mut out.readers, &r.readers);
        }
        out
    }
}

fn add_infos(into: &mut Vec<PartInfo>, parts: &[PartResult]) {
    for p in parts {
        match into.iter_mut().find(|i| i.name == p.name) {
            Some(i) => {
                i.rooms = sum(i.rooms, p.rooms);
                i.members = sum(i.members, p.members);
            }
            None => into.push(PartInfo {
                name: p.name.clone(),
                rooms: p.rooms,
                members: p.members,
                span: p.from_s.zip(p.to_s),
                rate: p.rate,
            }),
        }
    }
}

fn sum<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// The heading of a breakdown's column that says what each part is: a stage's seconds and
/// rate (and members, when the stages change them), or a group's or size class's rooms and
/// members.
pub fn what_heading(parts: &[PartResult], stages: bool) -> &'static str {
    if stages && parts.iter().any(|p| p.members.is_some()) {
        "seconds, rate, members"
    } else if stages {
        "seconds, rate"
    } else {
        "rooms, members"
    }
}

/// What a part is, under [`what_heading`]: `0-15s x1` (`0-15s x1, 200` with members), or
/// `20, 400` rooms and members.
pub fn what(p: &PartResult, stages: bool) -> String {
    if stages {
        format!(
            "{:.0}-{:.0}s x{}{}",
            p.from_s.unwrap_or(0.0),
            p.to_s.unwrap_or(0.0),
            p.rate.unwrap_or(1.0),
            p.members.map_or(String::new(), |m| format!(", {m}"))
        )
    } else {
        format!("{}, {}", p.rooms.unwrap_or(0), p.members.unwrap_or(0))
    }
}

/// Whether `r` is broken down by its messages into more than one part anywhere (a workload:
/// a run of flags is one group, one size and one stage).
pub fn several_parts(r: &crate::RunResult) -> bool {
    r.groups.len() > 1 || r.size_classes.len() > 1 || r.stages.len() > 1
}

/// A reader kind's close codes as the tables write them: `2 x 1013, 1 x 1006` (empty if
/// none).
pub fn closes_text(p: &PartResult) -> String {
    p.closes
        .iter()
        .map(|(code, n)| format!("{n} x {code}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An impaired kind's link retransmits as the tables write them:
/// `56 toward the members, 2 by them` (`None` without a kernel link).
pub fn retransmits_text(p: &PartResult) -> Option<String> {
    p.retransmits.map(|r| {
        format!(
            "{} toward the members, {} by them",
            r.to_members, r.from_members
        )
    })
}

/// The size class of a room of `members`: 0 for 1, 1 for 2, 2 for 3-4, 3 for 5-8, ...
pub fn size_class(members: u32) -> u8 {
    (u32::BITS - members.saturating_sub(1).leading_zeros()) as u8
}

/// The members a size class covers, as its name: `1`, `2`, `3-4`, `5-8`, ...
pub fn size_class_name(class: u8) -> String {
    match class {
        0 => "1".into(),
        1 => "2".into(),
        c => format!("{}-{}", (1u64 << (c - 1)) + 1, 1u64 << c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_double() {
        let classes: Vec<u8> = [1, 2, 3, 4, 5, 8, 9, 5000].map(size_class).to_vec();
        assert_eq!(classes, [0, 1, 2, 2, 3, 3, 4, 13]);
        assert_eq!(size_class_name(2), "3-4");
        assert_eq!(size_class_name(13), "4097-8192");
        assert_eq!(size_class_name(0), "1");
    }

    #[test]
    fn a_part_survives_its_result() {
        let mut p = Part {
            sent: 3,
            delivered: 5,
            missing: 1,
            ..Part::default()
        };
        histogram::record(&mut p.latency, 1200);
        let info = PartInfo {
            name: "hot".into(),
            rooms: Some(1),
            members: Some(6),
            span: None,
            rate: None,
        };
        let r = p.result(&info, 2.0);
        assert_eq!(r.expected, 6);
        assert!((r.loss - 1.0 / 6.0).abs() < 1e-12);
        let back = Part::from_result(&r).expect("decode");
        assert_eq!(back.latency.len(), 1);
        assert_eq!(back.delivered, 5);
    }
}
