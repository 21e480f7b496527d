//! HTTP/1.1 (RFC 9112) as far as a WebSocket client needs it: a request sent verbatim, a
//! response head parsed, a body read to its Content-Length or to EOF.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Stream;
use tokio::time::timeout;

use crate::{Result, WireError, clip};

/// A parsed HTTP response head (and body, when it has a Content-Length).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) async fn read_head<S: Stream>(
    stream: &mut S,
    wait: Duration,
) -> Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        let mut chunk = [0u8; 2048];
        let n = timeout(wait, stream.read(&mut chunk))
            .await
            .map_err(|_| WireError::Timeout(wait, "the response head"))??;
        if n == 0 {
            return Err(WireError::Closed("before a response"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub(crate) fn parse_head(head: &str) -> Result<HttpResponse> {
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| WireError::Malformed(clip(head)))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: Vec::new(),
    })
}

/// Sends a GET and reads the response (the body up to its Content-Length, or to EOF).
pub async fn http_get(
    addr: SocketAddr,
    host: &str,
    target: &str,
    wait: Duration,
) -> Result<HttpResponse> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    http_raw(addr, &request, wait).await
}

/// Sends `request` verbatim and reads the response (the body up to its Content-Length, or to
/// EOF).
pub async fn http_raw(addr: SocketAddr, request: &str, wait: Duration) -> Result<HttpResponse> {
    let mut stream = timeout(wait, TcpStream::connect(addr))
        .await
        .map_err(|_| WireError::Timeout(wait, "the TCP connection"))?
        .map_err(|e| WireError::Connect(addr, e))?;
    http_raw_on(&mut stream, request, wait).await
}

/// The same on a stream the caller connected (TLS, for one).
pub async fn http_raw_on<S: Stream>(
    stream: &mut S,
    request: &str,
    wait: Duration,
) -> Result<HttpResponse> {
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let (head, rest) = read_head(stream, wait).await?;
    let mut response = parse_head(&head)?;
    let mut body = rest;
    let len: Option<usize> = response
        .header("content-length")
        .and_then(|v| v.parse().ok());
    loop {
        if len.is_some_and(|l| body.len() >= l) {
            break;
        }
        let mut chunk = [0u8; 8192];
        let n = match timeout(wait, stream.read(&mut chunk))
            .await
            .map_err(|_| WireError::Timeout(wait, "the response body"))?
        {
            Ok(n) => n,
            // A TLS peer that closes without close_notify: the body ends there all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    response.body = body;
    Ok(response)
}
