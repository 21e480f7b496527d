//! What a receiver tells apart: which sequence numbers it has seen from each sender.
//!
//! The totals themselves ([`run_result::Totals`], one per worker thread, owned by that thread:
//! no locks on the receive path) live in the result crate, which merges them.

/// Which sequence numbers one receiver has seen from one sender.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    bits: Vec<u64>,
    highest: Option<u32>,
}

/// What a delivery was, for this receiver and sender.
#[derive(Debug, PartialEq, Eq)]
pub enum Order {
    InOrder,
    /// New, but a later sequence number came first.
    Reordered,
    Duplicate,
}

impl Seen {
    /// The highest sequence number seen.
    pub fn highest(&self) -> Option<u32> {
        self.highest
    }

    /// Whether `seq` was seen.
    pub fn has(&self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    pub fn mark(&mut self, seq: u32) -> Order {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) != 0 {
            return Order::Duplicate;
        }
        self.bits[word] |= 1 << bit;
        match self.highest {
            Some(h) if seq < h => Order::Reordered,
            _ => {
                self.highest = Some(seq);
                Order::InOrder
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
        assert_eq!(seen.mark(0), Order::InOrder);
        assert_eq!(seen.mark(2), Order::InOrder);
        assert_eq!(seen.mark(1), Order::Reordered);
        assert_eq!(seen.mark(2), Order::Duplicate);
        assert_eq!(seen.mark(1), Order::Duplicate);
        assert_eq!(seen.mark(200), Order::InOrder);
    }
}
