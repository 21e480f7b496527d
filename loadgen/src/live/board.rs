//! Each worker's latency histogram and error counts, copied by the worker once per interval:
//! the coordinator's live view of what only the workers hold (their `Totals` are thread-local).
//!
//! Bound: one slot per worker, each one histogram and two small maps, replaced (not
//! appended) at every copy; the lock is taken once per interval per worker, never per
//! delivery.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use run_result::Totals;
use run_result::histogram;

/// What one worker had measured at its last copy.
#[derive(Debug, Clone)]
pub struct Slot {
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    pub reconnects: BTreeMap<String, u64>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            latency: histogram::new(),
            errors: BTreeMap::new(),
            reconnects: BTreeMap::new(),
        }
    }
}

impl Slot {
    fn add(&mut self, other: &Self) {
        let _ = self.latency.add(&other.latency);
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        for (cause, n) in &other.reconnects {
            *self.reconnects.entry(cause.clone()).or_default() += n;
        }
    }
}

/// The workers' slots and how often they copy into them.
#[derive(Debug)]
pub struct Board {
    pub every: Duration,
    slots: Vec<Mutex<Slot>>,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // A slot is replaced whole; a poisoned one is still a whole slot.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Board {
    pub fn new(workers: usize, every: Duration) -> Self {
        Self {
            every,
            slots: (0..workers).map(|_| Mutex::default()).collect(),
        }
    }

    /// Worker `w`'s totals now.
    pub fn publish(&self, w: usize, totals: &Totals) {
        if let Some(slot) = self.slots.get(w) {
            let copy = Slot {
                latency: totals.latency.clone(),
                errors: totals.errors.clone(),
                reconnects: totals.reconnects.clone(),
            };
            *lock(slot) = copy;
        }
    }

    /// Every worker's last copy, added up.
    pub fn merged(&self) -> Slot {
        let mut all = Slot::default();
        for slot in &self.slots {
            all.add(&lock(slot));
        }
        all
    }
}
