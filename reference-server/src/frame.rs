//! One broadcast frame, encoded once for every member.
//!
//! Server-to-client frames are not masked (RFC 6455 5.1), so the bytes of a text frame are the
//! same for every member of a room: a broadcast builds them once, header included, and every
//! member's queue shares them. A plain TCP member's socket is written these bytes as they are
//! (`outlet/`); a TLS member's session hands the frame to its WebSocket codec. Members that
//! agreed to permessage-deflate get the frame's compressed form ([`Frame::deflated`]), built
//! once per broadcast too.

use tokio_tungstenite::tungstenite::protocol::frame::Frame as CodecFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// What a frame's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A text message; `wire` is the frame, `text` its payload.
    Text,
    /// A text message compressed (RSV1 set, RFC 7692): `wire` is the frame, its payload from
    /// byte `header` on; `text` is the message before compression.
    Compressed { header: u8 },
    /// The rest of a control frame the codec wrote.
    Raw,
}

/// A complete, final, unmasked text frame (`wire`) and its message (`text`), sharing one
/// allocation when not compressed. Cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    wire: Bytes,
    text: Utf8Bytes,
    kind: Kind,
}

/// A server frame's header (RFC 6455 5.2): `first_byte` (FIN, RSV bits, opcode), the
/// shortest length encoding of `len`, no mask; room for the payload after it.
fn header(first_byte: u8, len: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(len + 10);
    wire.push(first_byte);
    if len < 126 {
        wire.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        wire.push(126);
        wire.extend_from_slice(&len.to_be_bytes());
    } else {
        wire.push(127);
        wire.extend_from_slice(&(len as u64).to_be_bytes());
    }
    wire
}

impl Frame {
    /// The frame that carries `payload` as one text message.
    pub fn text(payload: Utf8Bytes) -> Self {
        // FIN, opcode 1 (text)
        let mut wire = header(0x81, payload.len());
        let header = wire.len();
        wire.extend_from_slice(payload.as_bytes());
        let wire = Bytes::from(wire);
        // The payload is the same valid UTF-8 it was; should the check ever fail, the original
        // is kept (one more allocation, same bytes).
        let text = Utf8Bytes::try_from(wire.slice(header..)).unwrap_or(payload);
        Self {
            wire,
            text,
            kind: Kind::Text,
        }
    }

    /// The same message for members that agreed to permessage-deflate: compressed on its own
    /// (the server agrees to no context takeover, so these bytes suit every such member),
    /// RSV1 set; `None` when compression does not make it shorter (it then goes plain, as
    /// RFC 7692 lets a sender choose per message) or this is not a text message.
    pub fn deflated(&self) -> Option<Self> {
        if self.kind != Kind::Text {
            return None;
        }
        let compressed = crate::deflate::compress(self.text.as_bytes())?;
        // FIN, RSV1, opcode 1 (text)
        let mut wire = header(0xc1, compressed.len());
        let header = u8::try_from(wire.len()).unwrap_or(10);
        wire.extend_from_slice(&compressed);
        Some(Self {
            wire: Bytes::from(wire),
            text: self.text.clone(),
            kind: Kind::Compressed { header },
        })
    }

    /// The frame as a WebSocket codec writes it (a TLS member's session).
    pub(crate) fn message(&self) -> Message {
        match self.kind {
            Kind::Compressed { header } => {
                let mut frame = CodecFrame::message(
                    self.wire.slice(usize::from(header)..),
                    OpCode::Data(Data::Text),
                    true,
                );
                frame.header_mut().rsv1 = true;
                Message::Frame(frame)
            }
            Kind::Text | Kind::Raw => Message::Text(self.text.clone()),
        }
    }

    /// True when compressed ([`Self::deflated`]).
    pub fn is_compressed(&self) -> bool {
        matches!(self.kind, Kind::Compressed { .. })
    }

    /// Bytes that are not a text message (the remainder of a control frame the codec wrote),
    /// queued so that they leave in order.
    pub(crate) fn raw(wire: Bytes) -> Self {
        Self {
            wire,
            text: Utf8Bytes::default(),
            kind: Kind::Raw,
        }
    }

    /// The whole frame as it goes on the wire.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The message it carries (before compression).
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// True for a broadcast message (not raw control bytes).
    pub(crate) fn is_message(&self) -> bool {
        self.kind != Kind::Raw
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
            assert_eq!(frame.message(), Message::text(text));
        }
    }

    /// The compressed form: a frame tungstenite parses with RSV1, whose payload a client's
    /// inflater (the agreed parameters) turns back into the message; the codec's form of it
    /// is the same bytes. Text that does not shrink stays plain.
    #[test]
    fn the_compressed_form_is_a_frame_with_rsv1_that_inflates_to_the_message() {
        for len in [40, 200, 70_000] {
            let text = format!(r#"{{"message": "{}"}}"#, "hello world ".repeat(len / 12));
            let frame = Frame::from(text.clone());
            let deflated = frame.deflated().expect("words compress");
            assert!(deflated.is_compressed() && deflated.is_message());
            assert!(deflated.wire().len() < frame.wire().len());
            let mut cursor = std::io::Cursor::new(deflated.wire().to_vec());
            let (header, payload_len) = FrameHeader::parse(&mut cursor)
                .expect("a header")
                .expect("complete");
            assert!(header.is_final && header.rsv1 && !header.rsv2 && !header.rsv3);
            let payload = &deflated.wire()[cursor.position() as usize..];
            assert_eq!(payload.len() as u64, payload_len);
            let mut inflater = rawws::deflate::Inflater::new(&crate::deflate::AGREED);
            assert_eq!(
                inflater.inflate(payload, 1 << 20).expect("valid"),
                text.as_bytes()
            );
            assert_eq!(deflated.as_str(), text);
            let Message::Frame(codec) = deflated.message() else {
                panic!("a compressed frame goes to the codec as a raw frame");
            };
            assert!(codec.header().rsv1);
            assert_eq!(codec.payload(), payload);
        }
        assert!(Frame::from(r#"{"message": "q"}"#).deflated().is_none());
        assert!(
            Frame::raw(Bytes::from_static(b"\x88\x00"))
                .deflated()
                .is_none()
        );
    }
}
