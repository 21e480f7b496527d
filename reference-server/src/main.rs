//! `reference-server --bind 127.0.0.1:8000`: see `--help` for every flag.

use anyhow::Context as _;
use clap::Parser as _;
use reference_server::{Config, LogFormat, Server};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Descriptors kept for the listener, Redis, logs and the runtime.
const RESERVED_FILES: u64 = 64;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            edge::print_error("reference-server", &e);
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::parse();
    config.validate()?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a terminal: a redirected log file gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    // Each connection is a descriptor; the soft limit is often far below the hard one.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::debug!(limit, "open-files limit");
            let needed = (config.max_connections + config.max_pending) as u64 + RESERVED_FILES;
            if needed > limit {
                tracing::warn!(
                    limit,
                    needed,
                    "--max-connections {} + --max-pending {} + {RESERVED_FILES} reserved exceed \
                     the open-files limit: lower --max-connections, or accept may fail when full",
                    config.max_connections,
                    config.max_pending
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
    let server = Server::bind(config).await?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    server.run(shutdown).await.context("server failed")
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
