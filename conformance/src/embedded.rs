//! The reference server started in-process when no backend is named: with the `embedded`
//! feature (on by default). Built without it, the suite links none of the server's stack
//! (axum, hyper, redis) and asks for a target instead.

use crate::target::Target;

/// Keeps the in-process server running until dropped or stopped.
#[derive(Debug)]
pub struct Embedded {
    #[cfg(feature = "embedded")]
    server: reference_server::RunningServer,
}

impl Embedded {
    /// Starts the reference server on a loopback port; its target says so in its label.
    pub async fn start() -> anyhow::Result<(Target, Self)> {
        #[cfg(feature = "embedded")]
        {
            let server = reference_server::spawn(reference_server::Config::local()).await?;
            let mut target = Target::parse(&server.http_url())?;
            target.label = format!("{} (in-process reference server)", target.label);
            Ok((target, Self { server }))
        }
        #[cfg(not(feature = "embedded"))]
        anyhow::bail!(
            "this conformance was built without the embedded reference server (feature \
             `embedded`): name the backend with --target URL or CHAT_TARGET"
        )
    }

    /// Stops the server and waits for its shutdown.
    pub async fn stop(self) -> anyhow::Result<()> {
        #[cfg(feature = "embedded")]
        self.server.stop().await?;
        Ok(())
    }
}
