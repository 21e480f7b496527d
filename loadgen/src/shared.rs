//! State shared by the coordinator and every worker thread: atomics only, no locks on the
//! receive path (the order book locks once per stay's end and per recorded suspect).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use run_result::Totals;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::index::Index;
use crate::order::OrderBook;

/// When sending starts, when measuring starts, when sending ends: microseconds on the run clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub warmup_start_us: u64,
    pub measure_start_us: u64,
    pub end_us: u64,
}

impl Schedule {
    /// Sending starts at `start_us`: `warmup`, then the measured `duration`.
    pub fn starting(start_us: u64, warmup: Duration, duration: Duration) -> Self {
        let warmup = warmup.as_micros() as u64;
        Self {
            warmup_start_us: start_us,
            measure_start_us: start_us + warmup,
            end_us: start_us + warmup + duration.as_micros() as u64,
        }
    }
}

/// What the coordinator and the workers share. The run-wide counts live here and only here:
/// workers add to them, the progress bars read them, and [`Shared::counts_into`] puts them
/// in the result.
#[derive(Debug)]
pub struct Shared {
    /// The run clock's origin; every timestamp is microseconds since it.
    pub clock: Instant,
    /// Members of each room a send counts as its expected receivers: those connected now,
    /// and those lost for good (their connection ended unasked, without --reconnect), for
    /// whom what is sent after the loss is missing.
    pub members: Vec<AtomicU32>,
    /// Members lost for good so far, in every room (counted in `members` nonetheless).
    pub lost_for_good: AtomicU64,
    /// Per message slot: members that have yet to receive it, with [`UNSEEN`] set until the
    /// first of them has.
    pub remaining: Vec<AtomicU32>,
    /// Per message slot: the second of the measured run it was scheduled in (`u32::MAX` for
    /// one not sent, or sent in the warm-up), to place what never arrived in the series.
    pub slot_second: Vec<AtomicU32>,
    /// Per sender (`index.sender(room, sender)`): messages whose sending has begun (the next
    /// sequence number), stored before each write.
    pub published: Vec<AtomicU32>,
    /// Per sender: one past the highest of its messages it has received back (the server had
    /// broadcast everything below it).
    pub echoed: Vec<AtomicU32>,
    /// Per sender: the sequence number of its first measured (not warm-up) message;
    /// `u32::MAX` until it is sent.
    pub first_measured: Vec<AtomicU32>,
    /// One common order per room: ranks by first receipt, suspects, drawers.
    pub order: OrderBook,
    /// Where each room's senders and messages sit in these vectors, and their parts.
    pub index: Index,
    pub connected: AtomicU64,
    pub connect_failed: AtomicU64,
    pub sent: AtomicU64,
    pub expected: AtomicU64,
    pub delivered: AtomicU64,
    pub schedule: watch::Receiver<Option<Schedule>>,
    /// Set when the measurement ends early (`--abort-on`): senders send nothing more.
    pub sending_stopped: AtomicBool,
    /// Ends every connection (after the settle time, or at once on Ctrl-C).
    pub finish: CancellationToken,
}

impl Shared {
    pub fn new(index: Index, schedule: watch::Receiver<Option<Schedule>>) -> Self {
        let slots = index.slots() as usize;
        let senders = index.senders();
        Self {
            clock: Instant::now(),
            members: (0..index.rooms()).map(|_| AtomicU32::new(0)).collect(),
            lost_for_good: AtomicU64::new(0),
            remaining: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            slot_second: (0..slots).map(|_| AtomicU32::new(u32::MAX)).collect(),
            published: (0..senders).map(|_| AtomicU32::new(0)).collect(),
            echoed: (0..senders).map(|_| AtomicU32::new(0)).collect(),
            first_measured: (0..senders).map(|_| AtomicU32::new(u32::MAX)).collect(),
            order: OrderBook::new(index.rooms(), slots),
            index,
            connected: AtomicU64::new(0),
            connect_failed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            schedule,
            sending_stopped: AtomicBool::new(false),
            finish: CancellationToken::new(),
        }
    }

    /// The run-wide counts, into the merged totals of this process.
    pub fn counts_into(&self, totals: &mut Totals) {
        totals.connected = self.connected.load(Ordering::Acquire);
        totals.connect_failed = self.connect_failed.load(Ordering::Acquire);
        totals.sent = self.sent.load(Ordering::Acquire);
        totals.expected = self.expected.load(Ordering::Acquire);
        totals.delivered = self.delivered.load(Ordering::Acquire);
    }

    /// Senders send nothing more (each stops at its next scheduled send).
    pub fn stop_sending(&self) {
        self.sending_stopped.store(true, Ordering::Release);
    }

    pub fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    pub fn at(&self, us: u64) -> Instant {
        self.clock + Duration::from_micros(us)
    }

