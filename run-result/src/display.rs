//! How the tools write figures for people: one way, so a table from loadgen and one from
//! reports read alike.

/// Microseconds as milliseconds with two decimals: `1.25 ms`.
pub fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// Why a latency histogram of a run has no samples: its figures are shown as "-" with this,
/// never as 0. `room_wide`: a per-message figure (first member, whole room).
pub fn no_samples(
    config: &crate::result::Config,
    s: &crate::Summary,
    room_wide: bool,
) -> &'static str {
    if room_wide && (config.churn_session_s.is_some() || config.reconnect_s.is_some()) {
        "not measured when members come and go (--churn, --reconnect)"
    } else if s.delivered == 0 {
        "nothing was delivered"
    } else if room_wide {
        "no message reached every member"
    } else {
        "nothing measured"
    }
}

/// `us` in ms (see [`ms`]), or "-" when the histogram behind it has no samples.
pub fn ms_of(count: u64, us: u64) -> String {
    if count == 0 { "-".into() } else { ms(us) }
}

/// A count with thousands separated: `1,250,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate (per second), rounded, with thousands separated.
pub fn per_s(v: f64) -> String {
    thousands(v.max(0.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(thousands(1_250_000), "1,250,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(per_s(59_459.6), "59,460");
        assert_eq!(ms(1250), "1.25 ms");
    }
}
