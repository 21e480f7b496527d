//! permessage-deflate (RFC 7692) on the client's side: the offer a browser makes, the
//! server's answer checked against it, messages inflated (bounded: a message that would
//! inflate past the reader's bound is refused, not expanded) and deflated.
//!
//! The inflater's window is the one the server agreed to (`server_max_window_bits`, 9 at
//! least: zlib has no 8-bit raw window), so a server that reaches back into its earlier
//! messages further than it agreed fails the message. A reference within one message is not
//! held to the window: zlib checks a distance only against what it has output, and a whole
//! message is inflated in one go. With `server_no_context_takeover` the inflater is reset
//! before each message, so a server that keeps its context anyway fails.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The offer Chromium sends with every WebSocket handshake.
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The empty stored block a sync flush ends with, taken off each compressed message and put
/// back before inflating it (RFC 7692 7.2.1-7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What the server agreed to, from its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl Params {
    /// The same agreement seen from the other end: what one side's compressor keeps to is
    /// what the other side's inflater expects. A server deflates and inflates with the
    /// mirror of what it answered.
    pub fn mirrored(&self) -> Self {
        Self {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits,
            client_max_window_bits: self.server_max_window_bits,
        }
    }

    /// The answer as a header value would say it, for evidence.
    pub fn describe(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        out
    }
}

/// Whether `extra` (request header lines) offers permessage-deflate.
pub fn offered(extra: &str) -> bool {
    crate::offered(extra, "sec-websocket-extensions")
        .iter()
        .any(|e| {
            e.split(';')
                .next()
                .is_some_and(|n| n.trim() == "permessage-deflate")
        })
}

/// The server's `Sec-WebSocket-Extensions` answer to [`OFFER`], checked as RFC 7692 7.1
/// says a client must: one permessage-deflate element, each parameter known, given at most
/// once, with a value only where one is allowed (a window size of 8 to 15, bare or quoted).
/// A `client_max_window_bits` without a value is taken as 15.
pub fn negotiated(answer: &str) -> Result<Params, String> {
    let elements: Vec<&str> = answer.split(',').map(str::trim).collect();
    if elements.len() != 1 {
        return Err(format!(
            "the 101 answered the permessage-deflate offer with {} extension elements ({answer:?}); one was offered",
            elements.len()
        ));
    }
    let mut parts = elements[0].split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return Err(format!("the 101 negotiated {answer:?}"));
    }
    let mut params = Params {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let mut seen = Vec::new();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (part, None),
        };
        if seen.contains(&name) {
            return Err(format!("the 101 gives {name} twice ({answer:?})"));
        }
        seen.push(name);
        let bits = |v: Option<&str>| -> Result<u8, String> {
            match v.map(str::parse::<u8>) {
                Some(Ok(b @ 8..=15)) => Ok(b),
                _ => Err(format!(
                    "the 101 gives {name} the value {v:?}; a window size is 8 to 15 ({answer:?})"
                )),
            }
        };
        match (name, value) {
            ("server_no_context_takeover", None) => params.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => params.client_no_context_takeover = true,
            ("server_max_window_bits", v) => params.server_max_window_bits = bits(v)?,
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", v) => params.client_max_window_bits = bits(v)?,
            ("server_no_context_takeover" | "client_no_context_takeover", Some(v)) => {
                return Err(format!(
                    "the 101 gives {name} a value ({v:?}); it takes none ({answer:?})"
                ));
            }
            _ => {
                return Err(format!(
                    "the 101 answers permessage-deflate with the unknown parameter {name:?} ({answer:?})"
                ));
            }
        }
    }
    Ok(params)
}

/// Why a compressed message was not inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// It would inflate past the reader's bound: refused, not expanded.
    #[error("{0}")]
    TooLong(String),
    /// It is not valid DEFLATE for the agreed parameters.
    #[error("{0}")]
    Invalid(String),
}

impl InflateError {
    /// The message, for evidence.
    pub fn contains(&self, part: &str) -> bool {
        self.to_string().contains(part)
    }
}

