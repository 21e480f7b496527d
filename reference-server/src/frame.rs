//! One broadcast frame, encoded once for every member.
//!
//! Server-to-client frames are not masked (RFC 6455 5.1), so the bytes of a text frame are the
//! same for every member of a room: a broadcast builds them once, header included, and every
//! member's queue shares them. A plain TCP member's socket is written these bytes as they are
//! (`outlet/`); a TLS member's session hands the text to its WebSocket codec.

use tokio_tungstenite::tungstenite::{Bytes, Utf8Bytes};

/// A complete, final, unmasked text frame (`wire`) and its payload (`text`), sharing one
/// allocation. Cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    wire: Bytes,
    text: Utf8Bytes,
    message: bool,
}

impl Frame {
    /// The frame that carries `payload` as one text message.
    pub fn text(payload: Utf8Bytes) -> Self {
        let len = payload.len();
        let mut wire = Vec::with_capacity(len + 10);
        wire.push(0x81); // FIN, opcode 1 (text)
        if len < 126 {
            wire.push(len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            wire.push(126);
            wire.extend_from_slice(&len.to_be_bytes());
        } else {
            wire.push(127);
            wire.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let header = wire.len();
        wire.extend_from_slice(payload.as_bytes());
        let wire = Bytes::from(wire);
        // The payload is the same valid UTF-8 it was; should the check ever fail, the original
        // is kept (one more allocation, same bytes).
        let text = Utf8Bytes::try_from(wire.slice(header..)).unwrap_or(payload);
        Self {
            wire,
            text,
            message: true,
        }
    }

    /// Bytes that are not a text message (the remainder of a control frame the codec wrote),
    /// queued so that they leave in order.
    pub(crate) fn raw(wire: Bytes) -> Self {
        Self {
            wire,
            text: Utf8Bytes::default(),
            message: false,
        }
    }

    /// The whole frame as it goes on the wire.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The message it carries.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The message, for a WebSocket codec.
    pub fn utf8(&self) -> Utf8Bytes {
        self.text.clone()
    }

    /// True for a broadcast message (not raw control bytes).
    pub(crate) fn is_message(&self) -> bool {
        self.message
    }
}

impl std::ops::Deref for Frame {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Frame {
    fn from(payload: String) -> Self {
        Self::text(Utf8Bytes::from(payload))
    }
}

impl From<&str> for Frame {
    fn from(payload: &str) -> Self {
        Self::text(Utf8Bytes::from(payload))
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

    use super::*;

    /// Each header length form, checked against tungstenite's own parser.
    #[test]
    fn wire_bytes_are_a_text_frame_tungstenite_reads_back() {
        for len in [0, 1, 125, 126, 65_535, 65_536, 200_000] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let frame = Frame::from(text.clone());
            let mut cursor = std::io::Cursor::new(frame.wire().to_vec());
            let (header, payload_len) = FrameHeader::parse(&mut cursor)
                .expect("a header")
                .expect("complete");
            assert!(header.is_final);
            assert!(header.mask.is_none());
            assert_eq!(payload_len as usize, text.len());
            let start = cursor.position() as usize;
            assert_eq!(&frame.wire()[start..], text.as_bytes());
            assert_eq!(frame.as_str(), text);
            assert_eq!(Message::Text(frame.utf8()), Message::text(text));
        }
    }
}
