//! Frames (RFC 6455 section 5.2): opcodes, a frame as read, a client frame's header.

/// Frame opcodes (RFC 6455 section 5.2).
pub mod op {
    pub const CONT: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// One frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
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
            other => format!("opcode {other}"),
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

/// A client frame's header (RFC 6455 5.2) with `mask` as its key.
pub(crate) fn frame_header(fin: bool, opcode: u8, len: usize, mask: [u8; 4]) -> Vec<u8> {
    let mut header = Vec::with_capacity(14);
    header.push(if fin { 0x80 } else { 0 } | opcode);
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

/// What the stream gave back when a frame was wanted.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// Nothing within the wait.
    Silence,
    /// TCP ended.
    Eof,
}