/// Inflates the other end's compressed messages (a client's inflater takes the server's
/// parameters, a server's their [`Params::mirrored`]).
pub struct Inflater {
    inner: Decompress,
    reset_each: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_each", &self.reset_each)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    pub fn new(params: &Params) -> Self {
        Self {
            inner: Decompress::new_with_window_bits(false, params.server_max_window_bits.max(9)),
            reset_each: params.server_no_context_takeover,
        }
    }

    /// The message whose compressed payload is `data`; an error (with evidence) if it is not
    /// valid DEFLATE for the agreed parameters or would be longer than `max` bytes.
    pub fn inflate(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        if self.reset_each {
            self.inner.reset(false);
        }
        let input: Vec<u8> = data.iter().chain(&TAIL).copied().collect();
        let mut out = Vec::with_capacity((data.len() * 4).max(64).min(max.saturating_add(1)));
        let start_in = self.inner.total_in();
        loop {
            let used = (self.inner.total_in() - start_in) as usize;
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(InflateError::TooLong(format!(
                        "a compressed message of {} bytes inflates past the reader's bound of \
                         {max} bytes (refused, not expanded)",
                        data.len()
                    )));
                }
                out.reserve_exact(out.len().clamp(64 << 10, 1 << 20).min(max + 1 - out.len()));
            }
            let before = (self.inner.total_in(), out.len());
            let status = self
                .inner
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .map_err(|e| {
                    InflateError::Invalid(format!(
                        "a compressed message of {} bytes is not valid DEFLATE{}: {e}",
                        data.len(),
                        if self.reset_each {
                            " on its own (server_no_context_takeover was agreed)"
                        } else {
                            ""
                        }
                    ))
                })?;
            let all_in = (self.inner.total_in() - start_in) as usize == input.len();
            let progress = before != (self.inner.total_in(), out.len());
            if out.len() > max {
                return Err(InflateError::TooLong(format!(
                    "a compressed message of {} bytes inflates past the reader's bound of {max} \
                     bytes (refused, not expanded)",
                    data.len()
                )));
            }
            if matches!(status, Status::StreamEnd) {
                // A block with BFINAL set ends the message (RFC 7692 7.2.3.4); the next
                // starts a new stream.
                self.inner.reset(false);
                return Ok(out);
            }
            if all_in && out.len() < out.capacity() {
                return Ok(out);
            }
            if !progress && out.len() < out.capacity() {
                return Err(InflateError::Invalid(format!(
                    "a compressed message of {} bytes ends inside a DEFLATE block",
                    data.len()
                )));
            }
        }
    }
}

/// Deflates this end's messages (a client's deflater takes the server's answer, a server's
/// its [`Params::mirrored`]).
pub struct Deflater {
    inner: Compress,
    reset_each: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("reset_each", &self.reset_each)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor within what the server allows; `None` when it allows a window of 8 bits,
    /// which zlib cannot keep to (this client then sends its messages uncompressed, as it
    /// may).
    pub fn new(params: &Params) -> Option<Self> {
        (params.client_max_window_bits >= 9).then(|| Self {
            inner: Compress::new_with_window_bits(
                Compression::default(),
                false,
                params.client_max_window_bits,
            ),
            reset_each: params.client_no_context_takeover,
        })
    }

    /// `data` compressed as one message's payload (the sync flush's tail taken off).
    pub fn deflate(&mut self, data: &[u8]) -> Vec<u8> {
        if self.reset_each {
            self.inner.reset();
        }
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start = self.inner.total_in();
        loop {
            let used = (self.inner.total_in() - start) as usize;
            if out.len() == out.capacity() {
                out.reserve(out.len().max(64));
            }
            self.inner
                .compress_vec(&data[used..], &mut out, FlushCompress::Sync)
                .expect("deflating into a buffer with room cannot fail");
            let all_in = (self.inner.total_in() - start) as usize == data.len();
            if all_in && out.len() < out.capacity() && out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(answer: &str) -> Params {
        negotiated(answer).expect(answer)
    }

    #[test]
    fn answers_a_client_accepts_and_refuses() {
        let p = params("permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (15, 10)
        );
        assert_eq!(
            params("permessage-deflate;server_max_window_bits=\"9\"").server_max_window_bits,
            9
        );
        for bad in [
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; x_unknown",
            "x-webkit-deflate-frame",
        ] {
            assert!(negotiated(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_message_round_trips_with_and_without_context() {
        for answer in [
            "permessage-deflate",
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        ] {
            let p = params(answer);
            // The same parameters on both ends: the server's deflater takes their mirror.
            let mut server = Deflater::new(&p.mirrored()).expect("15 bits");
            let mut inflater = Inflater::new(&p);
            let text = br#"{"message": "the quick brown fox jumps over the lazy dog"}"#;
            let mut sizes = Vec::new();
            for _ in 0..3 {
                let wire = server.deflate(text);
                sizes.push(wire.len());
                assert_eq!(inflater.inflate(&wire, 1024).expect(answer), text);
            }
            // With context, a repeat is a back-reference; without, each costs the same.
            assert_eq!(
                sizes[2] < text.len() / 4,
                !p.server_no_context_takeover,
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn a_server_that_keeps_its_context_after_agreeing_not_to_fails() {
        let keeps = params("permessage-deflate");
        let agreed = params("permessage-deflate; server_no_context_takeover");
        let mut server = Deflater::new(&keeps).expect("15 bits");
        let mut inflater = Inflater::new(&agreed);
        let text = br#"{"message": "the same words again and again, the same words"}"#;
        assert!(inflater.inflate(&server.deflate(text), 1024).is_ok());
        let err = inflater
            .inflate(&server.deflate(text), 1024)
            .expect_err("context kept");
        assert!(err.contains("server_no_context_takeover"), "{err}");
    }

    #[test]
    fn a_bomb_is_refused_at_the_bound() {
        let p = params("permessage-deflate");
        let mut server = Deflater::new(&p).expect("15 bits");
        let zeros = vec![b'0'; 10 << 20];
        let wire = server.deflate(&zeros);
        assert!(wire.len() < 64 << 10, "{} bytes", wire.len());
        let err = Inflater::new(&p)
            .inflate(&wire, 1 << 20)
            .expect_err("bounded");
        assert!(err.contains("refused"), "{err}");
        assert_eq!(
            Inflater::new(&p).inflate(&wire, 10 << 20).map(|v| v.len()),
            Ok(10 << 20)
        );
    }
}
