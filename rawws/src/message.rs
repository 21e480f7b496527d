//! Messages out of frames (RFC 6455 5.4-5.6): a text or binary message may come as one frame
//! or as a first frame without FIN and continuation frames, with control frames (ping, pong,
//! close) between them. With permessage-deflate negotiated, a message whose first frame has
//! RSV1 set is inflated once whole (RFC 7692 6). No I/O: [`Assembler::push`] takes frames in
//! the order they came.

use crate::deflate::Inflater;
use crate::frame::{Frame, op};

/// RSV1 in [`Frame::rsv`]: "compressed" under permessage-deflate.
pub const RSV1: u8 = 0b100;

/// The state of a message being received, and the bound on its size.
#[derive(Debug)]
pub struct Assembler {
    /// The opcode, whether it is compressed, and the bytes so far of a message whose last
    /// frame has not come.
    partial: Option<(u8, bool, Vec<u8>)>,
    max_message: usize,
    /// With permessage-deflate negotiated.
    inflater: Option<Box<Inflater>>,
    /// Compressed messages delivered so far, their bytes as they came and inflated.
    inflated: Inflated,
}

/// What inflating has given so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inflated {
    pub messages: u64,
    pub from_bytes: u64,
    pub to_bytes: u64,
}

/// What a frame amounted to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A whole text or binary message (`fin` true, the first frame's opcode), or a control
    /// frame, which may arrive between the fragments of a message.
    Deliver(Frame),
    /// A fragment, kept until the message's last frame.
    Partial,
}

impl Assembler {
    pub fn new(max_message: usize) -> Self {
        Self {
            partial: None,
            max_message,
            inflater: None,
            inflated: Inflated::default(),
        }
    }

    /// Messages with RSV1 set are inflated with `inflater` (permessage-deflate negotiated).
    pub fn with_inflater(mut self, inflater: Inflater) -> Self {
        self.inflater = Some(Box::new(inflater));
        self
    }

    /// The compressed messages delivered so far and their sizes.
    pub fn inflated(&self) -> Inflated {
        self.inflated
    }

    /// Sets the bound on a whole message's payload (inflated), in bytes.
    pub fn set_max_message(&mut self, bytes: usize) {
        self.max_message = bytes;
    }

    /// The bound on a whole message's payload, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Takes the next frame. An error names the rule of RFC 6455 (or 7692) the server broke.
    /// A delivered message that came compressed has RSV1 in its `rsv`.
    pub fn push(&mut self, frame: Frame) -> Result<Step, String> {
        self.check_rsv(&frame)?;
        if op::is_control(frame.opcode) {
            if !matches!(frame.opcode, op::CLOSE | op::PING | op::PONG) {
                return Err(format!("a frame with the reserved opcode {}", frame.opcode));
            }
            if !frame.fin {
                return Err(format!("a fragmented control frame ({})", frame.describe()));
            }
            if frame.payload.len() > 125 {
                return Err(format!(
                    "a {} of {} bytes (control frames hold at most 125)",
                    frame.describe(),
                    frame.payload.len()
                ));
            }
            if frame.opcode == op::CLOSE {
                // A close ends whatever message was under way.
                self.partial = None;
            }
            return Ok(Step::Deliver(frame));
        }
        let compressed_now = frame.rsv & RSV1 != 0;
        let (opcode, compressed, mut payload) = match (frame.opcode, self.partial.take()) {
            (op::CONT, Some((opcode, compressed, mut so_far))) => {
                if so_far.len() + frame.payload.len() > self.max_message {
                    return Err(self.too_large(so_far.len() + frame.payload.len()));
                }
                so_far.extend_from_slice(&frame.payload);
                (opcode, compressed, so_far)
            }
            (op::CONT, None) => {
                return Err("a continuation frame with no message under way".into());
            }
            (op::TEXT | op::BINARY, None) => (frame.opcode, compressed_now, frame.payload),
            (op::TEXT | op::BINARY, Some((under_way, ..))) => {
                return Err(format!(
                    "a new {} message began before the {} message under way ended",
                    kind(frame.opcode),
                    kind(under_way)
                ));
            }
            (other, _) => return Err(format!("a frame with the reserved opcode {other}")),
        };
        if payload.len() > self.max_message {
            return Err(self.too_large(payload.len()));
        }
        if !frame.fin {
            self.partial = Some((opcode, compressed, std::mem::take(&mut payload)));
            return Ok(Step::Partial);
        }
        if compressed {
            let inflater = self.inflater.as_mut().expect("check_rsv let RSV1 through");
            let from = payload.len();
            payload = inflater
                .inflate(&payload, self.max_message)
                .map_err(|e| e.to_string())?;
            self.inflated.messages += 1;
            self.inflated.from_bytes += from as u64;
            self.inflated.to_bytes += payload.len() as u64;
        }
        if opcode == op::TEXT && std::str::from_utf8(&payload).is_err() {
            return Err(format!(
                "a text message of {} bytes that is not UTF-8",
                payload.len()
            ));
        }
        let mut message = Frame::whole(opcode, payload);
        if compressed {
            message.rsv = RSV1;
        }
        Ok(Step::Deliver(message))
    }

