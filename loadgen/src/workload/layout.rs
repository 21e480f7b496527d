//! Every room of a workload drawn once: its group, its members, its senders and their rates.
//! Draws come from generators seeded by the workload's seed and the group's place, so the
//! same workload gives the same rooms in every process (the shards of a plan agree).

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{Activity, Group, Members, Rate, Senders, Workload};
use run_result::part::size_class;

/// One room.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomPlan {
    pub group: u16,
    pub members: u32,
    /// Messages per work second of each sender (the first `len` members send).
    pub senders: Vec<f64>,
}

/// Every room of the workload, in order: group by group.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub rooms: Vec<RoomPlan>,
    /// Where each room's senders start among all senders, and the count of all at the end.
    sender_base: Vec<u32>,
}

impl Layout {
    pub fn new(workload: &Workload) -> Self {
        let mut rooms = Vec::new();
        for (g, group) in workload.groups.iter().enumerate() {
            let mut rng = StdRng::seed_from_u64(workload.seed ^ 0x9e37_79b9 ^ ((g as u64) << 40));
            for i in 0..group.room_count() {
                let members = match &group.members {
                    Members::List(list) => list[i as usize],
                    Members::Drawn(d) => d.sample(&mut rng).clamp(1, u64::from(u32::MAX)) as u32,
                };
                let room_rate = match &group.rate {
                    Rate::PerSecond(r) => *r,
                    Rate::PerMinute(d) => d.sample(&mut rng) as f64 / 60.0,
                };
                rooms.push(RoomPlan {
                    group: g as u16,
                    members,
                    senders: sender_rates(group, members, room_rate),
                });
            }
        }
        let mut sender_base = Vec::with_capacity(rooms.len() + 1);
        let mut total = 0u32;
        for room in &rooms {
            sender_base.push(total);
            total += room.senders.len() as u32;
        }
        sender_base.push(total);
        Self { rooms, sender_base }
    }

    /// Senders of `room`.
    pub fn senders_in(&self, room: u32) -> u32 {
        self.rooms
            .get(room as usize)
            .map_or(0, |r| r.senders.len() as u32)
    }

    /// The index of `room`'s first sender among all senders.
    pub fn sender_base(&self, room: u32) -> u32 {
        self.sender_base[room as usize]
    }

    /// Senders in all.
    pub fn sender_count(&self) -> u32 {
        self.sender_base.last().copied().unwrap_or(0)
    }

    /// The most senders any room has.
    pub fn max_senders(&self) -> u32 {
        self.rooms
            .iter()
            .map(|r| r.senders.len() as u32)
            .max()
            .unwrap_or(0)
    }

    /// Members of the given rooms, in all.
    pub fn members_of(&self, rooms: &[u32]) -> u64 {
        rooms
            .iter()
            .map(|r| u64::from(self.rooms[*r as usize].members))
            .sum()
    }

    /// The size class of each room, renumbered from 0 in rising order over the classes
    /// present, and each class present (its [`size_class`]).
    pub fn classes(&self) -> (Vec<u8>, Vec<u8>) {
        let mut present: Vec<u8> = self.rooms.iter().map(|r| size_class(r.members)).collect();
        present.sort_unstable();
        present.dedup();
        let of_room = self
            .rooms
            .iter()
            .map(|r| present.binary_search(&size_class(r.members)).unwrap_or(0) as u8)
            .collect();
        (of_room, present)
    }
}

impl Layout {
    /// What the draws made, as comment lines for `--print-workload`: rooms, members, senders,
    /// and the load at a stage rate of 1.
    pub fn describe(&self) -> String {
        let members: u64 = self.rooms.iter().map(|r| u64::from(r.members)).sum();
        let largest = self.rooms.iter().map(|r| r.members).max().unwrap_or(0);
        let messages: f64 = self.rooms.iter().flat_map(|r| &r.senders).sum();
        let deliveries: f64 = self
            .rooms
            .iter()
            .map(|r| r.senders.iter().sum::<f64>() * f64::from(r.members))
            .sum();
        format!(
            "# drawn: {} rooms, {members} members (the largest room {largest}), {} senders;\n\
             # at a stage rate of 1: {messages:.1} messages/s, {deliveries:.0} deliveries/s\n",
            self.rooms.len(),
            self.sender_count(),
        )
    }
}

