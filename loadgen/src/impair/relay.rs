//! The user-space half of an impaired link: a relay between impaired members and the
//! backend that holds every chunk of bytes, each way, for half the round trip plus a
//! uniform jitter draw before passing it on (as toxiproxy's latency toxic does). A chunk is
//! never passed before the one read before it, so TCP's byte order holds; the delay is
//! emulated, the backend's socket sees an ordinary, prompt peer except that the relay stops
//! reading when it holds [`HELD_CHUNKS`] chunks of at most [`CHUNK`] bytes each way (1 MiB),
//! so a member that does not keep up still pushes back on the backend.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The most bytes a read takes at once.
pub const CHUNK: usize = 16 * 1024;
/// Chunks held each way per connection before the relay stops reading.
pub const HELD_CHUNKS: usize = 64;

/// How long a chunk is held each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Half the round trip.
    pub one_way: Duration,
    /// The hold varies uniformly by up to half of this either side.
    pub jitter: Duration,
}

impl Hold {
    fn draw(&self, rng: &mut StdRng) -> Duration {
        if self.jitter.is_zero() {
            return self.one_way;
        }
        let half = self.jitter.as_secs_f64() / 2.0;
        let hold = self.one_way.as_secs_f64() + rng.random_range(-half..=half);
        Duration::from_secs_f64(hold.max(0.0))
    }
}

/// A listening relay; dropping it stops accepting and ends every connection it passes.
#[derive(Debug)]
pub struct Relay {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays every connection `listener` accepts to `upstream` with `hold`; the draws are
/// seeded by `seed`.
pub fn spawn(
    listener: TcpListener,
    upstream: SocketAddr,
    hold: Hold,
    seed: u64,
) -> io::Result<Relay> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut passes = tokio::task::JoinSet::new();
        for n in 0u64.. {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((down, _)) = accepted else { continue };
                    let seed = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    passes.spawn(async move {
                        // The member sees its connection end at once, and counts that.
                        if let Err(e) = pass(down, upstream, hold, seed).await {
                            tracing::debug!("relay: {upstream} not reached: {e}");
                        }
                    });
                }
                // Reap finished passes so the set does not grow with churn.
                Some(_) = passes.join_next(), if !passes.is_empty() => {}
            }
        }
    });
    Ok(Relay { addr, task })
}

/// One member's connection: both ways until each has ended. Err only if the backend could
/// not be reached.
async fn pass(down: TcpStream, upstream: SocketAddr, hold: Hold, seed: u64) -> io::Result<()> {
    let up = TcpStream::connect(upstream).await?;
    let _ = up.set_nodelay(true);
    let _ = down.set_nodelay(true);
    let (down_read, down_write) = down.into_split();
    let (up_read, up_write) = up.into_split();
    tokio::join!(
        pump(down_read, up_write, hold, StdRng::seed_from_u64(seed)),
        pump(up_read, down_write, hold, StdRng::seed_from_u64(!seed)),
    );
    Ok(())
}

/// One way: read chunks, hold each until its time, write them in order. The end of the
/// reading side (or an error) is passed on as a FIN once everything held is written.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, hold: Hold, mut rng: StdRng) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Bytes)>(HELD_CHUNKS);
    let reading = async move {
        let mut last = Instant::now();
        loop {
            let mut buf = BytesMut::with_capacity(CHUNK);
            match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let due = last.max(Instant::now() + hold.draw(&mut rng));
                    last = due;
                    // Waits while HELD_CHUNKS are held; ends when the writing side has.
                    if tx.send((due, buf.freeze())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writing = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_stay_within_the_jitter_and_never_below_zero() {
        let hold = Hold {
            one_way: Duration::from_millis(40),
            jitter: Duration::from_millis(20),
        };
        let mut rng = StdRng::seed_from_u64(7);
        let draws: Vec<Duration> = (0..1000).map(|_| hold.draw(&mut rng)).collect();
        assert!(draws.iter().all(|d| (30..=50).contains(&d.as_millis())));
        assert!(draws.iter().any(|d| d.as_millis() < 35));
        assert!(draws.iter().any(|d| d.as_millis() >= 45));
        let zero = Hold {
            one_way: Duration::ZERO,
            jitter: Duration::ZERO,
        };
        assert_eq!(zero.draw(&mut rng), Duration::ZERO);
    }

    #[tokio::test]
    async fn passes_bytes_both_ways_in_order_after_the_hold() {
        let backend = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = backend.local_addr().expect("addr");
        let hold = Hold {
            one_way: Duration::from_millis(50),
            jitter: Duration::from_millis(20),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let relay = spawn(listener, upstream, hold, 1).expect("relay");
        let echo = tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.expect("accept");
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = s.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.expect("write");
            }
        });
        let mut member = TcpStream::connect(relay.addr).await.expect("connect");
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let started = Instant::now();
        member.write_all(&sent).await.expect("send");
        member.shutdown().await.expect("fin");
        let mut back = Vec::new();
        member.read_to_end(&mut back).await.expect("read");
        // Both ways held at least 40 ms (50 - 10).
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(back, sent);
        echo.await.expect("echo");
    }
}
