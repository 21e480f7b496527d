//! The read side of permessage-deflate, between the socket and the WebSocket codec (which
//! knows nothing of extensions): a client message whose first frame has RSV1 set is gathered
//! whole (its fragments unmasked), inflated on its own (`client_no_context_takeover`), and
//! handed to the codec as one plain masked frame; every other frame goes through unchanged,
//! and the codec applies RFC 6455's rules to it (RSV1 on a control or continuation frame
//! fails there with 1002, as any reserved bit does without an extension).
//!
//! Bounds: a compressed message is gathered up to `--max-message-bytes` of compressed
//! payload and inflated up to as many bytes; past either the connection fails with 1009
//! ([`InflateError::TooLong`]), nothing expanded further. A header announcing a frame over
//! the bound goes to the codec at once, which refuses it (1009) before its payload comes. The
//! bytes gathered are read through the session's `Metered` socket, so the memory budget
//! counts them until the message is out; the inflated copy lives from the last frame's
//! arrival until the codec has read it. A connection waiting for its next frame holds no
//! buffer: reads land in one scratch buffer per runtime thread.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes asked of the socket per read.
const READ_BYTES: usize = 4 * 1024;

thread_local! {
    /// Where reads land before what they got joins a connection's input.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_BYTES]);
}

/// Why a client's compressed message failed the connection.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// Over `--max-message-bytes`, compressed or inflated: close 1009.
    #[error("a compressed message over the {0}-byte limit")]
    TooLong(usize),
    /// Not valid DEFLATE, or framed against RFC 7692: close 1002.
    #[error("{0}")]
    Invalid(String),
}

impl InflateError {
    /// The error inside an I/O error the codec passed on, if it is one of these.
    pub(crate) fn of(error: &io::Error) -> Option<&Self> {
        error.get_ref()?.downcast_ref()
    }
}

/// A socket whose reads inflate compressed client messages when permessage-deflate was
/// agreed, and pass through untouched when not.
#[derive(Debug)]
pub struct Inflating<S> {
    inner: S,
    /// Present when permessage-deflate was agreed.
    reader: Option<Box<Reader>>,
}

impl<S> Inflating<S> {
    /// `inner`, with compressed messages inflated up to `max_message` bytes when `agreed`.
    pub fn new(inner: S, agreed: bool, max_message: usize) -> Self {
        let reader = agreed.then(|| {
            Box::new(Reader {
                input: BytesMut::new(),
                output: BytesMut::new(),
                gathering: None,
                max_message,
                eof: false,
            })
        });
        Self { inner, reader }
    }
}

/// The state of the read side under permessage-deflate.
#[derive(Debug)]
struct Reader {
    /// Read from the socket, not yet looked at.
    input: BytesMut,
    /// For the codec: frames as they came, and inflated messages.
    output: BytesMut,
    /// A compressed message's opcode and its payload so far, unmasked.
    gathering: Option<(u8, Vec<u8>)>,
    max_message: usize,
    /// The socket has ended.
    eof: bool,
}

/// A client frame's header (RFC 6455 5.2).
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    rsv: u8,
    opcode: u8,
    /// `None` when the frame is not masked (the codec refuses it).
    mask: Option<[u8; 4]>,
    len: u64,
    /// The header's own length in bytes.
    size: usize,
}

const RSV1: u8 = 0b100;
const CONTINUATION: u8 = 0x0;

/// The header at the start of `buf`, or `None` until it is all there.
fn header(buf: &[u8]) -> Option<Header> {
    let (&b0, rest) = buf.split_first()?;
    let &b1 = rest.first()?;
    let masked = b1 & 0x80 != 0;
    let (len, mut size) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        short => (u64::from(short), 2),
    };
    let mask = if masked {
        let key: [u8; 4] = buf.get(size..size + 4)?.try_into().ok()?;
        size += 4;
        Some(key)
    } else {
        None
    };
    Some(Header {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        opcode: b0 & 0x0f,
        mask,
        len,
        size,
    })
}

