//! Where connections go (`--target`) and where they come from (`--source-ip`).

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// Ephemeral ports one source address can use toward one destination here (32768-60999),
/// less a margin for everything else on the machine.
pub const PORTS_PER_SOURCE: u64 = 25_000;

/// A backend (`--target`): parsed by the `endpoint` crate, which conformance shares.
pub use endpoint::{Endpoint as Target, EndpointError as TargetError};

/// Source addresses for outgoing connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIps(pub Vec<IpAddr>);

#[derive(Debug, thiserror::Error)]
pub enum SourceIpError {
    #[error("{0:?}: write an address (127.0.0.2) or a range (127.0.0.1-127.0.0.8)")]
    Syntax(String),
    #[error("{0:?}: the range runs backwards")]
    Backwards(String),
    #[error("{0:?}: only loopback addresses (127.x.x.x) may be load-test sources")]
    NotLoopback(String),
}

impl FromStr for SourceIps {
    type Err = SourceIpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |p: &str| -> Result<Ipv4Addr, SourceIpError> {
            let ip: Ipv4Addr = p
                .trim()
                .parse()
                .map_err(|_| SourceIpError::Syntax(s.into()))?;
            if !ip.is_loopback() {
                return Err(SourceIpError::NotLoopback(s.into()));
            }
            Ok(ip)
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let ip = parse(s)?;
                (ip, ip)
            }
        };
        let (lo, hi) = (u32::from(first), u32::from(last));
        if hi < lo {
            return Err(SourceIpError::Backwards(s.into()));
        }
        Ok(Self(
            (lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))).collect(),
        ))
    }
}

impl SourceIps {
    /// Enough 127.0.0.x addresses for `connections` per target.
    pub fn automatic(connections_per_target: u64) -> Self {
        let needed = connections_per_target.div_ceil(PORTS_PER_SOURCE).max(1);
        Self(
            (1..=needed.min(254))
                .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, n as u8)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t: Target = "http://127.0.0.1:8000".parse().expect("valid");
        assert_eq!(t.room_url("r"), "ws://127.0.0.1:8000/ws/chat/r/");
        let t: Target = "ws://127.0.0.1:9/".parse().expect("valid");
        assert_eq!(t.addr.port(), 9);
        assert!("https://127.0.0.1:1".parse::<Target>().expect("valid").tls);
        assert!(matches!(
            "127.0.0.1:1".parse::<Target>(),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            "http://127.0.0.1:1/ws/chat/".parse::<Target>(),
            Err(TargetError::Path(_))
        ));
    }

    #[test]
    fn source_ranges() {
        let r: SourceIps = "127.0.0.1-127.0.0.3".parse().expect("valid");
        assert_eq!(r.0.len(), 3);
        assert!("127.0.0.3-127.0.0.1".parse::<SourceIps>().is_err());
        assert!("10.0.0.1".parse::<SourceIps>().is_err());
        assert_eq!(SourceIps::automatic(60_000).0.len(), 3);
    }
}
