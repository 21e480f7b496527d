//! Prometheus remote-write 1.0 (`--out prometheus-rw=URL`): a `WriteRequest` protobuf,
//! snappy-compressed (block format), POSTed with the protocol's headers.
//!
//! Queue policy: pushes wait in a queue of [`QUEUE`]; when the receiver is slower than the
//! interval, a new push is dropped and counted (each push carries cumulative counters, so a
//! dropped one costs resolution, not counts). A failing receiver is counted and reported,
//! and never slows the run: the pushes run on their own task, each within [`PUSH_WAIT`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use prost::Message as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::server_load::MetricsUrl;

/// Pushes waiting to be sent at most; more are dropped and counted.
pub const QUEUE: usize = 4;
/// How long one push may take.
pub const PUSH_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The compressed body of one push: every series with one sample, stamped now.
pub fn encode(series: Vec<(Vec<(String, String)>, f64)>) -> Bytes {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let request = WriteRequest {
        timeseries: series
            .into_iter()
            .map(|(labels, value)| TimeSeries {
                labels: labels
                    .into_iter()
                    .map(|(name, value)| Label { name, value })
                    .collect(),
                samples: vec![Sample { value, timestamp }],
            })
            .collect(),
    };
    let raw = request.encode_to_vec();
    // Snappy's block format cannot fail on a buffer this size.
    Bytes::from(
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            .unwrap_or_default(),
    )
}

/// One POST of `body`; the error says what went wrong.
pub async fn post(url: &MetricsUrl, body: Bytes) -> Result<(), String> {
    let attempt = async {
        let tcp = TcpStream::connect(url.endpoint.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(connection);
        let request = Request::post(url.path.as_str())
            .header(HOST, url.endpoint.authority.as_str())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header(USER_AGENT, concat!("loadgen/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = match status.is_success() {
            true => String::new(),
            false => response
                .into_body()
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned())
                .unwrap_or_default(),
        };
        connection.abort();
        match status.is_success() {
            true => Ok(()),
            false => Err(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )),
        }
    };
    tokio::time::timeout(PUSH_WAIT, attempt)
        .await
        .map_err(|_| format!("no answer within {PUSH_WAIT:?}"))?
}

/// What became of the pushes to one receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    pub ok: u64,
    pub failed: u64,
    pub dropped: u64,
    pub first_error: Option<String>,
}

/// The counts, kept where both the push task and [`Pusher::finish`] see them.
#[derive(Debug, Default)]
struct Counts {
    /// Pushes queued (not dropped at the queue).
    queued: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counts {
    async fn push(&self, url: &MetricsUrl, body: Bytes) {
        match post(url, body).await {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    tracing::warn!("prometheus-rw {}: {why}", url.url);
                    *first = Some(why);
                }
            }
        }
    }
}

/// A receiver's push queue and the task that empties it.
#[derive(Debug)]
pub struct Pusher {
    pub url: MetricsUrl,
    queue: mpsc::Sender<Bytes>,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Pusher {
    pub fn start(url: MetricsUrl) -> Self {
        let (queue, mut bodies) = mpsc::channel::<Bytes>(QUEUE);
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn({
            let (url, counts) = (url.clone(), Arc::clone(&counts));
            async move {
                while let Some(body) = bodies.recv().await {
                    counts.push(&url, body).await;
                }
            }
        });
        Self {
            url,
            queue,
            counts,
            task,
        }
    }

    /// Queues a push, or drops and counts it when the queue is full. Never waits.
    pub fn offer(&self, body: Bytes) {
        match self.queue.try_send(body) {
            Ok(()) => self.counts.queued.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counts.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// Gives the queued pushes [`PUSH_WAIT`] to go out (the rest are dropped and counted),
    /// then pushes `last`, the final counts, within [`PUSH_WAIT`] too: the run's end waits
    /// at most twice that for a receiver that does not answer. Says what became of every
    /// push.
    pub async fn finish(self, last: Bytes) -> Pushed {
        drop(self.queue);
        let mut task = self.task;
        if tokio::time::timeout(PUSH_WAIT, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
            // What was queued and never answered: the push in flight and those behind it.
            let c = &self.counts;
            let answered = c.ok.load(Ordering::Relaxed) + c.failed.load(Ordering::Relaxed);
            let unsent = c.queued.load(Ordering::Relaxed).saturating_sub(answered);
            c.dropped.fetch_add(unsent, Ordering::Relaxed);
        }
        self.counts.push(&self.url, last).await;
        Pushed {
            ok: self.counts.ok.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
            dropped: self.counts.dropped.load(Ordering::Relaxed),
            first_error: self
                .counts
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_decodes_back_to_its_series() {
        let body = encode(vec![(
            vec![
                ("__name__".into(), "loadgen_sent_total".into()),
                ("run_id".into(), "r".into()),
            ],
            7.0,
        )]);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("snappy");
        let request = WriteRequest::decode(raw.as_slice()).expect("protobuf");
        assert_eq!(request.timeseries.len(), 1);
        let series = &request.timeseries[0];
        assert_eq!(series.labels[0].value, "loadgen_sent_total");
        assert_eq!(series.samples[0].value, 7.0);
        assert!(series.samples[0].timestamp > 1_700_000_000_000);
    }
}
