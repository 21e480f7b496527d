//! Bytes on the wire: what loadgen's sockets read and wrote during the measured window (the
//! WebSocket stream as it crossed them, inside TLS, compressed when permessage-deflate was
//! agreed), per delivery and per second, and what inflating the server's compressed messages
//! gave. A bandwidth bill is made of the first figures.

use serde::{Deserialize, Serialize};

/// The sockets' bytes in the measured window (from its start to the end of the settle time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireLoad {
    /// Whether every handshake offered permessage-deflate (`--deflate`).
    pub deflate_offered: bool,
    /// Connections on which the server agreed to it (over the whole run).
    pub deflate_agreed: u64,
    pub read_bytes: u64,
    pub written_bytes: u64,
    /// `read_bytes` over the deliveries measured.
    pub read_per_delivery: f64,
    /// `read_bytes` over the window's seconds.
    pub read_per_s: f64,
    /// Compressed messages inflated in the window, their bytes as they came and inflated.
    pub inflated_messages: u64,
    pub inflated_from_bytes: u64,
    pub inflated_to_bytes: u64,
}

impl WireLoad {
    /// From counter snapshots at the window's start and end (read, written, inflated
    /// messages, their bytes from and to, connections agreed), the deliveries measured and
    /// the window's length.
    pub fn between(
        start: [u64; 6],
        end: [u64; 6],
        deflate_offered: bool,
        delivered: u64,
        window_s: f64,
    ) -> Self {
        let d = |i: usize| end[i].saturating_sub(start[i]);
        let per = |n: u64, over: f64| if over > 0.0 { n as f64 / over } else { 0.0 };
        Self {
            deflate_offered,
            deflate_agreed: end[5],
            read_bytes: d(0),
            written_bytes: d(1),
            read_per_delivery: per(d(0), delivered as f64),
            read_per_s: per(d(0), window_s),
            inflated_messages: d(2),
            inflated_from_bytes: d(3),
            inflated_to_bytes: d(4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_differences_over_the_window() {
        let w = WireLoad::between(
            [10, 5, 0, 0, 0, 2],
            [1010, 105, 4, 40, 400, 2],
            true,
            10,
            2.0,
        );
        assert_eq!(
            (w.read_bytes, w.written_bytes, w.deflate_agreed),
            (1000, 100, 2)
        );
        assert_eq!((w.read_per_delivery, w.read_per_s), (100.0, 500.0));
        assert_eq!((w.inflated_from_bytes, w.inflated_to_bytes), (40, 400));
        assert_eq!(
            WireLoad::between([0; 6], [0; 6], false, 0, 0.0).read_per_delivery,
            0.0
        );
    }
}
