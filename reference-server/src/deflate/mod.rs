//! permessage-deflate (RFC 7692) on the server's side, set up so that a broadcast is
//! compressed once per room: the server answers every acceptable offer with
//! `server_no_context_takeover` (each message is compressed on its own, so the same bytes go
//! to every member that agreed) and `client_no_context_takeover` (each client message inflates
//! on its own, so an idle member holds no compressor or inflater state: both are one per
//! runtime thread).
//!
//! - `offer`: which offer is accepted and the answer.
//! - `inflating`: the read side, under the WebSocket codec: a compressed client message is
//!   inflated (bounded by `--max-message-bytes`) and handed on as a plain frame.
//! - [`compress`]: a broadcast's payload, compressed once for every member that agreed.

use std::cell::RefCell;

use rawws::deflate::{Deflater, Inflater, Params};

mod inflating;
mod offer;

pub use inflating::{InflateError, Inflating};
pub(crate) use offer::accept;

/// What the server agrees to, whatever was offered: no context takeover either way, windows
/// of 15 bits (the answer names no window, and `server_max_window_bits` below 15 is declined).
pub(crate) const AGREED: Params = Params {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// The `Sec-WebSocket-Extensions` answer that says [`AGREED`].
pub(crate) const ANSWER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

thread_local! {
    /// One per runtime thread: with no context takeover a compressor starts each message
    /// afresh, so which one compresses it does not matter.
    static DEFLATER: RefCell<Deflater> =
        RefCell::new(Deflater::new(&AGREED.mirrored()).expect("a window of 15 bits"));
    /// The same for client messages (`client_no_context_takeover`).
    static INFLATER: RefCell<Inflater> = RefCell::new(Inflater::new(&AGREED.mirrored()));
}

/// `payload` compressed as one message (the sync flush's tail taken off, RFC 7692 7.2.1);
/// `None` when that is not shorter, and the message goes plain (RSV1 clear), as a sender may
/// choose per message.
pub fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let compressed = DEFLATER.with_borrow_mut(|d| d.deflate(payload));
    (compressed.len() < payload.len()).then_some(compressed)
}

/// A client's compressed message, inflated; at most `max` bytes.
fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, rawws::deflate::InflateError> {
    INFLATER.with_borrow_mut(|i| i.inflate(data, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_what_the_server_keeps_to() {
        assert_eq!(rawws::deflate::negotiated(ANSWER), Ok(AGREED));
    }

    #[test]
    fn a_compressed_message_inflates_on_its_own_and_incompressible_text_stays_plain() {
        let text = br#"{"message": "the quick brown fox jumps over the lazy dog, the quick fox"}"#;
        let first = compress(text).expect("shorter");
        let second = compress(text).expect("shorter");
        // No context kept: the same message compresses to the same bytes every time.
        assert_eq!(first, second);
        let mut client = Inflater::new(&AGREED);
        assert_eq!(client.inflate(&first, 1024).expect("valid"), text);
        assert_eq!(compress(b"{}"), None);
    }
}
