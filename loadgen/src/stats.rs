//! What each worker records, and the exact merge of all workers at the end.
//!
//! One [`WorkerStats`] per worker thread, owned by that thread (no locks on the receive path);
//! latencies go into HDR histograms in microseconds, never into a `Vec` of samples.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// The largest latency a histogram holds (10 minutes); larger values are recorded as this.
pub const MAX_LATENCY_US: u64 = 600_000_000;

pub fn histogram() -> Histogram<u64> {
    // 3 significant digits: 0.1 % resolution at every scale.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
}

/// Records `us`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// One second of the measured run.
#[derive(Debug, Clone)]
pub struct Second {
    pub sends: u64,
    pub deliveries: u64,
    pub latency: Histogram<u64>,
}

impl Second {
    fn new() -> Self {
        Self {
            sends: 0,
            deliveries: 0,
            latency: histogram(),
        }
    }
}

/// Everything one worker measured.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Fan-out latency of each delivery, from the scheduled send time.
    pub latency: Histogram<u64>,
    /// Fan-out latency of each delivery, from the actual send time.
    pub latency_sent: Histogram<u64>,
    /// Per message: scheduled send until the last member present had it.
    pub completion: Histogram<u64>,
    /// TCP connect plus WebSocket handshake.
    pub connect: Histogram<u64>,
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub cross_room: u64,
    /// Frames that carried no loadgen stamp.
    pub foreign: u64,
    pub connected: u64,
    pub connect_failed: u64,
    /// Close codes the server sent, by code.
    pub closes: BTreeMap<u16, u64>,
    /// Errors, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Per second of the measured run.
    pub series: Vec<Second>,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self {
            latency: histogram(),
            latency_sent: histogram(),
            completion: histogram(),
            connect: histogram(),
            sent: 0,
            expected: 0,
            delivered: 0,
            duplicates: 0,
            reordered: 0,
            cross_room: 0,
            foreign: 0,
            connected: 0,
            connect_failed: 0,
            closes: BTreeMap::new(),
            errors: BTreeMap::new(),
            series: Vec::new(),
        }
    }
}

impl WorkerStats {
    /// The bucket for second `s` of the measured run.
    pub fn second(&mut self, s: usize) -> &mut Second {
        if self.series.len() <= s {
            self.series.resize_with(s + 1, Second::new);
        }
        &mut self.series[s]
    }

    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    pub fn closed(&mut self, code: u16) {
        *self.closes.entry(code).or_default() += 1;
    }

    /// Adds `other` into `self`: histograms added, counters summed, seconds aligned.
    pub fn merge(&mut self, other: &Self) {
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| {
            // Same bounds everywhere, so adding cannot fail.
            let _ = a.add(b);
        };
        add(&mut self.latency, &other.latency);
        add(&mut self.latency_sent, &other.latency_sent);
        add(&mut self.completion, &other.completion);
        add(&mut self.connect, &other.connect);
        self.sent += other.sent;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.cross_room += other.cross_room;
        self.foreign += other.foreign;
        self.connected += other.connected;
        self.connect_failed += other.connect_failed;
        for (code, n) in &other.closes {
            *self.closes.entry(*code).or_default() += n;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        for (s, second) in other.series.iter().enumerate() {
            let mine = self.second(s);
            mine.sends += second.sends;
            mine.deliveries += second.deliveries;
            add(&mut mine.latency, &second.latency);
        }
    }
}

/// Which sequence numbers one receiver has seen from one sender.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    bits: Vec<u64>,
    highest: Option<u32>,
}

/// What a delivery was, for this receiver and sender.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    InOrder,
    /// New, but a later sequence number came first.
    Reordered,
    Duplicate,
}

impl Seen {
    pub fn mark(&mut self, seq: u32) -> Arrival {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) != 0 {
            return Arrival::Duplicate;
        }
        self.bits[word] |= 1 << bit;
        match self.highest {
            Some(h) if seq < h => Arrival::Reordered,
            _ => {
                self.highest = Some(seq);
                Arrival::InOrder
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_tells_duplicates_from_reordering() {
        let mut seen = Seen::default();
        assert_eq!(seen.mark(0), Arrival::InOrder);
        assert_eq!(seen.mark(2), Arrival::InOrder);
        assert_eq!(seen.mark(1), Arrival::Reordered);
        assert_eq!(seen.mark(2), Arrival::Duplicate);
        assert_eq!(seen.mark(1), Arrival::Duplicate);
        assert_eq!(seen.mark(200), Arrival::InOrder);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = WorkerStats::default();
        let mut b = WorkerStats::default();
        record(&mut a.latency, 100);
        record(&mut b.latency, 300);
        a.delivered = 1;
        b.delivered = 2;
        b.second(3).deliveries = 5;
        b.closed(1013);
        a.merge(&b);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.delivered, 3);
        assert_eq!(a.series.len(), 4);
        assert_eq!(a.series[3].deliveries, 5);
        assert_eq!(a.closes[&1013], 1);
    }
}
