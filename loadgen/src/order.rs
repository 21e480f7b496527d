//! One common order per room: do all members receive a room's messages in the same order?
//!
//! Each measured message gets a rank when its first receiver reads it (a counter per room,
//! drawn once per message with a compare-and-swap). A member whose deliveries of a room come
//! with ranks that only rise agrees with that order. A delivery ranked below the highest rank
//! the member has had is a suspect: the member got `hi` then `lo`, where `lo`'s first
//! receiver (its drawer) read it before anyone read `hi`. Two facts make the check exact:
//! - a member's rank draws and reads are in its reading order, so anything a member read
//!   before it drew a rank ranks lower; the drawer of `lo` therefore cannot have read `hi`
//!   before `lo`;
//! - so the suspect is a conflict exactly when the drawer of `lo` read `hi` at all (in that
//!   stay): it got `lo` then `hi`, the member `hi` then `lo`.
//!
//! A suspect whose drawer never got `hi` (lost, or the stay ended) is not a conflict, and is
//! not counted: under loss and churn nobody saw the opposite order.
//!
//! Counted: pairs `(hi, lo)` confirmed, at most one per `lo` (the first suspect recorded for
//! it), so `order_conflicts` is a lower bound on the pairs seen in different orders and 0
//! exactly when no member's deliveries contradict the order of first receipt. Checked within
//! one loadgen process (with `--shard`, each shard over its own members).
//!
//! The witness's drawer view has both times when the drawer read `hi` after the suspect was
//! recorded: recording a suspect for the witness marks `hi`'s slot with it, and the drawer's
//! delivery of a marked slot stores its time (one more byte read per delivery).
//!
//! Memory: 17 bytes per message slot (rank and drawer, suspect, first receipt time, mark), and the
//! received-set of every stay that drew a rank (one bit per message of its room, the bits the
//! stay's receive path keeps anyway), held from the stay's end to the run's. Time: constant
//! per delivery; the confirmation at the end is linear in the slots.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use run_result::Totals;
use run_result::witness::{MessageId, OrderWitness, View};

use crate::index::Index;
use crate::stats::Seen;

/// A slot's rank word before its first receiver has it.
const UNRANKED: u64 = u64::MAX;
/// No suspect recorded for a slot (and slots at or past it are not checked).
const NONE: u32 = u32::MAX;
/// Suspects recorded with the member's view, for the witness.
const DETAILS: usize = 64;

/// The room-wide ranks, suspects and drawers' received-sets of one process.
#[derive(Debug)]
pub struct OrderBook {
    /// Per room: the next rank to draw.
    next_rank: Vec<AtomicU32>,
    /// Per slot: the rank in the high 32 bits, the stay that drew it in the low ones.
    rank: Vec<AtomicU64>,
    /// Per slot (`lo`): the slot of `hi` of the first suspect recorded for it.
    suspect: Vec<AtomicU32>,
    /// Per slot: when its drawer read it, milliseconds on the run clock.
    first_ms: Vec<AtomicU32>,
    /// Stays begun so far (the next stay's number).
    stays: AtomicU32,
    /// The received-sets of the stays that drew a rank, by stay, once each stay has ended.
    drawers: Mutex<HashMap<u32, Vec<Seen>>>,
    /// The first suspects with the suspecting member's view.
    details: Mutex<Vec<Suspect>>,
    details_taken: AtomicUsize,
    /// Per slot: 1 + the index of the recorded suspect whose `hi` it is, or 0.
    mark: Vec<AtomicU8>,
    /// Per recorded suspect: the stay that drew `lo`, and 1 + when it read `hi` (0 not yet).
    drawer_of: [AtomicU32; DETAILS],
    drawer_then: [AtomicU64; DETAILS],
}

/// One stay's side of the check, kept by its receive path.
#[derive(Debug, Clone, Copy)]
pub struct Stay {
    id: u32,
    /// The highest-ranked delivery so far: rank, slot, when.
    top: Option<(u32, u32, u64)>,
    /// Whether this stay drew any rank (its received-set is kept at its end).
    drew: bool,
}

#[derive(Debug, Clone, Copy)]
struct Suspect {
    /// Its place among the recorded suspects (the drawer's watch).
    index: usize,
    stay: u32,
    hi: u32,
    hi_us: u64,
    lo: u32,
    lo_us: u64,
}

