//! Live metrics while a run lasts: Prometheus remote-write pushes (`--out prometheus-rw=URL`)
//! and an OpenMetrics endpoint (`--metrics-bind ADDR`), every `--out-interval`, from one
//! view of the run ([`view`]).
//!
//! The view is the run-wide counts (the coordinator's atomics) and the workers' latency
//! histograms and error counts, which each worker copies to its slot of the [`Board`] once
//! per interval; `streaming.rs` puts them together for a run. Missing deliveries are
//! known only when the run ends, so live pushes carry 0 until the final push, which carries
//! the result's own figures: the last `loadgen_deliveries_total` a receiver holds is the
//! result's `delivered`.
//!
//! Every sample is labelled `run_id` (this process's run), `plan` (the same for every shard of
//! a plan: `sum by (plan)` adds shards up), `target` and, when sharded, `shard` (`K/N`).

pub mod board;
pub mod remote_write;
pub mod serve;
pub mod view;

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use board::Board;
use remote_write::{Pushed, Pusher};
pub use view::Figures;

use crate::server_load::MetricsUrl;
use crate::shard::Shard;

/// Where the remote-write protocol's receiver usually listens.
const REMOTE_WRITE_PATH: &str = "/api/v1/write";

/// `--out`: a sink for live metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// `prometheus-rw=URL`: Prometheus remote-write.
    PrometheusRw(MetricsUrl),
}

impl FromStr for Out {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some(("prometheus-rw", url)) => Ok(Self::PrometheusRw(MetricsUrl::with_default_path(
                url,
                REMOTE_WRITE_PATH,
            )?)),
            _ => Err(format!(
                "{s:?}: write prometheus-rw=http://host:port{REMOTE_WRITE_PATH}"
            )),
        }
    }
}

/// What the run streams, and how often.
#[derive(Debug, Clone)]
pub struct LivePlan {
    pub outs: Vec<Out>,
    pub bind: Option<SocketAddr>,
    pub every: Duration,
}

impl LivePlan {
    pub fn is_on(&self) -> bool {
        !self.outs.is_empty() || self.bind.is_some()
    }
}

/// The labels every sample carries.
pub fn labels(
    run_id: u32,
    plan_id: Option<&str>,
    shard: Option<Shard>,
    targets: &[String],
) -> Vec<(String, String)> {
    let run_id = format!("{run_id:08x}");
    let mut labels = vec![
        (
            "plan".to_owned(),
            plan_id.map_or_else(|| run_id.clone(), str::to_owned),
        ),
        ("run_id".to_owned(), run_id),
        ("target".to_owned(), targets.join(",")),
    ];
    if let Some(shard) = shard {
        labels.push((
            "shard".to_owned(),
            format!("{}/{}", shard.index, shard.count),
        ));
    }
    labels
}

/// The streaming side of a run: the ticker, the pushers, the endpoint.
#[derive(Debug)]
pub struct Live {
    labels: Vec<(String, String)>,
    text: Option<watch::Sender<Bytes>>,
    server: Option<JoinHandle<()>>,
    stop: CancellationToken,
    ticker: Option<JoinHandle<Vec<Pusher>>>,
}

impl Drop for Live {
    /// A run that ends without [`Live::finish`] (it failed) stops streaming too.
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl Live {
    /// Binds `--metrics-bind` (an error if it cannot), starts the pushers and the ticker.
    pub async fn start(
        plan: &LivePlan,
        labels: Vec<(String, String)>,
        figures: impl Fn() -> Figures + Send + 'static,
    ) -> anyhow::Result<Self> {
        let (text, server) = match plan.bind {
            Some(addr) => {
                let (tx, rx) = watch::channel(Bytes::new());
                let (bound, task) = serve::start(addr, rx)
                    .await
                    .with_context(|| format!("--metrics-bind {addr}"))?;
                tracing::info!("live metrics at http://{bound}/metrics");
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let pushers: Vec<Pusher> = plan
            .outs
            .iter()
            .map(|Out::PrometheusRw(url)| Pusher::start(url.clone()))
            .collect();
        let stop = CancellationToken::new();
        let ticker = tokio::spawn({
            let (stop, text, labels, every) =
                (stop.clone(), text.clone(), labels.clone(), plan.every);
            async move {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return pushers,
                        _ = interval.tick() => {
                            emit(&figures(), &labels, text.as_ref(), &pushers);
                        }
                    }
                }
            }
        });
        Ok(Self {
            labels,
            text,
            server,
            stop,
            ticker: Some(ticker),
        })
    }

    /// Stops the ticker and pushes `last` to every receiver (waited for, within the push
    /// timeout); reports what became of the pushes.
    pub async fn finish(mut self, last: &Figures) -> Vec<(String, Pushed)> {
        self.stop.cancel();
        let pushers = match self.ticker.take() {
            Some(ticker) => ticker.await.unwrap_or_default(),
            None => Vec::new(),
        };
        let families = last.families();
        if let Some(text) = &self.text {
            text.send_replace(Bytes::from(view::openmetrics(&families, &self.labels)));
        }
        let body = remote_write::encode(view::series(&families, &self.labels));
        let mut report = Vec::new();
        for pusher in pushers {
            let url = pusher.url.url.clone();
            let pushed = pusher.finish(body.clone()).await;
            match &pushed.first_error {
                Some(why) => tracing::warn!(
                    "prometheus-rw {url}: {} pushed, {} failed (first: {why}), {} dropped",
                    pushed.ok,
                    pushed.failed,
                    pushed.dropped
                ),
                None => tracing::info!(
                    "prometheus-rw {url}: {} pushed, {} dropped",
                    pushed.ok,
                    pushed.dropped
                ),
            }
            report.push((url, pushed));
        }
        report
    }
}

/// One interval's output: the endpoint's text, and a push queued for every receiver.
fn emit(
    figures: &Figures,
    labels: &[(String, String)],
    text: Option<&watch::Sender<Bytes>>,
    pushers: &[Pusher],
) {
    let families = figures.families();
    if let Some(text) = text {
        text.send_replace(Bytes::from(view::openmetrics(&families, labels)));
    }
    if !pushers.is_empty() {
        let body = remote_write::encode(view::series(&families, labels));
        for pusher in pushers {
            pusher.offer(body.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outs_parse_with_a_default_path_and_refuse_the_unknown() {
        let Out::PrometheusRw(url) = "prometheus-rw=http://127.0.0.1:9090"
            .parse()
            .expect("valid");
        assert_eq!(url.path, "/api/v1/write");
        assert!("prometheus-rw=https://x:1".parse::<Out>().is_err());
        let err = "influx=http://x:1".parse::<Out>().expect_err("unknown");
        assert!(err.contains("prometheus-rw="), "{err}");
    }

    #[test]
    fn shards_of_one_plan_share_the_plan_label() {
        let a = labels(1, Some("abcd1234"), Some(Shard { index: 0, count: 2 }), &[]);
        let b = labels(2, Some("abcd1234"), Some(Shard { index: 1, count: 2 }), &[]);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert_eq!(a[3], ("shard".to_owned(), "0/2".to_owned()));
    }
}
