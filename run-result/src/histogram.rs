//! Latency histograms: microseconds, 3 significant digits, and their encoding in a result.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

/// The largest latency a histogram holds (10 minutes); larger values are recorded as this.
pub const MAX_LATENCY_US: u64 = 600_000_000;

/// An empty histogram with the bounds every result uses (so any two add exactly).
pub fn new() -> Histogram<u64> {
    // 3 significant digits: 0.1 % resolution at every scale.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
}

/// Records `us`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// The HdrHistogram V2 compressed encoding, base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serialising into a Vec only fails on values the histogram cannot hold.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why an encoded histogram could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an HdrHistogram V2 histogram: {0}")]
    Histogram(String),
}

/// Reads what [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| DecodeError::Histogram(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let mut h = new();
        for us in [1, 250, 1_000, 12_345, MAX_LATENCY_US * 2] {
            record(&mut h, us);
        }
        let back = decode(&encode(&h)).expect("decodes");
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert!(decode("not base64!").is_err());
    }
}
