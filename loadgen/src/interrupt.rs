//! The first Ctrl-C (or SIGTERM) during a run: a token the run's phases watch, so an
//! interrupted run still ends its phases in order, writes its result and removes what it
//! built (an impaired link's namespaces).

use tokio_util::sync::CancellationToken;

/// A token cancelled by the first Ctrl-C or SIGTERM while the run lasts.
pub struct Interrupt {
    token: CancellationToken,
    listener: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for Interrupt {
    type Target = CancellationToken;
    fn deref(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

pub fn on_ctrl_c() -> Interrupt {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let listener = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => if r.is_err() { return },
            () = terminate => {}
        }
        cancel.cancel();
    });
    Interrupt { token, listener }
}
