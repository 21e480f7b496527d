//! Test support for the writers of a member's socket (`outlet/`, `spread.rs`): a
//! connected pair of real sockets, with small buffers where a test needs writes to end
//! part-way.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// A connected pair, the server side first; `server_sndbuf` is set on the listening socket
/// (the accepted one inherits it), `client_rcvbuf` on the client's.
pub(crate) async fn connected(
    server_sndbuf: Option<u32>,
    client_rcvbuf: Option<u32>,
) -> (TcpStream, TcpStream) {
    let listening = TcpSocket::new_v4().expect("socket");
    if let Some(size) = server_sndbuf {
        listening.set_send_buffer_size(size).expect("sndbuf");
    }
    listening
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = listening.listen(16).expect("listen");
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = client_rcvbuf {
        socket.set_recv_buffer_size(size).expect("rcvbuf");
    }
    let connect = socket.connect(listener.local_addr().expect("addr"));
    let (client, accepted) = tokio::join!(connect, listener.accept());
    let (server, _) = accepted.expect("accept");
    (server, client.expect("connect"))
}

/// Reads exactly `len` bytes, within 10 s.
pub(crate) async fn read_exactly(client: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    timeout(Duration::from_secs(10), client.read_exact(&mut got))
        .await
        .expect("the bytes in time")
        .expect("read");
    got
}