/// A whole message as one final, masked frame (mask key 0: the payload as it is), which the
/// server's codec reads like any client frame.
fn plain_frame(opcode: u8, payload: &[u8], out: &mut BytesMut) {
    out.reserve(payload.len() + 14);
    out.extend_from_slice(&[0x80 | opcode]);
    let len = payload.len();
    if len < 126 {
        out.extend_from_slice(&[0x80 | len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        out.extend_from_slice(&[0x80 | 126]);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.extend_from_slice(&[0x80 | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
}

/// What one look at the input did.
enum Step {
    /// Something moved to the output, or was gathered.
    Progress,
    /// The next frame is not all there.
    NeedMore,
}

impl Reader {
    /// Takes the next whole frame off the input.
    fn step(&mut self) -> Result<Step, InflateError> {
        let Some(head) = header(&self.input) else {
            return Ok(Step::NeedMore);
        };
        let over = head.len > self.max_message as u64;
        let compressed_start = self.gathering.is_none()
            && head.rsv == RSV1
            && matches!(head.opcode, 0x1 | 0x2)
            && head.mask.is_some();
        let continues = self.gathering.is_some() && head.opcode & 0x8 == 0;
        if over && (compressed_start || continues) {
            return Err(InflateError::TooLong(self.max_message));
        }
        if !compressed_start && !continues {
            // Not ours: a control frame (within a compressed message or not) or a plain
            // frame. A frame over the bound goes on as far as it came: the codec refuses
            // its header. The rest of the input follows it once the codec has failed.
            // Not over the bound, the length fits beside the header (a length near 2^64
            // would not).
            let take = if over {
                self.input.len()
            } else {
                head.size + head.len as usize
            };
            if self.input.len() < take {
                return Ok(Step::NeedMore);
            }
            let frame = self.input.split_to(take);
            self.output.extend_from_slice(&frame);
            return Ok(Step::Progress);
        }
        if continues && (head.opcode != CONTINUATION || head.rsv != 0 || head.mask.is_none()) {
            return Err(InflateError::Invalid(format!(
                "a frame with opcode {:#x} and reserved bits {:03b} inside a compressed message; \
                 only masked continuation frames without reserved bits may follow its first \
                 frame (RFC 6455 5.4, RFC 7692 6.1)",
                head.opcode, head.rsv
            )));
        }
        let whole = head.size + head.len as usize;
        if self.input.len() < whole {
            return Ok(Step::NeedMore);
        }
        let mut frame = self.input.split_to(whole);
        frame.advance(head.size);
        let mask = head.mask.unwrap_or_default();
        for (i, byte) in frame.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        let (opcode, mut gathered) = self.gathering.take().unwrap_or((head.opcode, Vec::new()));
        if gathered.len() + frame.len() > self.max_message {
            return Err(InflateError::TooLong(self.max_message));
        }
        gathered.extend_from_slice(&frame);
        if !head.fin {
            self.gathering = Some((opcode, gathered));
            return Ok(Step::Progress);
        }
        let message = super::inflate(&gathered, self.max_message).map_err(|e| match e {
            rawws::deflate::InflateError::TooLong(_) => InflateError::TooLong(self.max_message),
            rawws::deflate::InflateError::Invalid(why) => InflateError::Invalid(why),
        })?;
        plain_frame(opcode, &message, &mut self.output);
        Ok(Step::Progress)
    }

    /// Fills `buf` from the output, reading and transforming more as needed.
    fn poll_read<S: AsyncRead + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.output.is_empty() {
                let n = self.output.len().min(buf.remaining());
                buf.put_slice(&self.output.split_to(n));
                if self.output.is_empty() && self.input.is_empty() {
                    // Between messages a connection holds no buffer.
                    self.output = BytesMut::new();
                    self.input = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                // What was left of a frame goes on: the codec says the connection ended
                // inside it.
                let rest = self.input.split();
                buf.put_slice(&rest[..rest.len().min(buf.remaining())]);
                return Poll::Ready(Ok(()));
            }
            match self.step().map_err(io::Error::other)? {
                Step::Progress => continue,
                Step::NeedMore => {
                    // Read through the thread's scratch buffer: a connection waiting for
                    // its next frame holds no buffer of its own.
                    let read = SCRATCH.with_borrow_mut(|scratch| {
                        let mut chunk = ReadBuf::new(&mut scratch[..]);
                        let polled = Pin::new(&mut *inner).poll_read(cx, &mut chunk);
                        if let Poll::Ready(Ok(())) = polled {
                            self.input.extend_from_slice(chunk.filled());
                            return Poll::Ready(Ok(chunk.filled().len()));
                        }
                        polled.map_ok(|()| 0)
                    });
                    self.eof = ready!(read)? == 0;
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Inflating<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.reader {
            None => Pin::new(&mut this.inner).poll_read(cx, buf),
            Some(reader) => reader.poll_read(&mut this.inner, cx, buf),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inflating<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn through(data: &[u8], agreed: bool) -> (Vec<u8>, io::Result<usize>) {
        let mut out = Vec::new();
        let read = Inflating::new(data, agreed, 4096)
            .read_to_end(&mut out)
            .await;
        (out, read)
    }

    #[tokio::test]
    async fn a_compressed_message_comes_out_as_one_plain_masked_frame() {
        let text = br#"{"message": "hello hello hello hello"}"#;
        let payload = super::super::compress(text).expect("shorter");
        let mask = [1, 2, 3, 4];
        let mut data = vec![0xc1, 0x80 | payload.len() as u8];
        data.extend_from_slice(&mask);
        data.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let (out, read) = through(&data, true).await;
        read.expect("read");
        let mut want = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
        want.extend_from_slice(text);
        assert_eq!(out, want);
        // Without the extension the bytes are the codec's to judge.
        assert_eq!(through(&data, false).await.0, data);
    }

    /// Lengths the codec refuses pass untouched, however large (2^64 - 1 included).
    #[tokio::test]
    async fn a_header_over_the_bound_goes_to_the_codec_as_it_came() {
        for len in [4097u64, 1 << 62, u64::MAX] {
            let mut data = vec![0x81, 0xff];
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(&[0; 4]);
            data.extend_from_slice(b"some of the payload");
            let (out, read) = through(&data, true).await;
            read.expect("read");
            assert_eq!(out, data, "{len}");
        }
    }
}
