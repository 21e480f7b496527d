//! A backend's base URL as the tools take it (`--target http://host:port`, `ws://host:port`),
//! parsed and resolved in one place for loadgen and conformance. No protocol knowledge beyond
//! the fixed room path, so the conformance suite stays independent of the server's code. Also
//! the UUID room names both tools use for backends that route `<uuid:room>` ([`uuid_v4`]).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// A backend: where connections go and the Host header they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` (port 80 added when none is given), for the Host header and messages.
    pub authority: String,
    /// The resolved address connections go to.
    pub addr: SocketAddr,
    /// What the user gave, for reports.
    pub label: String,
}

/// Why a base URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("{0:?}: write http://host:port or ws://host:port")]
    Scheme(String),
    #[error("{0:?}: TLS (https://, wss://) is not supported yet; use the plain port")]
    Tls(String),
    #[error("{0:?}: no path please (the protocol's paths are fixed), just http://host:port")]
    Path(String),
    #[error("{0:?}: cannot resolve the host: {1}")]
    Resolve(String, String),
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let rest = if let Some(r) = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("ws://"))
        {
            r
        } else if s.starts_with("https://") || s.starts_with("wss://") {
            return Err(EndpointError::Tls(s.into()));
        } else {
            return Err(EndpointError::Scheme(s.into()));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') || authority.is_empty() {
            return Err(EndpointError::Path(s.into()));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| EndpointError::Resolve(s.into(), e.to_string()))?
            .next()
            .ok_or_else(|| EndpointError::Resolve(s.into(), "no address".into()))?;
        Ok(Self {
            authority: with_port,
            addr,
            label: s.into(),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority)
    }
}

impl Endpoint {
    /// Parses a base URL (see [`FromStr`]).
    pub fn parse(s: &str) -> Result<Self, EndpointError> {
        s.parse()
    }

    /// A server listening at `addr` (an embedded one).
    pub fn from_addr(addr: SocketAddr) -> Self {
        Self {
            authority: addr.to_string(),
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
        format!("ws://{}{path}", self.authority)
    }

    /// `ws://host:port[/ws/chat]`: where the WebSockets are, when not at this endpoint.
    pub fn with_ws_url(&self, ws_url: &str) -> Result<Self, EndpointError> {
        let base = ws_url.trim_end_matches('/');
        let base = base.strip_suffix("/ws/chat").unwrap_or(base);
        let mut ws = Self::parse(base)?;
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
        assert!(matches!(
            Endpoint::parse("https://x:1"),
            Err(EndpointError::Tls(_))
        ));
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
            .with_ws_url("ws://127.0.0.1:9000/ws/chat/")
            .expect("valid");
        assert_eq!(ws.addr.port(), 9000);
        assert!(ws.label.contains("WebSockets at"));
    }
}
