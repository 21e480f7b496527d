//! The reference server, started in-process on its own threads when no `--target` is given:
//! with the `embedded` feature (on by default); built without it, loadgen links none of the
//! server's stack and asks for a target.

use std::net::SocketAddr;
use std::thread::JoinHandle;

#[cfg(feature = "embedded")]
use anyhow::Context as _;
use tokio::sync::oneshot;

/// A reference server on its own runtime; dropped or [`stop`](Self::stop)ped, it shuts down.
#[derive(Debug)]
pub struct EmbeddedServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedServer {
    #[cfg(not(feature = "embedded"))]
    pub fn start(_connections: u64, _threads: usize) -> anyhow::Result<Self> {
        anyhow::bail!(
            "this loadgen was built without the embedded reference server (feature `embedded`): \
             name the backend with --target URL"
        )
    }

    /// Starts the server on `127.0.0.1:0`, sized for `connections`.
    #[cfg(feature = "embedded")]
    pub fn start(connections: u64, threads: usize) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("reference-server")
            .enable_all()
            .build()
            .context("start the embedded server's runtime")?;
        let mut config = reference_server::Config::local();
        config.max_connections = usize::try_from(connections)
            .unwrap_or(usize::MAX)
            .saturating_add(16);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("reference-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match reference_server::spawn(config).await {
                        Ok(server) => {
                            let _ = addr_tx.send(Ok(server.addr));
                            let _ = stop_rx.await;
                            if let Err(e) = server.stop().await {
                                tracing::warn!(error = %e, "embedded server stopped with an error");
                            }
                        }
                        Err(e) => {
                            let _ = addr_tx.send(Err(e));
                        }
                    }
                });
            })
            .context("start the embedded server's thread")?;
        let addr = addr_rx
            .recv()
            .context("the embedded server's thread ended early")??;
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Shuts the server down (its sockets get 1001) and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
