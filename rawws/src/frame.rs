//! Frames (RFC 6455 section 5.2): opcodes, a frame as read, the parser of a server's frames,
//! a client frame's header.

/// Frame opcodes (RFC 6455 section 5.2).
pub mod op {
    pub const CONT: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;

    /// Close, ping and pong: never fragmented, at most 125 bytes of payload (RFC 6455 5.5).
    pub fn is_control(opcode: u8) -> bool {
        opcode & 0x8 != 0
    }
}

/// One frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// The three reserved bits (RSV1 to RSV3, high to low); non-zero only with an extension.
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A whole, unfragmented frame (or an assembled message) with no reserved bits.
    pub fn whole(opcode: u8, payload: Vec<u8>) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            payload,
        }
    }

    /// Close code and reason, for a close frame.
    pub fn close_code(&self) -> Option<(u16, String)> {
        if self.opcode != op::CLOSE {
            return None;
        }
        if self.payload.len() < 2 {
            return Some((1005, String::new()));
        }
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        Some((
            code,
            String::from_utf8_lossy(&self.payload[2..]).into_owned(),
        ))
    }

    /// A short description for evidence.
    pub fn describe(&self) -> String {
        match self.opcode {
            op::TEXT => format!("text {}", clip(&String::from_utf8_lossy(&self.payload))),
            op::BINARY => format!("binary ({} bytes)", self.payload.len()),
            op::CLOSE => {
                let (code, reason) = self.close_code().unwrap_or((1005, String::new()));
                format!("close {code} {reason:?}")
            }
            op::PING => "ping".into(),
            op::PONG => "pong".into(),
            op::CONT => format!("continuation ({} bytes)", self.payload.len()),
            other => format!("opcode {other}"),
        }
    }

    /// The kind of frame, in a word.
    fn kind(opcode: u8) -> String {
        match opcode {
            op::TEXT => "text".into(),
            op::BINARY => "binary".into(),
            op::CONT => "continuation".into(),
            op::CLOSE => "close".into(),
            op::PING => "ping".into(),
            op::PONG => "pong".into(),
            other => format!("opcode-{other}"),
        }
    }
}

/// Shortens evidence to something a table can hold.
pub fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

/// What [`parse`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame, and how many bytes of the buffer it took.
    Frame(Frame, usize),
    /// The buffer holds only the start of a frame: at least this many bytes are needed.
    Need(usize),
}

/// Parses one server frame (unmasked, RFC 6455 5.1) at the start of `buf`. A payload longer
/// than `max_payload` is refused before it is read, so a hostile length cannot make the
/// reader allocate it.
pub fn parse(buf: &[u8], max_payload: usize) -> Result<Parsed, String> {
    if buf.len() < 2 {
        return Ok(Parsed::Need(2));
    }
    let fin = buf[0] & 0x80 != 0;
    let rsv = (buf[0] >> 4) & 0x7;
    let opcode = buf[0] & 0x0F;
    if buf[1] & 0x80 != 0 {
        return Err("the server masked a frame".into());
    }
    let (len, header) = match buf[1] & 0x7F {
        126 if buf.len() < 4 => return Ok(Parsed::Need(4)),
        126 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() < 10 => return Ok(Parsed::Need(10)),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(b);
            if len >> 63 != 0 {
                return Err("a 64-bit frame length with its top bit set".into());
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    if len > max_payload as u64 {
        return Err(format!(
            "a {} frame of {len} bytes, over the reader's bound of {max_payload}",
            Frame::kind(opcode)
        ));
    }
    let end = header + len as usize;
    if buf.len() < end {
        return Ok(Parsed::Need(end));
    }
    Ok(Parsed::Frame(
        Frame {
            fin,
            rsv,
            opcode,
            payload: buf[header..end].to_vec(),
        },
        end,
    ))
}

/// A server's frame (unmasked, RFC 6455 5.2) with the shortest length encoding and no
/// reserved bits: what a reader is fed in tests, and what a compressed message becomes once
/// inflated below a WebSocket library (`endpoint::wire`).
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A client frame's header (RFC 6455 5.2) with `rsv` (RSV1 to RSV3, high to low) and `mask`
/// as its key.
pub(crate) fn frame_header(fin: bool, rsv: u8, opcode: u8, len: usize, mask: [u8; 4]) -> Vec<u8> {
    let mut header = Vec::with_capacity(14);
    header.push(if fin { 0x80 } else { 0 } | (rsv & 0x7) << 4 | opcode);
    if len < 126 {
        header.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        header.push(0x80 | 126);
        header.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        header.push(0x80 | 127);
        header.extend_from_slice(&(len as u64).to_be_bytes());
    }
    header.extend_from_slice(&mask);
    header
}

/// What the stream gave back when a frame or a message was wanted.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// Nothing within the wait.
    Silence,
    /// TCP ended.
    Eof,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_7_16_and_64_bits() {
        for len in [0usize, 125, 126, 65535, 65536, 70000] {
            let mut bytes = vec![0x81];
            if len < 126 {
                bytes.push(len as u8);
            } else if len <= 65535 {
                bytes.push(126);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                bytes.push(127);
                bytes.extend_from_slice(&(len as u64).to_be_bytes());
            }
            let header = bytes.len();
            bytes.resize(header + len, b'a');
            for cut in [1, header - 1, header + len / 2]
                .into_iter()
                .filter(|c| *c < bytes.len())
            {
                assert!(matches!(parse(&bytes[..cut], 1 << 20), Ok(Parsed::Need(n)) if n > cut));
            }
            let Ok(Parsed::Frame(frame, used)) = parse(&bytes, 1 << 20) else {
                panic!("a {len}-byte frame");
            };
            assert_eq!(
                (frame.payload.len(), used, frame.fin),
                (len, bytes.len(), true)
            );
        }
    }

    #[test]
    fn refuses_masks_and_lengths_over_the_bound() {
        assert!(parse(&[0x81, 0x85, 0, 0, 0, 0], 100).is_err());
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(parse(&huge, 100).is_err());
        assert!(parse(&[0x82, 126, 0x01, 0x00], 100).is_err());
    }

    #[test]
    fn reserved_bits_are_kept() {
        let Ok(Parsed::Frame(frame, _)) = parse(&[0xC1, 0x01, b'x'], 10) else {
            panic!("one frame");
        };
        assert_eq!((frame.rsv, frame.opcode), (0b100, op::TEXT));
    }
}
