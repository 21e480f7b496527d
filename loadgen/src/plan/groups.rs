//! What each group of the workload needs in the plan: its senders' pacing, its members'
//! churn, where its rooms' messages sit, and the parts the result breaks the run into.

use super::{ChurnPlan, Plan, SendPlan};
use crate::index::Index;
use crate::workload::{Layout, Workload, presence};
use run_result::part::{Breakdown, PartInfo, size_class_name};

impl Plan {
    /// What the run's parts are: its groups, size classes and stages.
    pub fn breakdown(&self) -> Breakdown {
        let mine: Vec<bool> = {
            let mut m = vec![false; self.layout.rooms.len()];
            for r in &self.rooms {
                m[*r as usize] = true;
            }
            m
        };
        let mut groups: Vec<PartInfo> = self
            .workload
            .groups
            .iter()
            .map(|g| part_info(g.name.clone()))
            .collect();
        let (of_room, present) = self.layout.classes();
        let mut classes: Vec<PartInfo> = present
            .iter()
            .map(|c| part_info(format!("{} members", size_class_name(*c))))
            .collect();
        for (room, plan) in self.layout.rooms.iter().enumerate() {
            if !mine[room] {
                continue;
            }
            for info in [
                &mut groups[usize::from(plan.group)],
                &mut classes[usize::from(of_room[room])],
            ] {
                info.rooms = Some(info.rooms.unwrap_or(0) + 1);
                info.members = Some(info.members.unwrap_or(0) + u64::from(plan.members));
            }
        }
        let changes = self.workload.presence().is_some();
        let stages = self
            .workload
            .stages
            .iter()
            .zip(self.workload.curve().spans())
            .map(|(s, span)| PartInfo {
                name: s.name.clone(),
                rooms: None,
                // When members come and go: those in the room at the stage's own share.
                members: changes.then(|| self.members_at(s.members)),
                span: Some(span),
                rate: Some(s.rate),
            })
            .collect();
        Breakdown {
            groups,
            classes,
            stages,
            readers: self.readers(),
        }
    }

    /// By group: the reader kinds of its impaired members (`--impair`) and of its slow
    /// readers (`--slow-readers`). 0 is the healthy members, then for each group in order
    /// its impaired members and its slow readers, where it has them.
    pub fn reader_kinds(&self) -> Vec<ReaderKinds> {
        let mut next = 0;
        let mut kind = |has: bool| {
            has.then(|| {
                next += 1;
                next
            })
        };
        self.workload
            .groups
            .iter()
            .map(|g| ReaderKinds {
                impaired: kind(g.impair.is_some()),
                slow: kind(g.slow_readers.is_some()),
            })
            .collect()
    }

    /// The reader kinds with this process's members of each: empty when no group has
    /// impaired members or slow readers. A group's impaired members are
    /// `floor(receivers * share)` of its receivers here (`Impair::picks` over them in plan
    /// order); its slow readers the same of the receivers not impaired.
    fn readers(&self) -> Vec<PartInfo> {
        let kinds = self.reader_kinds();
        if kinds
            .iter()
            .all(|k| k.impaired.is_none() && k.slow.is_none())
        {
            return Vec::new();
        }
        let mut receivers = vec![0u64; kinds.len()];
        let mut members = 0;
        for r in &self.rooms {
            let plan = &self.layout.rooms[*r as usize];
            members += u64::from(plan.members);
            receivers[usize::from(plan.group)] +=
                u64::from(plan.members.saturating_sub(plan.senders.len() as u32));
        }
        let mut infos = vec![reader_info("healthy".into(), members)];
        let named = |g: &crate::workload::Group, what: String| match self.workload.groups.len() {
            1 => what,
            _ => format!("{}: {what}", g.name),
        };
        for (g, n) in self.workload.groups.iter().zip(receivers) {
            let impaired = g.impair.map_or(0, |i| (n as f64 * i.share).floor() as u64);
            if let Some(i) = g.impair {
                infos.push(reader_info(
                    named(g, format!("impaired ({})", i.link)),
                    impaired,
                ));
            }
            if let Some(slow) = g.slow_readers {
                let slow_members = ((n - impaired) as f64 * slow.share).floor() as u64;
                let what = format!("slow readers at {}/s", bytesize::ByteSize(slow.rate));
                infos.push(reader_info(named(g, what), slow_members));
            }
        }
        let others: u64 = infos[1..].iter().filter_map(|i| i.members).sum();
        infos[0].members = infos[0].members.map(|m| m - others);
        infos
    }

