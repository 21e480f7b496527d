//! The message reader against tungstenite: random valid server frame sequences (messages of
//! random sizes and kinds, fragmented at random points, even inside a UTF-8 character, with
//! pings and pongs between the fragments) read by both give the same messages, and every
//! ping is answered with its own payload.

use std::io::{Cursor, Read, Write};

use proptest::prelude::*;
use rawws::{Handshake, Next, Ws, op, server_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
use tokio_tungstenite::tungstenite::{self, Message};

/// A message as the server means it: text or binary, and its bytes.
#[derive(Debug, Clone)]
struct Sent {
    text: bool,
    payload: Vec<u8>,
    /// Where the payload is cut into frames, as byte offsets.
    cuts: Vec<usize>,
    /// After which fragment a control frame comes: (index, ping?, payload).
    controls: Vec<(usize, bool, Vec<u8>)>,
}

/// The bytes of every message, then a close 1000.
fn wire(messages: &[Sent]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let mut bounds = vec![0];
        bounds.extend(m.cuts.iter().copied());
        bounds.push(m.payload.len());
        let pieces = bounds.len() - 1;
        for i in 0..pieces {
            let opcode = match (i, m.text) {
                (0, true) => op::TEXT,
                (0, false) => op::BINARY,
                _ => op::CONT,
            };
            let last = i + 1 == pieces;
            out.extend(server_frame(
                last,
                opcode,
                &m.payload[bounds[i]..bounds[i + 1]],
            ));
            for (_, ping, payload) in m.controls.iter().filter(|(at, _, _)| *at == i && !last) {
                let opcode = if *ping { op::PING } else { op::PONG };
                out.extend(server_frame(true, opcode, payload));
            }
        }
    }
    out.extend(server_frame(true, op::CLOSE, &1000u16.to_be_bytes()));
    out
}

fn payload(text: bool, len: usize, seed: u64) -> Vec<u8> {
    if !text {
        return (0..len).map(|i| (seed as usize + i * 31) as u8).collect();
    }
    let alphabet = ["a", "é", "€", "😀", "\n", "z"];
    let mut s = String::new();
    let mut i = seed as usize;
    while s.len() < len {
        s.push_str(alphabet[i % alphabet.len()]);
        i = i.wrapping_mul(7).wrapping_add(3);
    }
    s.into_bytes()
}

fn sent() -> impl Strategy<Value = Sent> {
    // Mostly short messages, some with 16-bit lengths, a few with 64-bit lengths.
    let len = prop_oneof![8 => 0usize..200, 3 => 126usize..3000, 1 => 65_536usize..70_000];
    (any::<bool>(), len, any::<u64>())
        .prop_flat_map(|(text, len, seed)| {
            let payload = payload(text, len, seed);
            let n = payload.len();
            (
                Just(text),
                Just(payload),
                prop::collection::vec(0..=n, 0..5),
                prop::collection::vec(
                    (
                        0usize..5,
                        any::<bool>(),
                        prop::collection::vec(any::<u8>(), 0..=125),
                    ),
                    0..4,
                ),
            )
        })
        .prop_map(|(text, payload, mut cuts, controls)| {
            cuts.sort_unstable();
            Sent {
                text,
                payload,
                cuts,
                controls,
            }
        })
}

/// Reads `bytes` as a client with tungstenite: the data messages until the close.
fn tungstenite_reads(bytes: Vec<u8>) -> Vec<(bool, Vec<u8>)> {
    #[derive(Debug)]
    struct Io(Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Io {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            Read::read(&mut self.0, buf)
        }
    }
    impl Write for Io {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Write::write(&mut self.1, buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut ws = WebSocket::from_raw_socket(Io(Cursor::new(bytes), Vec::new()), Role::Client, None);
    let mut got = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => got.push((true, t.as_bytes().to_vec())),
            Ok(Message::Binary(b)) => got.push((false, b.to_vec())),
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return got,
            Ok(_) => {}
            Err(e) => panic!("tungstenite: {e}"),
        }
    }
}

/// Reads `bytes` with rawws after a handshake over an in-memory stream: the data messages
/// until the close, and the payloads of the pongs it wrote.
async fn rawws_reads(bytes: Vec<u8>) -> (Vec<(bool, Vec<u8>)>, Vec<Vec<u8>>) {
    let (client, mut server) = tokio::io::duplex(1 << 20);
    let serve = tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            server.read_exact(&mut b).await.expect("request");
            head.push(b[0]);
        }
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        server.write_all(response.as_bytes()).await.expect("101");
        server.write_all(&bytes).await.expect("frames");
        let mut from_client = Vec::new();
        server
            .read_to_end(&mut from_client)
            .await
            .expect("client bytes");
        from_client
    });
    let wait = std::time::Duration::from_secs(5);
    let Handshake::Accepted(mut ws) = Ws::handshake_on(client, "h", "/", "", wait)
        .await
        .expect("handshake")
    else {
        panic!("refused");
    };
    let mut got = Vec::new();
    loop {
        match ws.next(wait).await.expect("a valid stream") {
            Next::Frame(f) if f.opcode == op::CLOSE => break,
            Next::Frame(f) => got.push((f.opcode == op::TEXT, f.payload)),
            other => panic!("{other:?}"),
        }
    }
    drop(ws);
    let from_client = serve.await.expect("server");
    (got, client_pongs(&from_client))
}

/// The payloads of the pong frames the client wrote (masked client frames).
fn client_pongs(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut pongs = Vec::new();
    while bytes.len() >= 6 {
        let opcode = bytes[0] & 0x0F;
        let len = usize::from(bytes[1] & 0x7F);
        assert!(len < 126, "the client's pongs are short");
        let mask = [bytes[2], bytes[3], bytes[4], bytes[5]];
        let payload: Vec<u8> = bytes[6..6 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        if opcode == op::PONG {
            pongs.push(payload);
        }
        bytes = &bytes[6 + len..];
    }
    pongs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rawws_reads_what_tungstenite_reads(messages in prop::collection::vec(sent(), 1..6)) {
        let bytes = wire(&messages);
        let want = tungstenite_reads(bytes.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (got, pongs) = runtime.block_on(rawws_reads(bytes));
        prop_assert_eq!(&got, &want);
        let sent: Vec<(bool, Vec<u8>)> = messages.iter().map(|m| (m.text, m.payload.clone())).collect();
        prop_assert_eq!(&got, &sent);
        // The pings in the order wire() wrote them: after fragment 0, 1, ... of each message.
        let pings: Vec<Vec<u8>> = messages
            .iter()
            .flat_map(|m| {
                (0..m.cuts.len()).flat_map(move |i| {
                    m.controls
                        .iter()
                        .filter(move |(at, ping, _)| *ping && *at == i)
                        .map(|(_, _, p)| p.clone())
                })
            })
            .collect();
        prop_assert_eq!(pongs, pings);
    }
}
