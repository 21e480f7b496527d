//! permessage-deflate (RFC 7692), right and wrong. With [`Faults::deflate`](crate::Faults)
//! set, every session runs here on the raw socket (tungstenite has no permessage-deflate):
//! the handshake accepts an offer of it, the member's compressed messages are inflated, and
//! what it is sent is compressed as the [`Deflate`] mode says. Of the other faults, those the
//! broadcast decides apply (drops, duplicates, leaks, delays: each frame is written when its
//! time is up, in the order it came); those of the tungstenite sessions' handshake and writer
//! do not (join_late, greet, replay_on_join, reorder's and the late lanes' overtaking, the
//! style's pings and framing, kick_after).

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::{Outgoing, State};

/// How the server does permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deflate {
    /// Valid: accepts the offer and compresses what each member gets with that member's own
    /// context (context takeover both ways, as uvicorn's websockets does).
    Correct,
    /// Valid: agrees to `server_no_context_takeover` and keeps to it.
    NoContext,
    /// Sends each compressed message in two frames with RSV1 set on both (only the first
    /// may carry it).
    RsvOnContinuation,
    /// Agrees to `server_no_context_takeover` and keeps its context anyway.
    KeepsContext,
    /// Compresses each broadcast once for the whole room with the room's one context and
    /// sends those bytes to every member: a member that joined after the room's first
    /// messages cannot inflate what refers back to them.
    SharedContext,
    /// Compresses its pongs (RSV1 on a control frame).
    CompressedPong,
}

impl Deflate {
    fn answer(self) -> &'static str {
        match self {
            Self::NoContext | Self::KeepsContext => {
                "permessage-deflate; server_no_context_takeover"
            }
            _ => "permessage-deflate",
        }
    }
}

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// The largest message (compressed, inflated, or gathered from fragments) a member may send;
/// past it the session ends.
const MAX_MESSAGE: usize = 16 << 20;

/// `data` compressed as one message with `c` (sync flush, its tail taken off).
pub(crate) fn compress(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = c.total_in();
    loop {
        let used = (c.total_in() - start) as usize;
        if out.len() == out.capacity() {
            out.reserve(out.len());
        }
        c.compress_vec(&data[used..], &mut out, FlushCompress::Sync)
            .expect("a buffer with room");
        if (c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            out.truncate(out.len().saturating_sub(TAIL.len()));
            return out;
        }
    }
}

/// A new compressor for a room or a member.
pub(crate) fn compressor() -> Compress {
    Compress::new(Compression::default(), false)
}

fn inflate(d: &mut Decompress, data: &[u8]) -> Option<Vec<u8>> {
    let input: Vec<u8> = data.iter().chain(&TAIL).copied().collect();
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    let start = d.total_in();
    loop {
        if out.len() == out.capacity() {
            if out.len() >= MAX_MESSAGE {
                return None;
            }
            out.reserve(out.len());
        }
        let used = (d.total_in() - start) as usize;
        d.decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
            .ok()?;
        if (d.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
            return Some(out);
        }
    }
}

/// A server frame: unmasked.
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode];
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

/// One session: handshake, then the member's reader here and its writer on a task.
pub(crate) async fn session(mut stream: TcpStream, state: Arc<State>, mode: Deflate) {
    let _ = stream.set_nodelay(true);
    let Some((head, rest)) = crate::handshake::read_head(&mut stream).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let Some(path) = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|t| t.split('?').next())
    else {
        return;
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let Some(key) = header("sec-websocket-key") else {
        return;
    };
    let offered = header("sec-websocket-extensions").is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim().starts_with("permessage-deflate"))
    });
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let Some((room, id)) = crate::admit(&state, path, Some(tx)) else {
        let refusal = "HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nno such room\n";
        let _ = stream.write_all(refusal.as_bytes()).await;
        return;
    };
    let extension = if offered {
        format!("Sec-WebSocket-Extensions: {}\r\n", mode.answer())
    } else {
        String::new()
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extension}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        crate::leave(&state, &room, id);
        return;
    }
    let (read, write) = stream.into_split();
    let (control_tx, control_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(writer(write, rx, control_rx, offered.then_some(mode)));
    read_messages(read, rest, offered, &state, &room, id, control_tx).await;
    // The member's outbox goes with it, so the writer ends once it has written what the
    // reader left it (the answer to a close, first).
    crate::leave(&state, &room, id);
    let abort = writer.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(1), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
}