/// The rate of each sender of a room of `members` that sends `room_rate` messages per work
/// second.
fn sender_rates(group: &Group, members: u32, room_rate: f64) -> Vec<f64> {
    let count = match group.senders {
        Senders::Count(n) => n.min(members),
        Senders::Share(pct) => {
            ((f64::from(members) * pct / 100.0).round() as u32).clamp(1, members)
        }
    };
    if count == 0 || room_rate <= 0.0 {
        return vec![0.0; count as usize];
    }
    let weights: Vec<f64> = (1..=count)
        .map(|k| match group.activity {
            Activity::Even => 1.0,
            Activity::Zipf(s) => 1.0 / f64::from(k).powf(s),
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| room_rate * w / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Dist;
    use crate::workload::{Process, Stage};
    use stamp::Fill;
    use std::time::Duration;

    fn group(members: Members, senders: Senders, activity: Activity) -> Group {
        Group {
            name: "g".into(),
            rooms: 200,
            members,
            senders,
            activity,
            rate: Rate::PerSecond(10.0),
            arrival: Process::Fixed,
            size: Dist::Fixed(64),
            text: Fill::X,
            session: None,
            replies: 0.0,
            slow_readers: None,
            impair: None,
        }
    }

    fn workload(groups: Vec<Group>) -> Workload {
        Workload {
            seed: 5,
            warmup: Duration::from_secs(1),
            settle: Duration::from_secs(1),
            groups,
            stages: vec![Stage {
                name: "run".into(),
                duration: Duration::from_secs(5),
                rate: 1.0,
                ramp: Duration::ZERO,
                members: 1.0,
            }],
            thresholds: Vec::new(),
            reconnect: None,
        }
    }

    #[test]
    fn zipf_rooms_and_zipf_senders() {
        let w = workload(vec![
            group(
                Members::List(vec![5000]),
                Senders::Share(1.0),
                Activity::Zipf(1.0),
            ),
            group(
                Members::Drawn("zipf:s=1.2,min=2,max=2000".parse().expect("dist")),
                Senders::Count(3),
                Activity::Even,
            ),
        ]);
        let layout = Layout::new(&w);
        assert_eq!(layout.rooms.len(), 201);
        let hot = &layout.rooms[0];
        assert_eq!((hot.group, hot.members, hot.senders.len()), (0, 5000, 50));
        // 1/k over 50 senders: the first sends 1/H(50) = 22 % of the room's 10 per second.
        assert!(
            (hot.senders[0] - 10.0 / 4.499).abs() < 0.01,
            "{}",
            hot.senders[0]
        );
        assert!((hot.senders.iter().sum::<f64>() - 10.0).abs() < 1e-9);
        // A long tail: the median room is small, the largest two orders of magnitude above.
        let mut sizes: Vec<u32> = layout.rooms[1..].iter().map(|r| r.members).collect();
        sizes.sort_unstable();
        assert!(sizes[100] <= 20 && sizes[199] >= 200, "{sizes:?}");
        assert!(
            layout.rooms[1..]
                .iter()
                .all(|r| r.senders.len() as u32 == r.members.min(3))
        );
        assert_eq!(layout.sender_base(1), 50);
        assert_eq!(
            Layout::new(&w),
            layout,
            "the same seed draws the same rooms"
        );
        let (of_room, present) = layout.classes();
        assert_eq!(present.last(), Some(&13));
        assert_eq!(usize::from(of_room[0]), present.len() - 1);
    }
}