    /// The index of `sender` of `room` in the per-sender vectors (the caller knows the room
    /// has it: its own sender, or one its stamp was checked against).
    pub fn sender_index(&self, room: u32, sender: u32) -> usize {
        self.index.sender(room, sender).unwrap_or(usize::MAX)
    }

    /// A per-sender vector's values for the senders of `room`.
    pub fn of_room(&self, values: &[AtomicU32], room: u32) -> Vec<u32> {
        (0..self.index.senders_in(room))
            .map(|s| values[self.sender_index(room, s)].load(Ordering::Acquire))
            .collect()
    }

    /// The index of a message's slot, if it has one.
    fn slot_index(&self, room: u32, sender: u32, seq: u32) -> Option<usize> {
        self.index.slot(room, sender, seq)
    }

    /// The completion slot of a message, if it has one.
    pub fn slot(&self, room: u32, sender: u32, seq: u32) -> Option<&AtomicU32> {
        self.remaining.get(self.slot_index(room, sender, seq)?)
    }

    /// Records the measured second a message was scheduled in.
    pub fn sent_in(&self, room: u32, sender: u32, seq: u32, second: usize) {
        if let Some(slot) = self
            .slot_index(room, sender, seq)
            .and_then(|i| self.slot_second.get(i))
        {
            slot.store(second as u32, Ordering::Release);
        }
    }

    /// The measured second a message was scheduled in, if known.
    pub fn second_of(&self, room: u32, sender: u32, seq: u32) -> Option<usize> {
        let i = self.slot_index(room, sender, seq)?;
        match self.slot_second.get(i)?.load(Ordering::Acquire) {
            u32::MAX => None,
            s => Some(s as usize),
        }
    }

    /// The second of the measured run that `now_us` falls in, if it is measured.
    pub fn measured_second(&self, now_us: u64) -> Option<usize> {
        let schedule = (*self.schedule.borrow())?;
        (now_us >= schedule.measure_start_us && now_us < schedule.end_us)
            .then(|| ((now_us - schedule.measure_start_us) / 1_000_000) as usize)
    }

    /// Members connected now, in every room.
    pub fn members_now(&self) -> u64 {
        let counted: u64 = self
            .members
            .iter()
            .map(|m| u64::from(m.load(Ordering::Acquire)))
            .sum();
        counted.saturating_sub(self.lost_for_good.load(Ordering::Acquire))
    }

    /// Without per-stay windows: the deliveries of each message that never came (its slot's
    /// remaining count), into the series by the second it was scheduled in.
    pub fn missing_into(&self, totals: &mut Totals) {
        for (room, slots) in self.index.room_slots() {
            for i in slots {
                let (n, s) = (
                    self.remaining[i].load(Ordering::Acquire) & !UNSEEN,
                    self.slot_second[i].load(Ordering::Acquire),
                );
                if n > 0 && s != u32::MAX {
                    totals.second(s as usize).missing += u64::from(n);
                    let stage = self.index.stage_of_second(s as usize);
                    self.index
                        .count(totals, room, stage, |p| p.missing += u64::from(n));
                }
            }
        }
    }

    /// A slot's value when a message to `members` receivers has been sent.
    pub fn unseen(members: u32) -> u32 {
        members.min(!UNSEEN) | UNSEEN
    }

    /// Counts one receiver done with a message: whether it was the first to receive it and
    /// whether it was the last one expected (both for a room of one).
    pub fn complete_one(slot: &AtomicU32) -> Completed {
        match slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n & !UNSEEN).checked_sub(1)
        }) {
            Ok(before) => Completed {
                first: before & UNSEEN != 0,
                last: before & !UNSEEN == 1,
            },
            Err(_) => Completed::default(),
        }
    }
}

/// The bit of a message slot set until its first receiver has it.
pub const UNSEEN: u32 = 1 << 31;

/// What one receiver's delivery meant for its message ([`Shared::complete_one`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    pub first: bool,
    pub last: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(first: bool, last: bool) -> Completed {
        Completed { first, last }
    }

    #[test]
    fn the_first_and_the_last_receiver_of_a_message_are_told_apart() {
        let slot = AtomicU32::new(Shared::unseen(3));
        assert_eq!(Shared::complete_one(&slot), completed(true, false));
        assert_eq!(Shared::complete_one(&slot), completed(false, false));
        assert_eq!(Shared::complete_one(&slot), completed(false, true));
        // A duplicate past the last counts for nothing.
        assert_eq!(Shared::complete_one(&slot), completed(false, false));
        assert_eq!(slot.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_room_of_one_is_first_and_last_at_once_and_of_none_neither() {
        let one = AtomicU32::new(Shared::unseen(1));
        assert_eq!(Shared::complete_one(&one), completed(true, true));
        let none = AtomicU32::new(Shared::unseen(0));
        assert_eq!(Shared::complete_one(&none), completed(false, false));
        // A message not sent yet (its slot never stored) counts for nothing.
        assert_eq!(
            Shared::complete_one(&AtomicU32::new(0)),
            completed(false, false)
        );
    }
}
