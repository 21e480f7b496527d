//! Which backend the suite grades: `CHAT_TARGET` or `--target`, or the reference server
//! started in-process.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context as _, bail};

/// A backend's address and the Host header to send it.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    /// What the user gave, for reports.
    pub label: String,
}

impl Target {
    /// Parses `http://host:port`, `ws://host:port` (a trailing `/` is fine).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .with_context(|| {
                if url.starts_with("https://") || url.starts_with("wss://") {
                    format!("{url:?}: TLS is not supported yet; use the plain port")
                } else {
                    format!("{url:?}: write http://host:port or ws://host:port")
                }
            })?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            bail!("{url:?}: give the base URL only, like http://127.0.0.1:8000");
        }
        let with_port = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("{url:?}: cannot resolve"))?
            .next()
            .with_context(|| format!("{url:?}: no address"))?;
        Ok(Self {
            addr,
            host: with_port,
            label: url.to_owned(),
        })
    }

    /// `--ws-url ws://host:port[/...]`: where the WebSockets go, when not the HTTP target.
    pub fn with_ws_url(&self, ws_url: &str) -> anyhow::Result<Self> {
        let base = ws_url.trim_end_matches('/');
        let base = base.strip_suffix("/ws/chat").unwrap_or(base);
        let mut t = Self::parse(base)?;
        t.label = format!("{} (WebSockets at {ws_url})", self.label);
        Ok(t)
    }
}
