//! The opening handshake, either tungstenite's or, with `Style::odd_handshake`, one written
//! by hand that is valid but unusual in every way a 101 may be.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::style::Style;

/// Joins the member of the room `path` names (before any 101 is written, as Django joins
/// the group before it accepts), or says no.
pub(crate) type Admit<'a> = &'a mut (dyn FnMut(&str) -> bool + Send);

/// Runs the handshake; `None` when the path was refused or the client went away.
pub(crate) async fn accept(
    stream: TcpStream,
    style: &Style,
    admit: Admit<'_>,
) -> Option<WebSocketStream<TcpStream>> {
    if style.odd_handshake {
        return odd(stream, style, admit).await;
    }
    // The callback's error type is tungstenite's (large, and fine for a test fixture).
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| {
        if !admit(req.uri().path()) {
            let mut refusal = ErrorResponse::new(Some("no such room\n".into()));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            return Err(refusal);
        }
        let offered = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        if let Some(p) = style.subprotocol(offered) {
            let value = HeaderValue::from_str(p).expect("a header value it was sent in");
            resp.headers_mut().insert("sec-websocket-protocol", value);
        }
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .ok()
}

/// The request head, the bytes after it, or `None` past 16 KiB or at the end of the stream.
pub(crate) async fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8(buf).ok()?, rest));
        }
        if buf.len() > 16 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn odd(
    mut stream: TcpStream,
    style: &Style,
    admit: Admit<'_>,
) -> Option<WebSocketStream<TcpStream>> {
    let (head, rest) = read_head(&mut stream).await?;
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?;
    let path = target.split('?').next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let key = header("sec-websocket-key")?;
    if !admit(&path) {
        let refusal = "HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nno such room\n";
        let _ = stream.write_all(refusal.as_bytes()).await;
        return None;
    }
    let protocol = style
        .subprotocol(header("sec-websocket-protocol"))
        .map(|p| format!("sec-WEBSOCKET-protocol:{p}\r\n"))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nX-Served-By: fault-server\r\n\
         SEC-WEBSOCKET-ACCEPT:   {}\r\nCache-Control: no-store\r\ncOnNeCtIoN: keep-alive, UPGRADE\r\n\
         {protocol}upgrade: WebSocket\r\nVia: 1.1 fault-server\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await.ok()?;
    Some(WebSocketStream::from_partially_read(stream, rest, Role::Server, None).await)
}
