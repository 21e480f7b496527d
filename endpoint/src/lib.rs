//! A backend's base URL as the tools take it (`--target http://host:port`, `https://`, `ws://`,
//! `wss://`), parsed and resolved in one place for loadgen and conformance, with curl's
//! `--resolve` overrides; and the TLS client both tools connect with ([`tls`]). No protocol
//! knowledge beyond the fixed room path, so the conformance suite stays independent of the
//! server's code. Also the UUID room names both tools use for backends that route
//! `<uuid:room>` ([`uuid_v4`]). With the `ws` feature, the one way loadgen and journey open a
//! WebSocket ([`connect`]) over a counted socket that inflates permessage-deflate ([`wire`])
//! and, for a slow reader, reads at a set pace ([`throttle`]).
//! With the `metrics` feature, a server's Prometheus endpoint read ([`metrics`]).

mod args;
#[cfg(feature = "ws")]
pub mod connect;
#[cfg(feature = "metrics")]
pub mod metrics;
mod resolve;
#[cfg(feature = "ws")]
pub mod throttle;
pub mod tls;
#[cfg(feature = "ws")]
pub mod wire;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

pub use args::TlsArgs;
pub use resolve::{Resolve, ResolveError};

/// A backend: where connections go, the Host header they carry and whether they speak TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` (port 80, or 443 with TLS, added when none is given), for the Host header
    /// and messages.
    pub authority: String,
    /// The host name alone (no port, no brackets): the TLS server name (SNI, certificate).
    pub host: String,
    /// `https://` or `wss://`.
    pub tls: bool,
    /// The resolved address connections go to.
    pub addr: SocketAddr,
    /// What the user gave, for reports.
    pub label: String,
}

/// Why a base URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("{0:?}: write http://host:port, https://host:port, ws://host:port or wss://host:port")]
    Scheme(String),
    #[error("{0:?}: no path please (the protocol's paths are fixed), just http://host:port")]
    Path(String),
    #[error("{0:?}: cannot resolve the host: {1}")]
    Resolve(String, String),
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_with(s, &[])
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.authority)
    }
}

impl Endpoint {
    /// Parses a base URL (see [`FromStr`]).
    pub fn parse(s: &str) -> Result<Self, EndpointError> {
        s.parse()
    }

    /// Parses a base URL; a host and port that one of `overrides` names goes to that rule's
    /// address instead of what the resolver says (the Host header and TLS name stay the
    /// URL's), as curl's `--resolve`.
    pub fn parse_with(s: &str, overrides: &[Resolve]) -> Result<Self, EndpointError> {
        let s = s.trim();
        let (rest, tls) = if let Some(r) = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("ws://"))
        {
            (r, false)
        } else if let Some(r) = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("wss://"))
        {
            (r, true)
        } else {
            return Err(EndpointError::Scheme(s.into()));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') || authority.is_empty() {
            return Err(EndpointError::Path(s.into()));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().is_ok() => {
                (h.to_owned(), p.parse::<u16>().unwrap_or_default())
            }
            _ => (authority.to_owned(), if tls { 443 } else { 80 }),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addr = match overrides.iter().find(|r| r.matches(&host, port)) {
            Some(rule) => SocketAddr::new(rule.addr, port),
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| EndpointError::Resolve(s.into(), e.to_string()))?
                .next()
                .ok_or_else(|| EndpointError::Resolve(s.into(), "no address".into()))?,
        };
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            authority,
            host,
            tls,
            addr,
            label: s.into(),
        })
    }

    /// A server listening at `addr` (an embedded one).
    pub fn from_addr(addr: SocketAddr) -> Self {
        Self {
            authority: addr.to_string(),
            host: addr.ip().to_string(),
            tls: false,
            addr,
            label: format!("http://{addr}"),
        }
    }

    /// The WebSocket URL of `room` on this backend.
    pub fn room_url(&self, room: &str) -> String {
        self.ws_url(&format!("/ws/chat/{room}/"))
    }

    /// The WebSocket URL of `path` (with its query) on this backend.
    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.authority)
    }

    /// `ws://host:port[/ws/chat]`: where the WebSockets are, when not at this endpoint.
    pub fn with_ws_url(&self, ws_url: &str, overrides: &[Resolve]) -> Result<Self, EndpointError> {
        let base = ws_url.trim_end_matches('/');
        let base = base.strip_suffix("/ws/chat").unwrap_or(base);
        let mut ws = Self::parse_with(base, overrides)?;
        ws.label = format!("{} (WebSockets at {ws_url})", self.label);
        Ok(ws)
    }
}

/// A version-4 UUID (RFC 4122 variant) from 16 random bytes, as a room name for backends that
/// route `<uuid:room>`: `8-4-4-4-12` lowercase hex.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn base_urls() {
        let t = Endpoint::parse("http://127.0.0.1:8000").expect("valid");
        assert_eq!(t.room_url("r"), "ws://127.0.0.1:8000/ws/chat/r/");
        assert_eq!(t.label, "http://127.0.0.1:8000");
        let t = Endpoint::parse("ws://127.0.0.1:9/").expect("valid");
        assert_eq!(t.addr.port(), 9);
        let t = Endpoint::parse("http://localhost").expect("valid");
        assert_eq!(t.authority, "localhost:80");
        assert!(!t.tls);
        let t = Endpoint::parse("https://localhost").expect("valid");
        assert_eq!(
            (t.authority.as_str(), t.host.as_str()),
            ("localhost:443", "localhost")
        );
        assert_eq!(t.room_url("r"), "wss://localhost:443/ws/chat/r/");
        assert_eq!(t.to_string(), "https://localhost:443");
        let t = Endpoint::parse("wss://[::1]:8443").expect("valid");
        assert_eq!(
            (t.authority.as_str(), t.host.as_str()),
            ("[::1]:8443", "::1")
        );
        assert!(t.tls && t.addr.is_ipv6());
        assert!(matches!(
            Endpoint::parse("127.0.0.1:1"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            Endpoint::parse("http://127.0.0.1:1/ws/chat/"),
            Err(EndpointError::Path(_))
        ));
    }

    #[test]
    fn websockets_elsewhere() {
        let t = Endpoint::parse("http://127.0.0.1:8000").expect("valid");
        let ws = t
            .with_ws_url("ws://127.0.0.1:9000/ws/chat/", &[])
            .expect("valid");
        assert_eq!(ws.addr.port(), 9000);
        assert!(ws.label.contains("WebSockets at"));
    }

    #[test]
    fn resolve_overrides_send_a_name_elsewhere() {
        let rules: Vec<Resolve> = ["chat.invalid:8443:127.0.0.7", "other.invalid:127.0.0.9"]
            .iter()
            .map(|r| r.parse().expect("valid rule"))
            .collect();
        let t = Endpoint::parse_with("https://chat.invalid:8443", &rules).expect("overridden");
        assert_eq!(t.addr, "127.0.0.7:8443".parse().expect("addr"));
        assert_eq!(t.host, "chat.invalid");
        // A rule for another port does not apply: the name must then resolve, and cannot.
        assert!(matches!(
            Endpoint::parse_with("https://chat.invalid:9443", &rules),
            Err(EndpointError::Resolve(..))
        ));
        // A rule without a port applies to any.
        let t = Endpoint::parse_with("http://other.invalid:81", &rules).expect("overridden");
        assert_eq!(t.addr, "127.0.0.9:81".parse().expect("addr"));
    }
}
