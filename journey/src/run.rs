//! A journey run: the embedded reference server when goose has no `--host`, the scenario,
//! and goose's attack (its reports, thresholds and exit status are goose's).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use endpoint::Endpoint;
use goose::GooseAttack;
use goose::metrics::GooseMetrics;

use crate::opts::Opts;
use crate::rooms::Rooms;
use crate::scenario::{Journey, scenario};

/// A socket that has not opened within this counts as a failed connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the journey as `opts` says and returns goose's metrics.
pub async fn run(opts: Opts) -> anyhow::Result<GooseMetrics> {
    let mut config = opts.goose_configuration()?;
    let server = match &config.host {
        Some(_) => None,
        None => {
            let server = embedded::start()
                .await
                .context("start the in-process reference server")?;
            eprintln!(
                "journey: no --host: the reference server runs in-process at {}",
                server.http_url()
            );
            config.host = Some(server.http_url());
            Some(server)
        }
    };
    let host = config.host.clone().unwrap_or_default();
    let endpoint = Endpoint::parse_with(host.trim_end_matches('/'), &opts.tls.resolve)
        .with_context(|| format!("--host {host}"))?;
    if opts.tls.insecure {
        // The pages too, through goose's own client.
        config.accept_invalid_certs = true;
    }
    let tls = opts
        .tls
        .client_for("journey", std::slice::from_ref(&endpoint))?;
    let run_id = rand::random::<u32>();
    let journey = Arc::new(Journey {
        rooms: Rooms::new(opts.rooms, opts.popularity, run_id),
        messages: opts.messages,
        echo_timeout: opts.echo_timeout,
        endpoint,
        tls,
        connect_timeout: CONNECT_TIMEOUT,
        deflate: opts.deflate,
    });
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario(journey, opts.think)?)
        .execute()
        .await;
    if let Some(server) = server {
        server.stop().await?;
    }
    Ok(metrics?)
}

/// The reference server in-process when goose has no `--host`: with the `embedded` feature
/// (on by default); built without it, journey links none of the server's stack.
mod embedded {
    #[cfg(feature = "embedded")]
    pub async fn start() -> anyhow::Result<reference_server::RunningServer> {
        reference_server::spawn(reference_server::Config::local()).await
    }

    #[cfg(not(feature = "embedded"))]
    pub async fn start() -> anyhow::Result<Never> {
        anyhow::bail!(
            "this journey was built without the embedded reference server (feature \
             `embedded`): name the backend with --host URL"
        )
    }

    /// Stands for the server in a build without one: it cannot be made.
    #[cfg(not(feature = "embedded"))]
    #[derive(Debug)]
    pub enum Never {}

    #[cfg(not(feature = "embedded"))]
    impl Never {
        pub fn http_url(&self) -> String {
            match *self {}
        }

        pub async fn stop(self) -> anyhow::Result<()> {
            match self {}
        }
    }
}
