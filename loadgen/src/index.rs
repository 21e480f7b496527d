//! Where each room's senders and each sender's messages sit in the run-wide vectors
//! (`Shared`'s per-sender counts and per-message completion slots), and which parts of the
//! run (group, size class, stage) a room's messages are counted in. Rooms differ in senders
//! and senders in rates, so both are offsets, computed once from the workload's layout.

use run_result::Totals;
use run_result::part::Part;

use crate::workload::{Curve, Layout, Process};

/// Offsets and parts of every room of the plan (all of them, in every shard: a message's
/// place does not depend on who sends it).
#[derive(Debug)]
pub struct Index {
    /// Per room: the index of its first sender; one past the last sender at the end.
    sender_base: Vec<u32>,
    /// Per sender: the index of its first slot; one past the last slot at the end.
    slot_base: Vec<u64>,
    /// Per room: its group and its size class (numbered over the classes present).
    group: Vec<u16>,
    class: Vec<u8>,
    /// The stages, to place a message by its scheduled time.
    pub curve: Curve,
}

impl Index {
    /// `arrival` is each group's process, `work_s` the work time of the whole sending.
    pub fn new(layout: &Layout, arrival: &[Process], curve: Curve, work_s: f64) -> Self {
        let mut sender_base = Vec::with_capacity(layout.rooms.len() + 1);
        let mut slot_base = vec![0u64];
        let mut senders = 0u32;
        for room in &layout.rooms {
            sender_base.push(senders);
            senders += room.senders.len() as u32;
            let process = arrival[usize::from(room.group)];
            for rate in &room.senders {
                let slots = process.bound(*rate, work_s).min(f64::from(u32::MAX)) as u64;
                slot_base.push(slot_base.last().copied().unwrap_or(0) + slots);
            }
        }
        sender_base.push(senders);
        let (class, _) = layout.classes();
        Self {
            sender_base,
            slot_base,
            group: layout.rooms.iter().map(|r| r.group).collect(),
            class,
            curve,
        }
    }

    pub fn rooms(&self) -> u32 {
        self.group.len() as u32
    }

    /// Senders in all.
    pub fn senders(&self) -> usize {
        self.sender_base.last().copied().unwrap_or(0) as usize
    }

    /// Completion slots in all.
    pub fn slots(&self) -> u64 {
        self.slot_base.last().copied().unwrap_or(0)
    }

    pub fn senders_in(&self, room: u32) -> u32 {
        let r = room as usize;
        match (self.sender_base.get(r), self.sender_base.get(r + 1)) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    /// The index of `sender` of `room` among all senders, if the room has it.
    pub fn sender(&self, room: u32, sender: u32) -> Option<usize> {
        (sender < self.senders_in(room))
            .then(|| self.sender_base[room as usize] as usize + sender as usize)
    }

    /// The slot of message `seq` of `sender` of `room`, if it has one.
    pub fn slot(&self, room: u32, sender: u32, seq: u32) -> Option<usize> {
        let s = self.sender(room, sender)?;
        let (from, to) = (self.slot_base[s], self.slot_base[s + 1]);
        (u64::from(seq) < to - from).then(|| (from + u64::from(seq)) as usize)
    }

    /// The message in slot `slot`: `(room, sender, seq)`.
    pub fn message_of(&self, slot: usize) -> Option<(u32, u32, u32)> {
        let slot = slot as u64;
        if slot >= self.slots() {
            return None;
        }
        // The sender whose slots hold it: the last base at or below it.
        let s = self.slot_base.partition_point(|b| *b <= slot) - 1;
        let room = self.sender_base.partition_point(|b| *b as usize <= s) - 1;
        let sender = s - self.sender_base[room] as usize;
        Some((
            room as u32,
            sender as u32,
            (slot - self.slot_base[s]) as u32,
        ))
    }

    /// An index of one room of `senders` senders with `slots` slots each (for tests).
    #[cfg(test)]
    pub fn one_room(senders: u32, slots: u64) -> Self {
        Self {
            sender_base: vec![0, senders],
            slot_base: (0..=u64::from(senders)).map(|s| s * slots).collect(),
            group: vec![0],
            class: vec![0],
            curve: Curve::new(std::time::Duration::ZERO, &[]),
        }
    }

    /// Each slot of each sender of each room: `(room, slot index)`.
    pub fn room_slots(&self) -> impl Iterator<Item = (u32, std::ops::Range<usize>)> + '_ {
        (0..self.rooms()).map(|room| {
            let r = room as usize;
            let (first, end) = (
                self.sender_base[r] as usize,
                self.sender_base[r + 1] as usize,
            );
            (
                room,
                self.slot_base[first] as usize..self.slot_base[end] as usize,
            )
        })
    }

    /// Counts into each part a message of `room` scheduled in `stage` belongs to.
    pub fn count(&self, totals: &mut Totals, room: u32, stage: usize, f: impl Fn(&mut Part)) {
        let r = room as usize;
        if let (Some(g), Some(c)) = (self.group.get(r), self.class.get(r)) {
            f(Totals::part(&mut totals.groups, usize::from(*g)));
            f(Totals::part(&mut totals.classes, usize::from(*c)));
        }
        f(Totals::part(&mut totals.stages, stage));
    }

    /// The stage of a message scheduled in second `second` of the measured run.
    pub fn stage_of_second(&self, second: usize) -> usize {
        self.curve.stage_at(second as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_names_its_message_and_back() {
        // Room 0 without senders, room 1 with a sender of no slots and one of three, room 2
        // with one of two.
        let index = Index {
            sender_base: vec![0, 0, 2, 3],
            slot_base: vec![0, 0, 3, 5],
            group: vec![0; 3],
            class: vec![0; 3],
            curve: Curve::new(std::time::Duration::ZERO, &[]),
        };
        let named: Vec<_> = (0..5).map(|i| index.message_of(i)).collect();
        assert_eq!(
            named,
            [
                Some((1, 1, 0)),
                Some((1, 1, 1)),
                Some((1, 1, 2)),
                Some((2, 0, 0)),
                Some((2, 0, 1))
            ]
        );
        for (i, m) in named.iter().enumerate() {
            let (room, sender, seq) = m.expect("named");
            assert_eq!(index.slot(room, sender, seq), Some(i));
        }
        assert_eq!(index.message_of(5), None);
    }
}
