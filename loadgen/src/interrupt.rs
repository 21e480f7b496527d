//! The first Ctrl-C during a run: a token the run's phases watch, so an interrupted run still
//! ends its phases in order and writes its result.

use tokio_util::sync::CancellationToken;

/// A token cancelled by the first Ctrl-C while the run lasts.
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
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    Interrupt { token, listener }
}
