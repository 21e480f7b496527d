//! The HTTP reader's bounds and its status-line rule: a server that never ends its head, or
//! streams a body without end, is refused at a written bound instead of buffered.

use std::time::Duration;

use rawws::{Handshake, MAX_BODY, MAX_HEAD, WireError, Ws, head_end, http_raw_on, parse_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A peer that reads the request's head, then writes `prefix` and `filler` until the client
/// goes away (at most `limit` bytes of filler).
fn peer(prefix: &'static [u8], filler: u8, limit: usize) -> DuplexStream {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if server.read_exact(&mut b).await.is_err() {
                return;
            }
            head.push(b[0]);
        }
        if server.write_all(prefix).await.is_err() {
            return;
        }
        let chunk = vec![filler; 8192];
        let mut sent = 0;
        while sent < limit {
            if server.write_all(&chunk).await.is_err() {
                return;
            }
            sent += chunk.len();
        }
    });
    client
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_head_that_never_ends_is_refused_at_the_bound() {
    let mut stream = peer(b"HTTP/1.1 200 OK\r\nX: ", b'a', 4 * MAX_HEAD);
    let err = http_raw_on(&mut stream, "GET / HTTP/1.1\r\n\r\n", WAIT)
        .await
        .expect_err("an endless head");
    assert!(
        matches!(&err, WireError::Malformed(m) if m.contains("head over")),
        "{err}"
    );

    let stream = peer(
        b"HTTP/1.1 101 Switching Protocols\r\nX: ",
        b'a',
        4 * MAX_HEAD,
    );
    let Err(err) = Ws::handshake_on(stream, "h", "/ws/chat/r/", "", WAIT).await else {
        panic!("an endless head was taken for a response");
    };
    assert!(
        matches!(&err, WireError::Malformed(m) if m.contains("head over")),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_without_end_is_refused_at_the_bound() {
    let mut stream = peer(b"HTTP/1.1 200 OK\r\n\r\n", b'b', 2 * MAX_BODY);
    let err = http_raw_on(&mut stream, "GET / HTTP/1.1\r\n\r\n", WAIT)
        .await
        .expect_err("an endless body");
    assert!(
        matches!(&err, WireError::Malformed(m) if m.contains("body over")),
        "{err}"
    );
}

#[tokio::test]
async fn a_refusal_announcing_a_huge_body_is_read_only_to_the_bound() {
    let stream = peer(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999999\r\n\r\n",
        b'c',
        2 * MAX_BODY,
    );
    match Ws::handshake_on(stream, "h", "/ws/chat/r/", "", WAIT).await {
        Ok(Handshake::Refused(r)) => {
            assert_eq!(r.status, 403);
            assert!(r.body.len() <= MAX_BODY + 2048, "{} bytes", r.body.len());
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

#[test]
fn a_head_ends_at_its_empty_line_within_the_bound() {
    // The pure parts: where a head ends, and what a status line must be.
    assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody").unwrap(), Some(19));
    assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n").unwrap(), None);
    assert!(head_end(&vec![b'x'; MAX_HEAD]).is_err());
}

#[test]
fn the_status_line_is_http_1_and_three_digits() {
    for good in [
        "HTTP/1.1 101 Switching Protocols",
        "HTTP/1.0 404",
        "HTTP/1.1 200 ",
    ] {
        assert!(parse_head(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "HTTP/1.1",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 +20 OK",
        "HTTP/1.1 000 OK",
        "HTTP/1.1 099 OK",
        "HTTP/2 200 OK",
        "SIP/2.0 200 OK",
        "ICY 200 OK",
    ] {
        assert!(parse_head(bad).is_err(), "{bad:?}");
    }
}
