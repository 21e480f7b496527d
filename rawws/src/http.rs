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

/// The longest response head read: a server that sends more without ending its head is
/// refused rather than buffered (hyper's default is of the same order).
pub const MAX_HEAD: usize = 64 << 10;

/// The longest response body read, whether announced by Content-Length or read to EOF.
pub const MAX_BODY: usize = 16 << 20;

pub(crate) async fn read_head<S: Stream>(
    stream: &mut S,
    wait: Duration,
) -> Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = head_end(&buf)? {
            let rest = buf.split_off(end);
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

/// Where the head at the start of `buf` ends (just past its empty line), `None` while it has
/// not ended, or an error once it is longer than [`MAX_HEAD`].
pub fn head_end(buf: &[u8]) -> Result<Option<usize>> {
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) if at + 4 <= MAX_HEAD => Ok(Some(at + 4)),
        None if buf.len() < MAX_HEAD => Ok(None),
        _ => Err(WireError::Malformed(format!(
            "a response head over {MAX_HEAD} bytes"
        ))),
    }
}

/// Parses a response head (RFC 9112 section 4: `HTTP/1.x NNN reason`, then header lines).
/// Header lines without a colon are skipped; names and values are trimmed.
pub fn parse_head(head: &str) -> Result<HttpResponse> {
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .filter(|code| {
            // RFC 9110 section 15: three digits, the first 1-9 (600-999 are used in the wild).
            code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) && !code.starts_with('0')
        })
        .and_then(|code| code.parse().ok())
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

/// Refuses a body that has grown past [`MAX_BODY`].
pub(crate) fn check_body(body: &[u8]) -> Result<()> {
    if body.len() > MAX_BODY {
        return Err(WireError::Malformed(format!(
            "a response body over {MAX_BODY} bytes"
        )));
    }
    Ok(())
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
        check_body(&body)?;
    }
    if let Some(len) = len {
        body.truncate(len);
    }
    response.body = body;
    Ok(response)
}
