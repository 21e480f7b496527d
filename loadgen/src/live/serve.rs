//! `--metrics-bind ADDR`: the live metrics in OpenMetrics text, at any path, while the run
//! lasts.
//!
//! Bound: at most [`CONNECTIONS`] scrapers at once (more wait in the listen backlog), each
//! connection closed after [`CONNECTION_WAIT`]; the text is rendered once per interval, not
//! per scrape.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Scrapers served at once.
pub const CONNECTIONS: usize = 16;
/// How long one scraper's connection may stay.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(10);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` and serves the latest text of `text` until the task is aborted.
pub async fn start(
    addr: SocketAddr,
    text: watch::Receiver<Bytes>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let text = text.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                    let body = text.borrow().clone();
                    async move {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header(CONTENT_TYPE, OPENMETRICS)
                                .body(Full::new(body))
                                .unwrap_or_default(),
                        )
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service);
                let _ = tokio::time::timeout(CONNECTION_WAIT, connection).await;
                drop(permit);
            });
        }
    });
    Ok((bound, task))
}
