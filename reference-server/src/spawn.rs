//! A server running in the background of the current runtime, owned by its caller: what tests,
//! the conformance suite and the load generator start when no target is given.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::Server;

/// A running server; [`RunningServer::stop`] shuts it down and waits for it.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    /// Serving https/wss.
    pub tls: bool,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Binds `config.bind` and serves in a background task.
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let tls = config.tls_cert.is_some();
    let server = Server::bind(config).await?;
    let addr = server.local_addr()?;
    let metrics = server.metrics();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(shutdown.clone()));
    Ok(RunningServer {
        addr,
        metrics,
        tls,
        shutdown,
        task,
    })
}

impl RunningServer {
    /// `http://addr` (`https://` with TLS).
    pub fn http_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// `ws://addr` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        format!("{}://{}", if self.tls { "wss" } else { "ws" }, self.addr)
    }

    /// Starts shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Shuts down (every WebSocket closed with 1001) and waits for the server to return.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?
    }
}
