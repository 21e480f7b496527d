//! The flags both tools take for TLS and name resolution, defined once (`#[command(flatten)]`).

use std::path::PathBuf;

use crate::Endpoint;
use crate::resolve::Resolve;
use crate::tls::{TlsClient, TlsOptions, TlsSetupError};

/// `--ca-cert`, `--insecure`, `--resolve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Trust the CA certificate(s) in this PEM file for https/wss targets, instead of the
    /// system's roots.
    #[arg(long, value_name = "PATH", env = "CHAT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify https/wss targets' certificates (a warning is printed).
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,

    /// Connect to ADDR when a target names HOST (and PORT), keeping HOST for the Host header
    /// and TLS, as curl's --resolve: HOST:PORT:ADDR or HOST:ADDR. Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<Resolve>,
}

impl TlsArgs {
    /// The TLS client when any of `targets` speaks TLS; `--insecure` is said on stderr, in
    /// `tool`'s name.
    pub fn client_for(
        &self,
        tool: &str,
        targets: &[Endpoint],
    ) -> Result<Option<TlsClient>, TlsSetupError> {
        if !targets.iter().any(|t| t.tls) {
            return Ok(None);
        }
        if self.insecure {
            eprintln!(
                "{tool}: WARNING: --insecure: TLS certificates are not verified; anyone on the path could be answering"
            );
        }
        TlsClient::new(&TlsOptions {
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
        })
        .map(Some)
    }
}
