//! WebSocket close codes (RFC 6455 section 7.4) as the reference server uses them.

/// The peer asked to close, or the close completed normally.
pub const NORMAL: u16 = 1000;
/// The server is shutting down: every open socket gets this code.
pub const GOING_AWAY: u16 = 1001;
/// A frame against RFC 6455 (or RFC 7692 when permessage-deflate was agreed).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A binary frame: the protocol only carries text.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// The text was not UTF-8, not JSON, not an object, had no `message`, or broke a JSON limit.
pub const INVALID_PAYLOAD: u16 = 1007;
/// The incoming message, or the frame it would produce, is over the size limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The peer stopped answering pings.
pub const INTERNAL_ERROR: u16 = 1011;
/// The member fell too far behind: its bounded outgoing queue was full.
pub const TRY_AGAIN_LATER: u16 = 1013;

/// The longest close reason RFC 6455 allows (125-byte control payload minus the 2-byte code).
pub const MAX_REASON_BYTES: usize = 123;

/// Cuts `reason` to at most [`MAX_REASON_BYTES`], on a character boundary.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_on_char_boundaries() {
        assert_eq!(truncate_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_REASON_BYTES);
        assert_eq!(cut.len(), 122);
    }
}