impl Stay {
    /// The stay's number (the witnesses name members by it).
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl OrderBook {
    pub fn new(rooms: u32, slots: usize) -> Self {
        Self {
            next_rank: (0..rooms).map(|_| AtomicU32::new(0)).collect(),
            rank: (0..slots).map(|_| AtomicU64::new(UNRANKED)).collect(),
            suspect: (0..slots).map(|_| AtomicU32::new(NONE)).collect(),
            first_ms: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            stays: AtomicU32::new(0),
            drawers: Mutex::new(HashMap::new()),
            details: Mutex::new(Vec::new()),
            details_taken: AtomicUsize::new(0),
            mark: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            drawer_of: std::array::from_fn(|_| AtomicU32::new(NONE)),
            drawer_then: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// A new stay's side of the check.
    pub fn stay(&self) -> Stay {
        Stay {
            id: self.stays.fetch_add(1, Ordering::Relaxed),
            top: None,
            drew: false,
        }
    }

    /// `stay` read the measured message in `slot` of `room` at `now_us` (not a duplicate).
    pub fn deliver(&self, stay: &mut Stay, room: u32, slot: usize, now_us: u64) {
        let Ok(slot32) = u32::try_from(slot) else {
            return;
        };
        if slot32 == NONE {
            return;
        }
        let (Some(word), Some(next)) = (self.rank.get(slot), self.next_rank.get(room as usize))
        else {
            return;
        };
        let rank = match word.load(Ordering::Acquire) {
            UNRANKED => {
                let drawn = next.fetch_add(1, Ordering::AcqRel);
                let mine = (u64::from(drawn) << 32) | u64::from(stay.id);
                match word.compare_exchange(UNRANKED, mine, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        stay.drew = true;
                        let ms = u32::try_from(now_us / 1000).unwrap_or(u32::MAX);
                        self.first_ms[slot].store(ms, Ordering::Relaxed);
                        drawn
                    }
                    Err(theirs) => (theirs >> 32) as u32,
                }
            }
            w => (w >> 32) as u32,
        };
        let mark = self.mark[slot].load(Ordering::Acquire);
        if mark != 0 {
            self.drawer_read(usize::from(mark - 1), stay.id, now_us);
        }
        match stay.top {
            Some((top, hi, hi_us)) if rank < top => {
                let first = self.suspect[slot]
                    .compare_exchange(NONE, hi, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                let taken = if first {
                    self.details_taken.fetch_add(1, Ordering::Relaxed)
                } else {
                    DETAILS
                };
                if taken < DETAILS {
                    // The drawer of `lo` is watched for its delivery of `hi`.
                    let drawer = self.rank[slot].load(Ordering::Acquire) as u32;
                    self.drawer_of[taken].store(drawer, Ordering::Relaxed);
                    let _ = self.mark[hi as usize].compare_exchange(
                        0,
                        taken as u8 + 1,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    );
                    let mut details = self.details.lock().unwrap_or_else(|p| p.into_inner());
                    details.push(Suspect {
                        index: taken,
                        stay: stay.id,
                        hi,
                        hi_us,
                        lo: slot32,
                        lo_us: now_us,
                    });
                }
            }
            _ => stay.top = Some((rank, slot32, now_us)),
        }
    }

    /// A delivery of a marked slot: the drawer of recorded suspect `index` read its `hi`.
    fn drawer_read(&self, index: usize, stay: u32, now_us: u64) {
        if self.drawer_of[index].load(Ordering::Relaxed) == stay {
            let _ = self.drawer_then[index].compare_exchange(
                0,
                now_us + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A stay ended: keeps its received-set if it drew a rank (the confirmation reads it).
    pub fn ended(&self, stay: &Stay, seen: Vec<Seen>) {
        if stay.drew {
            let mut drawers = self.drawers.lock().unwrap_or_else(|p| p.into_inner());
            drawers.insert(stay.id, seen);
        }
    }

    /// After every stay has ended: the confirmed conflicts and the first one's evidence.
    pub fn conflicts_into(&self, index: &Index, totals: &mut Totals) {
        let drawers = self.drawers.lock().unwrap_or_else(|p| p.into_inner());
        // `lo`'s drawer and whether it read `hi`.
        let confirmed = |lo: usize, hi: u32| -> Option<u32> {
            let drawer = self.rank[lo].load(Ordering::Acquire) as u32;
            let (_, sender, seq) = index.message_of(hi as usize)?;
            let seen = drawers.get(&drawer)?.get(sender as usize)?;
            seen.has(seq).then_some(drawer)
        };
        let mut conflicts = 0;
        for (lo, hi) in self.suspect.iter().enumerate() {
            let hi = hi.load(Ordering::Acquire);
            if hi != NONE && confirmed(lo, hi).is_some() {
                conflicts += 1;
            }
        }
        totals.order_conflicts += conflicts;
        let details = self.details.lock().unwrap_or_else(|p| p.into_inner());
        // A witness with both of the drawer's times if there is one.
        let then_of = |s: &Suspect| match self.drawer_then[s.index].load(Ordering::Relaxed) {
            0 => None,
            t => Some(t - 1),
        };
        let mut ordered: Vec<&Suspect> = details.iter().collect();
        ordered.sort_by_key(|s| then_of(s).is_none());
        let witness = ordered.into_iter().find_map(|s| {
            let drawer = confirmed(s.lo as usize, s.hi)?;
            let (room, lo_sender, lo_seq) = index.message_of(s.lo as usize)?;
            let (_, hi_sender, hi_seq) = index.message_of(s.hi as usize)?;
            let (lo, hi) = (
                MessageId {
                    sender: lo_sender,
                    seq: lo_seq,
                },
                MessageId {
                    sender: hi_sender,
                    seq: hi_seq,
                },
            );
            Some(OrderWitness {
                room,
                one: View {
                    stay: s.stay,
                    first: hi,
                    first_us: s.hi_us,
                    then: lo,
                    then_us: Some(s.lo_us),
                },
                other: View {
                    stay: drawer,
                    first: lo,
                    first_us: u64::from(self.first_ms[s.lo as usize].load(Ordering::Relaxed))
                        * 1000,
                    then: hi,
                    then_us: then_of(s),
                },
            })
        });
        if totals.order_witness.is_none() {
            totals.order_witness = witness;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book of one room whose slots are the messages 0.. of one sender.
    fn book(slots: usize) -> OrderBook {
        OrderBook::new(1, slots)
    }

    fn seen(of: &[u32]) -> Vec<Seen> {
        let mut seen = Seen::default();
        for seq in of {
            seen.mark(*seq);
        }
        vec![seen]
    }

    #[test]
    fn members_that_agree_raise_no_suspect() {
        let book = book(3);
        let (mut a, mut b) = (book.stay(), book.stay());
        for slot in 0..3 {
            book.deliver(&mut a, 0, slot, 10);
            book.deliver(&mut b, 0, slot, 20);
        }
        assert!(
            book.suspect
                .iter()
                .all(|s| s.load(Ordering::Acquire) == NONE)
        );
    }

    #[test]
    fn opposite_orders_are_a_suspect_confirmed_by_the_drawer() {
        let book = book(2);
        let (mut a, mut b) = (book.stay(), book.stay());
        book.deliver(&mut a, 0, 0, 10); // a draws 0
        book.deliver(&mut b, 0, 1, 11); // b draws 1
        book.deliver(&mut b, 0, 0, 12); // b: 1 then 0, a suspect on 0 with drawer a
        assert_eq!(book.suspect[0].load(Ordering::Acquire), 1);
        book.deliver(&mut a, 0, 1, 13);
        assert!(a.drew && b.drew);
        // a read 1 too: a conflict.
        book.ended(&a, seen(&[0, 1]));
        book.ended(&b, seen(&[0, 1]));
        let mut totals = Totals::default();
        let index = Index::one_room(1, 2);
        book.conflicts_into(&index, &mut totals);
        assert_eq!(totals.order_conflicts, 1);
        let w = totals.order_witness.expect("a witness");
        assert_eq!((w.one.stay, w.one.first.seq, w.one.then.seq), (1, 1, 0));
        assert_eq!(
            (w.other.stay, w.other.first.seq, w.other.then.seq),
            (0, 0, 1)
        );
        // a read 1 after the suspect was recorded: both of its times are known.
        assert_eq!((w.other.first_us, w.other.then_us), (0, Some(13)));
    }

    #[test]
    fn a_drawer_that_read_the_other_message_before_the_suspect_has_no_second_time() {
        let book = book(2);
        let (mut a, mut b) = (book.stay(), book.stay());
        book.deliver(&mut a, 0, 0, 10); // a draws 0
        book.deliver(&mut b, 0, 1, 11); // b draws 1
        book.deliver(&mut a, 0, 1, 12); // a: 0 then 1, before anyone suspects
        book.deliver(&mut b, 0, 0, 13); // b: 1 then 0
        book.ended(&a, seen(&[0, 1]));
        book.ended(&b, seen(&[0, 1]));
        let mut totals = Totals::default();
        book.conflicts_into(&Index::one_room(1, 2), &mut totals);
        assert_eq!(totals.order_conflicts, 1);
        let w = totals.order_witness.expect("a witness");
        assert_eq!((w.other.stay, w.other.then_us), (0, None));
        assert_eq!(w.one.then_us, Some(13));
    }

    #[test]
    fn a_suspect_whose_drawer_never_got_the_other_message_is_no_conflict() {
        let book = book(2);
        let (mut a, mut b) = (book.stay(), book.stay());
        book.deliver(&mut a, 0, 0, 10);
        book.deliver(&mut b, 0, 1, 11);
        book.deliver(&mut b, 0, 0, 12);
        // a never reads 1 (lost): nobody saw 0 before 1.
        book.ended(&a, seen(&[0]));
        book.ended(&b, seen(&[0, 1]));
        let mut totals = Totals::default();
        book.conflicts_into(&Index::one_room(1, 2), &mut totals);
        assert_eq!(totals.order_conflicts, 0);
        assert!(totals.order_witness.is_none());
    }
}