    /// This process's members in their rooms when the stages' share is `share`: every
    /// sender, and the receivers the share keeps.
    fn members_at(&self, share: f64) -> u64 {
        self.rooms
            .iter()
            .map(|r| {
                let plan = &self.layout.rooms[*r as usize];
                let senders = plan.senders.len() as u32;
                let receivers = plan.members.saturating_sub(senders);
                u64::from(senders + presence::kept(receivers, share))
            })
            .sum()
    }
}

/// One group's reader kinds (`Plan::reader_kinds`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReaderKinds {
    pub impaired: Option<usize>,
    pub slow: Option<usize>,
}

/// How each group's senders pace themselves.
pub(super) fn send_plans(workload: &Workload, layout: &Layout, windows: bool) -> Vec<SendPlan> {
    workload
        .groups
        .iter()
        .map(|g| SendPlan {
            arrival: g.arrival,
            size: g.size.clone(),
            text: g.text.clone(),
            seed: workload.seed,
            senders: layout.max_senders(),
            rooms: layout.rooms.len() as u32,
            windows,
            replies: g.replies,
        })
        .collect()
}

/// How each group's receiving members leave and rejoin, if they do.
pub(super) fn churn_plans(workload: &Workload) -> Vec<Option<ChurnPlan>> {
    workload
        .groups
        .iter()
        .map(|g| {
            g.session.map(|mean| ChurnPlan {
                mean_session: mean,
                seed: workload.seed,
            })
        })
        .collect()
}

fn reader_info(name: String, members: u64) -> PartInfo {
    PartInfo {
        name,
        rooms: None,
        members: Some(members),
        span: None,
        rate: None,
    }
}

fn part_info(name: String) -> PartInfo {
    PartInfo {
        name,
        rooms: Some(0),
        members: Some(0),
        span: None,
        rate: None,
    }
}

/// The run-wide index of a workload's rooms, senders and messages.
pub(super) fn index_of(workload: &Workload, layout: &Layout) -> Index {
    let curve = workload.curve();
    let end = curve.warmup() + workload.duration().as_secs_f64();
    let work_s = curve.work_at(end);
    let arrivals: Vec<_> = workload.groups.iter().map(|g| g.arrival).collect();
    Index::new(layout, &arrivals, curve, work_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::Opts;
    use clap::Parser as _;

    #[test]
    fn a_member_is_impaired_or_slow_never_both_and_each_kind_counts_its_own() {
        let opts = Opts::parse_from([
            "loadgen",
            "--target",
            "ws://127.0.0.1:9",
            "--rooms",
            "10",
            "--clients",
            "10",
            "--impair",
            "10%:rtt=10ms",
            "--slow-readers",
            "20%:1KiB",
        ]);
        let plan = Plan::new(&opts).expect("plan");
        let conns: Vec<_> = plan
            .workers(&plan.targets)
            .into_iter()
            .flat_map(|w| w.conns)
            .collect();
        // 90 receivers: 9 impaired; of the other 81, 16 slow.
        let impaired = conns.iter().filter(|c| c.impaired).count();
        let slow = conns.iter().filter(|c| c.read_rate.is_some()).count();
        assert_eq!((impaired, slow), (9, 16));
        assert!(!conns.iter().any(|c| c.impaired && c.read_rate.is_some()));
        assert!(!conns.iter().any(|c| c.impaired && c.sender.is_some()));
        assert!(conns.iter().filter(|c| c.impaired).all(|c| c.reader == 1));
        assert!(
            conns
                .iter()
                .filter(|c| c.read_rate.is_some())
                .all(|c| c.reader == 2)
        );
        let members: Vec<_> = plan.readers().iter().map(|p| p.members).collect();
        assert_eq!(members, [Some(75), Some(9), Some(16)]);
    }
}