    /// The reserved bits: none without an extension; with permessage-deflate RSV1 alone, on
    /// the first frame of a data message only (RFC 7692 6, 6.1).
    fn check_rsv(&self, frame: &Frame) -> Result<(), String> {
        let allowed = if self.inflater.is_some() { RSV1 } else { 0 };
        if frame.rsv & !allowed != 0 {
            return Err(if self.inflater.is_some() {
                format!(
                    "a {} with reserved bits {:03b} set; permessage-deflate gives meaning to RSV1 \
                     alone",
                    frame.describe(),
                    frame.rsv
                )
            } else {
                format!(
                    "a {} with reserved bits {:03b} set, and no extension was negotiated",
                    frame.describe(),
                    frame.rsv
                )
            });
        }
        if frame.rsv & RSV1 != 0 && op::is_control(frame.opcode) {
            return Err(format!(
                "a {} with RSV1 set: control frames are never compressed (RFC 7692 6.1)",
                frame.describe()
            ));
        }
        if frame.rsv & RSV1 != 0 && frame.opcode == op::CONT {
            return Err(
                "a continuation frame with RSV1 set: only a message's first frame says it is \
                 compressed (RFC 7692 6.1)"
                    .into(),
            );
        }
        Ok(())
    }

    fn too_large(&self, len: usize) -> String {
        format!(
            "a message of over {len} bytes, above the reader's bound of {}",
            self.max_message
        )
    }
}

fn kind(opcode: u8) -> &'static str {
    if opcode == op::TEXT { "text" } else { "binary" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Frame {
        Frame {
            fin,
            rsv: 0,
            opcode,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn fragments_with_control_frames_between_them() {
        let mut a = Assembler::new(1024);
        // "é" split between its two bytes: UTF-8 is checked over the whole message.
        assert_eq!(
            a.push(frame(false, op::TEXT, b"caf\xC3")),
            Ok(Step::Partial)
        );
        let ping = frame(true, op::PING, b"p");
        assert_eq!(a.push(ping.clone()), Ok(Step::Deliver(ping)));
        assert_eq!(a.push(frame(false, op::CONT, b"")), Ok(Step::Partial));
        assert_eq!(
            a.push(frame(true, op::CONT, b"\xA9!")),
            Ok(Step::Deliver(Frame::whole(op::TEXT, "café!".into())))
        );
    }

    #[test]
    fn protocol_errors() {
        let cases: Vec<Vec<Frame>> = vec![
            vec![frame(true, op::CONT, b"x")],
            vec![frame(false, op::TEXT, b"x"), frame(true, op::BINARY, b"y")],
            vec![frame(false, op::PING, b"x")],
            vec![frame(true, op::PONG, &[0; 126])],
            vec![frame(true, 0x3, b"")],
            vec![frame(true, 0xB, b"")],
            vec![frame(true, op::TEXT, b"\xFF")],
            vec![
                frame(false, op::TEXT, b"0123456789"),
                frame(true, op::CONT, b"x"),
            ],
            vec![Frame {
                rsv: 0b100,
                ..frame(true, op::TEXT, b"x")
            }],
        ];
        for frames in cases {
            let mut a = Assembler::new(10);
            let last = frames.len() - 1;
            for (i, f) in frames.into_iter().enumerate() {
                let step = a.push(f.clone());
                assert_eq!(step.is_err(), i == last, "{f:?}: {step:?}");
            }
        }
    }

    #[test]
    fn a_close_ends_the_message_under_way() {
        let mut a = Assembler::new(100);
        assert_eq!(a.push(frame(false, op::TEXT, b"x")), Ok(Step::Partial));
        let close = frame(true, op::CLOSE, &1000u16.to_be_bytes());
        assert_eq!(a.push(close.clone()), Ok(Step::Deliver(close)));
        assert!(a.push(frame(true, op::CONT, b"y")).is_err());
    }

    #[test]
    fn with_deflate_rsv1_only_on_a_data_message_s_first_frame() {
        let params = crate::deflate::negotiated("permessage-deflate").expect("valid");
        let inflating = || Assembler::new(1024).with_inflater(Inflater::new(&params));
        let mut deflater = crate::deflate::Deflater::new(&params).expect("15 bits");
        let wire = deflater.deflate("café".as_bytes());
        let (head, tail) = wire.split_at(wire.len() / 2);
        let compressed = |fin, opcode, payload: &[u8]| Frame {
            rsv: RSV1,
            ..frame(fin, opcode, payload)
        };
        // A compressed message in two frames, a ping between them.
        let mut a = inflating();
        assert_eq!(a.push(compressed(false, op::TEXT, head)), Ok(Step::Partial));
        let ping = frame(true, op::PING, b"p");
        assert_eq!(a.push(ping.clone()), Ok(Step::Deliver(ping)));
        let Ok(Step::Deliver(message)) = a.push(frame(true, op::CONT, tail)) else {
            panic!("a whole message");
        };
        assert_eq!(
            (message.rsv, message.payload),
            (RSV1, "café".as_bytes().to_vec())
        );
        // An uncompressed message is still fine.
        let plain = frame(true, op::TEXT, b"plain");
        assert_eq!(a.push(plain.clone()), Ok(Step::Deliver(plain)));
        for bad in [
            vec![
                compressed(false, op::TEXT, head),
                compressed(true, op::CONT, tail),
            ],
            vec![compressed(true, op::PING, b"p")],
            vec![Frame {
                rsv: 0b010,
                ..frame(true, op::TEXT, b"x")
            }],
            vec![compressed(true, op::TEXT, b"\xff\xff\xff")],
        ] {
            let mut a = inflating();
            let last = bad.len() - 1;
            for (i, f) in bad.into_iter().enumerate() {
                let step = a.push(f.clone());
                assert_eq!(step.is_err(), i == last, "{f:?}: {step:?}");
            }
        }
    }
}