/// Reads the member's messages (inflating compressed ones) and broadcasts them; answers
/// pings and closes through `control`.
async fn read_messages(
    mut read: OwnedReadHalf,
    mut buf: Vec<u8>,
    compressed_ok: bool,
    state: &State,
    room: &str,
    id: u64,
    control: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut inflater = Decompress::new(false);
    let mut message: Option<(bool, Vec<u8>)> = None;
    let mut skip = false;
    while let Some((fin, rsv1, opcode, payload)) = read_frame(&mut read, &mut buf).await {
        match opcode {
            0x8 => {
                let _ = control.send(frame(
                    true,
                    false,
                    0x8,
                    payload.get(..2).unwrap_or_default(),
                ));
                return;
            }
            0x9 => {
                let _ = control.send(payload);
                continue;
            }
            0xA => continue,
            // Binary messages are not the protocol's: ignored, as the other sessions do.
            0x2 if message.is_none() => {
                message = Some((rsv1, payload));
                skip = true;
            }
            0x1 if message.is_none() => message = Some((rsv1, payload)),
            0x0 => match message.as_mut() {
                // A message of fragments is held to the bound of one frame, as a whole.
                Some((_, so_far)) if so_far.len() + payload.len() <= MAX_MESSAGE => {
                    so_far.extend_from_slice(&payload);
                }
                _ => return,
            },
            _ => return,
        }
        if !fin {
            continue;
        }
        let Some((compressed, data)) = message.take() else {
            return;
        };
        if std::mem::take(&mut skip) {
            continue;
        }
        let data = match (compressed, compressed_ok) {
            (false, _) => data,
            (true, true) => match inflate(&mut inflater, &data) {
                Some(d) => d,
                None => return,
            },
            (true, false) => return,
        };
        let Ok(text) = String::from_utf8(data) else {
            return;
        };
        state.heard_from(id);
        let Some(out) = crate::broadcast_of(state, &text) else {
            return;
        };
        crate::broadcast(state, room, id, out);
    }
}

/// The next client frame: FIN, RSV1, opcode and the unmasked payload; `None` at the end or
/// on a frame over [`MAX_MESSAGE`].
async fn read_frame(
    read: &mut OwnedReadHalf,
    buf: &mut Vec<u8>,
) -> Option<(bool, bool, u8, Vec<u8>)> {
    let mut want = 2;
    loop {
        while buf.len() < want {
            let mut chunk = [0u8; 16 * 1024];
            let n = read.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let masked = buf[1] & 0x80 != 0;
        let (len, at) = match buf[1] & 0x7F {
            126 if buf.len() < 4 => {
                want = 4;
                continue;
            }
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() < 10 => {
                want = 10;
                continue;
            }
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                (usize::try_from(u64::from_be_bytes(b)).ok()?, 10)
            }
            n => (usize::from(n), 2),
        };
        if len > MAX_MESSAGE {
            return None;
        }
        let start = at + if masked { 4 } else { 0 };
        if buf.len() < start + len {
            want = start + len;
            continue;
        }
        let mask: Option<[u8; 4]> =
            masked.then(|| [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        let mut payload = buf[start..start + len].to_vec();
        if let Some(mask) = mask {
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= mask[i % 4]);
        }
        let (fin, rsv1, opcode) = (buf[0] & 0x80 != 0, buf[0] & 0x40 != 0, buf[0] & 0x0F);
        buf.drain(..start + len);
        return Some((fin, rsv1, opcode, payload));
    }
}

/// Writes the member's broadcasts when their time is up, compressed as `mode` says (plain
/// when deflate was not agreed), and the pongs and close the reader asks for.
async fn writer(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut control: mpsc::UnboundedReceiver<Vec<u8>>,
    mode: Option<Deflate>,
) {
    let mut own = compressor();
    let mut control_open = true;
    loop {
        let bytes = tokio::select! {
            biased;
            ping = control.recv(), if control_open => match ping {
                Some(close) if close.first() == Some(&0x88) => {
                    let _ = write.write_all(&close).await;
                    return;
                }
                Some(payload) if mode == Some(Deflate::CompressedPong) => {
                    frame(true, true, 0xA, &compress(&mut compressor(), &payload))
                }
                Some(payload) => frame(true, false, 0xA, &payload),
                None => {
                    control_open = false;
                    continue;
                }
            },
            out = rx.recv() => match out {
                Some((at, text, _, shared)) => {
                    tokio::time::sleep_until(at).await;
                    message_frames(mode, &mut own, &text, shared.as_ref().map(|b| b.as_slice()))
                }
                None => return,
            },
        };
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// The frames of one broadcast for a member.
fn message_frames(
    mode: Option<Deflate>,
    own: &mut Compress,
    text: &str,
    shared: Option<&[u8]>,
) -> Vec<u8> {
    let Some(mode) = mode else {
        return frame(true, false, 0x1, text.as_bytes());
    };
    match mode {
        Deflate::SharedContext => match shared {
            Some(bytes) => frame(true, true, 0x1, bytes),
            None => frame(true, false, 0x1, text.as_bytes()),
        },
        Deflate::NoContext => {
            own.reset();
            frame(true, true, 0x1, &compress(own, text.as_bytes()))
        }
        Deflate::RsvOnContinuation => {
            let bytes = compress(own, text.as_bytes());
            let (a, b) = bytes.split_at(bytes.len() / 2);
            let mut out = frame(false, true, 0x1, a);
            out.extend(frame(true, true, 0x0, b));
            out
        }
        Deflate::Correct | Deflate::KeepsContext | Deflate::CompressedPong => {
            frame(true, true, 0x1, &compress(own, text.as_bytes()))
        }
    }
}
