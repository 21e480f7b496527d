//! Benchmark: the reference server's resident memory per idle WebSocket connection.
//!
//! ```text
//! cargo build --release -p reference-server --bins --examples
//! target/release/examples/idle_memory --connections 10000
//! ```
//!
//! Starts the release `reference-server` binary as its own process (so only its memory is
//! measured), reads its RSS, opens the connections over `--rooms` rooms with raw handshakes,
//! waits until the server reports them all open, reads the RSS again, and prints the difference
//! per connection. The server's keepalive is set beyond the run, since these clients never
//! answer pings. With `--deflate` every handshake offers permessage-deflate (and must be
//! agreed); with `--send-one` every connection sends one message into its room (compressed
//! under `--deflate`) and the server delivers them all before the measure, so what is
//! measured is a member that has been through the write and read paths and is idle again.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// Idle connections to hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Offer permessage-deflate (the server must agree).
    #[arg(long)]
    deflate: bool,
    /// Send one message from each connection (compressed under --deflate) before measuring.
    #[arg(long)]
    send_one: bool,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("no VmRSS value")?
        .parse()?)
}

async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}

async fn metric(addr: SocketAddr, name: &str) -> anyhow::Result<u64> {
    let body = http_get(addr, "/metrics").await?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .with_context(|| format!("no {name} in /metrics"))?
        .trim()
        .parse()
        .context("bad metric")
}

async fn open_connections(addr: SocketAddr) -> anyhow::Result<u64> {
    metric(addr, "chat_open_connections").await
}

async fn handshake(addr: SocketAddr, room: usize, deflate: bool) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let offer = if deflate {
        format!("Sec-WebSocket-Extensions: {}\r\n", rawws::deflate::OFFER)
    } else {
        String::new()
    };
    let request = format!(
        "GET /ws/chat/idle_{room}/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("closed during the handshake");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        bail!("refused: {}", String::from_utf8_lossy(&head));
    }
    if deflate && !String::from_utf8_lossy(&head).contains("permessage-deflate") {
        bail!(
            "permessage-deflate not agreed: {}",
            String::from_utf8_lossy(&head)
        );
    }
    Ok(stream)
}

/// One masked text frame carrying `text`, compressed as the server agreed (RSV1 set) when
/// `deflate`.
fn text_frame(text: &str, deflate: bool) -> Vec<u8> {
    if !deflate {
        assert!(text.len() < 126, "a short message");
        // FIN, text; masked with a zero key, so the payload goes as it is.
        let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(text.as_bytes());
        return frame;
    }
    let agreed = rawws::deflate::negotiated(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    )
    .expect("valid");
    let mut deflater = rawws::deflate::Deflater::new(&agreed).expect("15 bits");
    let payload = deflater.deflate(text.as_bytes());
    assert!(payload.len() < 126, "a short message");
    // FIN, RSV1, text; masked with a zero key, so the payload goes as it is.
    let mut frame = vec![0xc1, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(&payload);
    frame
}

/// Each connection sends one message; returns once the server has broadcast them all and
/// written every delivery.
async fn send_one_each(
    addr: SocketAddr,
    held: &mut [TcpStream],
    rooms: usize,
    deflate: bool,
) -> anyhow::Result<()> {
    let frame = text_frame(
        r#"{"message": "hello, idle room, hello again, hello"}"#,
        deflate,
    );
    let received = metric(addr, "chat_messages_received_total").await?;
    let delivered = metric(addr, "chat_frames_delivered_total").await?;
    for stream in held.iter_mut() {
        stream.write_all(&frame).await?;
    }
    let n = held.len();
    // Connection i is in room i % rooms, and every member of a room gets each message of it.
    let deliveries: usize = (0..rooms)
        .map(|r| n / rooms + usize::from(r < n % rooms))
        .map(|size| size * size)
        .sum();
    let want = (received + n as u64, delivered + deliveries as u64);
    let started = Instant::now();
    loop {
        let now = (
            metric(addr, "chat_messages_received_total").await?,
            metric(addr, "chat_frames_delivered_total").await?,
        );
        if now.0 >= want.0 && now.1 >= want.1 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("after 60 s the server had received and delivered {now:?} of {want:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX).context("raise the open-files limit")?;
    let exe = std::env::current_exe()?;
    let server_bin = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("reference-server"))
        .filter(|p| p.exists())
        .context("build the server first: cargo build --release -p reference-server")?;
    let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Killed(
        Command::new(&server_bin)
            .args(["--bind", &addr.to_string(), "--ping-interval", "1h"])
            .args(["--max-connections", &(args.connections + 10).to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", server_bin.display()))?,
    );
    let pid = server.0.id();
    let started = Instant::now();
    while open_connections(addr).await.is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("the server did not come up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let before = rss_kib(pid)?;
    let started = Instant::now();
    let mut held = Vec::with_capacity(args.connections);
    let mut next = 0;
    while next < args.connections {
        let batch = args.concurrency.min(args.connections - next);
        let handshakes: Vec<_> = (next..next + batch)
            .map(|i| tokio::spawn(handshake(addr, i % args.rooms, args.deflate)))
            .collect();
        for h in handshakes {
            held.push(h.await??);
        }
        next += batch;
    }
    let connect_time = started.elapsed();
    while open_connections(addr).await? < args.connections as u64 {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server never reported every connection open");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if args.send_one {
        send_one_each(addr, &mut held, args.rooms, args.deflate).await?;
    }
    let after = rss_kib(pid)?;
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / args.connections as f64;
    println!(
        "connections: {}  rooms: {}  connect time: {:.2?}{}",
        args.connections,
        args.rooms,
        connect_time,
        match (args.deflate, args.send_one) {
            (true, true) => "  permessage-deflate agreed, one compressed message sent by each",
            (true, false) => "  permessage-deflate agreed",
            (false, true) => "  one message sent by each",
            (false, false) => "",
        }
    );
    println!("server RSS before: {before} KiB  after: {after} KiB");
    println!(
        "server RSS per idle connection: {:.1} KiB ({per_conn:.0} bytes)",
        per_conn / 1024.0
    );
    drop(held);
    Ok(())
}
