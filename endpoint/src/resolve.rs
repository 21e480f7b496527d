//! `--resolve HOST:PORT:ADDR` (curl's syntax) or `HOST:ADDR` (any port): connect to ADDR when
//! a URL names HOST, keeping HOST for the Host header, SNI and the certificate check, to hit
//! one node behind a name or a name that DNS does not know yet.

use std::net::IpAddr;
use std::str::FromStr;

/// One override rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    /// `None`: every port.
    pub port: Option<u16>,
    pub addr: IpAddr,
}

#[derive(Debug, thiserror::Error)]
#[error("--resolve {0:?}: write HOST:PORT:ADDR (as curl) or HOST:ADDR, ADDR an IP address")]
pub struct ResolveError(String);

impl Resolve {
    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.port.is_none_or(|p| p == port)
    }
}

impl FromStr for Resolve {
    type Err = ResolveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ResolveError(s.into());
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        let ip = |a: &str| {
            a.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| bad())
        };
        let (port, addr) = match ip(rest) {
            Ok(addr) => (None, addr),
            Err(_) => {
                let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
                (Some(port.parse::<u16>().map_err(|_| bad())?), ip(addr)?)
            }
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let r: Resolve = "a.example:443:127.0.0.2".parse().expect("valid");
        assert_eq!(
            (r.port, r.addr.to_string().as_str()),
            (Some(443), "127.0.0.2")
        );
        assert!(r.matches("A.example", 443) && !r.matches("a.example", 80));
        let r: Resolve = "a.example:[::1]".parse().expect("valid");
        assert!(r.port.is_none() && r.addr.is_ipv6() && r.matches("a.example", 1));
        let r: Resolve = "a.example:8443:::1".parse().expect("valid");
        assert_eq!(r.port, Some(8443));
        for bad in [
            "a.example",
            ":1.2.3.4",
            "a.example:x:1.2.3.4",
            "a.example:443:b.example",
        ] {
            assert!(bad.parse::<Resolve>().is_err(), "{bad}");
        }
    }
}
