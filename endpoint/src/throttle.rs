//! A slow reader's pace: at most a rate of bytes a second taken from the socket, as a member
//! on a slow phone or a browser tab in the background reads. A token bucket holding at most
//! [`BURST`] bytes (or a second's worth, if less); an empty bucket makes the read wait on a
//! timer, so the kernel's receive buffer fills and TCP's window closes towards the server, as
//! it does for a real slow reader. A rate of 0 never reads. Once [`SlowRead::until`] is
//! cancelled (the run is over) it reads at full speed, so that the tool can learn how the
//! server ended the connection (a close frame sits behind everything queued for it).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A slow reader's pace, and until when it keeps it.
#[derive(Debug, Clone)]
pub struct SlowRead {
    /// Bytes a second; 0 reads nothing.
    pub rate: u64,
    /// Cancelled: the pace is lifted.
    pub until: CancellationToken,
}

/// The most a reader takes at once after a pause.
pub const BURST: u64 = 4096;

/// The bucket.
#[derive(Debug)]
pub struct Throttle {
    rate: u64,
    burst: u64,
    tokens: u64,
    last: Instant,
    wait: Option<Pin<Box<Sleep>>>,
    lifted: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Throttle {
    /// `slow`'s pace until it is lifted.
    pub fn new(slow: &SlowRead) -> Self {
        let burst = BURST.min(slow.rate).max(1);
        Self {
            rate: slow.rate,
            burst,
            tokens: burst,
            last: Instant::now(),
            wait: None,
            lifted: Box::pin(slow.until.clone().cancelled_owned()),
        }
    }

    /// How many bytes may be read now, `None` once the pace is lifted (the reader then
    /// drops the throttle); `Pending` (with a wake-up armed: the pace's timer and the
    /// lifting) when none.
    pub fn poll_allowed(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        if self.lifted.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if self.rate == 0 {
            // Only the lifting wakes it.
            return Poll::Pending;
        }
        loop {
            self.refill();
            if self.tokens > 0 {
                self.wait = None;
                return Poll::Ready(Some(self.tokens as usize));
            }
            // The time until one burst is back.
            let until = Duration::from_secs_f64(self.burst as f64 / self.rate as f64);
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(until)));
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.wait = None;
        }
    }

    /// `n` bytes were read.
    pub fn spent(&mut self, n: usize) {
        self.tokens = self.tokens.saturating_sub(n as u64);
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = (now - self.last).as_secs_f64() * self.rate as f64;
        if earned >= 1.0 {
            self.tokens = (self.tokens + earned as u64).min(self.burst);
            self.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn slow(rate: u64) -> SlowRead {
        SlowRead {
            rate,
            until: CancellationToken::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn takes_at_most_the_rate() {
        let mut throttle = Throttle::new(&slow(8192));
        let started = Instant::now();
        let mut taken = 0;
        while taken < 8192 * 3 {
            let n = poll_fn(|cx| throttle.poll_allowed(cx))
                .await
                .expect("not lifted");
            let n = n.min(1000);
            throttle.spent(n);
            taken += n;
        }
        // The first burst is there at once; the rest comes at the rate.
        let took = started.elapsed().as_secs_f64();
        let least = (8192.0 * 3.0 - BURST as f64) / 8192.0;
        assert!(took >= least * 0.99 && took <= least * 1.1, "{took} s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_of_zero_never_reads_until_lifted() {
        let pace = slow(0);
        let mut throttle = Throttle::new(&pace);
        let read = tokio::time::timeout(
            Duration::from_secs(3600),
            poll_fn(|cx| throttle.poll_allowed(cx)),
        );
        assert!(read.await.is_err());
        // Lifting wakes a reader that waits.
        let lift = pace.until.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            lift.cancel();
        });
        let n = poll_fn(|cx| throttle.poll_allowed(cx)).await;
        assert_eq!(n, None);
    }
}
