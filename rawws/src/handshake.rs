//! The opening handshake (RFC 6455 4.1): the request sent verbatim, the 101 checked as a
//! client must, permessage-deflate taken up when it was offered and agreed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::http::read_head;
use crate::{
    Assembler, DEFAULT_MAX_MESSAGE, Handshake, HttpResponse, MAX_BODY, Result, Stream, WireError,
    Ws, clip, deflate, parse_head, trace,
};

/// The values a request's `extra` header lines give `name` (comma-separated lists joined).
pub fn offered<'a>(extra: &'a str, name: &str) -> Vec<&'a str> {
    extra
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// RFC 6455 4.1: a client fails the connection when the 101 lacks `Upgrade: websocket` or
/// the `upgrade` token in `Connection` (both case-insensitive), or selects a subprotocol it
/// did not offer, or an extension it did not ask for.
fn check_101(response: &HttpResponse, extra: &str) -> Result<()> {
    let upgrade = response.header("upgrade").unwrap_or("");
    if !upgrade.trim().eq_ignore_ascii_case("websocket") {
        return Err(WireError::Malformed(format!(
            "101 with Upgrade {upgrade:?} instead of websocket"
        )));
    }
    let connection = response.header("connection").unwrap_or("");
    if !connection
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    {
        return Err(WireError::Malformed(format!(
            "101 with Connection {connection:?}, without the upgrade token"
        )));
    }
    if let Some(selected) = response.header("sec-websocket-protocol") {
        let offers = offered(extra, "sec-websocket-protocol");
        if !offers.contains(&selected.trim()) {
            return Err(WireError::Malformed(format!(
                "the 101 selected the subprotocol {selected:?}, which the client did not offer \
                 (offered: {offers:?})"
            )));
        }
    }
    if let Some(extensions) = response.header("sec-websocket-extensions") {
        let asked: Vec<&str> = offered(extra, "sec-websocket-extensions")
            .into_iter()
            .filter_map(|e| e.split(';').next().map(str::trim))
            .collect();
        for name in extensions.split(',').filter_map(|e| e.split(';').next()) {
            if !asked.contains(&name.trim()) {
                return Err(WireError::Malformed(format!(
                    "the 101 negotiated the extension {:?}, which the client did not ask for",
                    name.trim()
                )));
            }
        }
    }
    Ok(())
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

impl Ws {
    /// Sends a handshake for `target` with extra header lines (each ending in `\r\n`).
    pub async fn handshake(
        addr: SocketAddr,
        host: &str,
        target: &str,
        extra: &str,
        wait: Duration,
    ) -> Result<Handshake> {
        let stream = timeout(wait, TcpStream::connect(addr))
            .await
            .map_err(|_| WireError::Timeout(wait, "the TCP connection"))?
            .map_err(|e| WireError::Connect(addr, e))?;
        let _ = stream.set_nodelay(true);
        Self::handshake_on(stream, host, target, extra, wait).await
    }
}

impl<S: Stream> Ws<S> {
    /// The same on a stream the caller connected (with its own socket options, or TLS).
    pub async fn handshake_on(
        stream: S,
        host: &str,
        target: &str,
        extra: &str,
        wait: Duration,
    ) -> Result<Handshake<S>> {
        Self::handshake_traced(stream, (host, target), extra, wait, None).await
    }

    /// [`Self::handshake_on`], its heads and then its frames logged in `trace` as a
    /// connection of their own (frames written through [`Self::stream_mut`] are not).
    pub async fn handshake_traced(
        mut stream: S,
        (host, target): (&str, &str),
        extra: &str,
        wait: Duration,
        trace: Option<&trace::Trace>,
    ) -> Result<Handshake<S>> {
        let recorder = trace.map(|t| t.connection(&format!("{host} {target}")));
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        if let Some(r) = &recorder {
            r.head(true, &request);
        }
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        let (head, rest) = match read_head(&mut stream, wait).await {
            Ok(read) => read,
            Err(e) => {
                if let Some(r) = &recorder {
                    r.note(&format!("no response head: {e}"));
                }
                return Err(e);
            }
        };
        if let Some(r) = &recorder {
            r.head(false, &head);
        }
        let mut response = parse_head(&head)?;
        if response.status != 101 {
            // Read what body there is, briefly, for the evidence.
            let len: usize = response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
                .min(MAX_BODY);
            let mut body = rest;
            while body.len() < len {
                let mut chunk = [0u8; 2048];
                match timeout(wait, stream.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            if let Some(r) = &recorder {
                r.note(&format!("body: {}", clip(&String::from_utf8_lossy(&body))));
            }
            response.body = body;
            return Ok(Handshake::Refused(response));
        }
        if response.header("sec-websocket-accept") != Some(ACCEPT) {
            return Err(WireError::Malformed(format!(
                "101 with Sec-WebSocket-Accept {:?}",
                response.header("sec-websocket-accept")
            )));
        }
        check_101(&response, extra)?;
        let mut assembler = Assembler::new(DEFAULT_MAX_MESSAGE);
        let mut agreed = None;
        let mut deflater = None;
        if let Some(answer) = response.header("sec-websocket-extensions")
            && deflate::offered(extra)
        {
            let params = deflate::negotiated(answer).map_err(WireError::Malformed)?;
            assembler = assembler.with_inflater(deflate::Inflater::new(&params));
            deflater = deflate::Deflater::new(&params).map(Box::new);
            agreed = Some(params);
        }
        Ok(Handshake::Accepted(Self {
            stream,
            buf: rest,
            assembler,
            closing: false,
            response,
            deflate: agreed,
            deflater,
            recorder,
        }))
    }
}
