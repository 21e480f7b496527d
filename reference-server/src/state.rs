//! What every request handler and session shares: the settings, the channel layer, the
//! counters, the limits' state. Its own module so the server (which builds it) and the
//! handshake (which reads it) do not import each other.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::layer::RoomLayer;
use crate::metrics::Metrics;
use crate::origin::Origin;
use crate::session::SessionContext;

/// How long a session waits for its close frame to be written and answered.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) layer: Arc<dyn RoomLayer>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) budget: Arc<MemoryBudget>,
    pub(crate) origins: Arc<Vec<Origin>>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) ws_config: WebSocketConfig,
}

impl AppState {
    pub(crate) fn origin_allowed(&self, origin: Option<&HeaderValue>) -> bool {
        if self.origins.is_empty() {
            return true;
        }
        origin
            .and_then(|o| o.to_str().ok())
            .and_then(Origin::from_header)
            .is_some_and(|o| self.origins.contains(&o))
    }

    pub(crate) fn session_context(&self) -> SessionContext {
        SessionContext {
            layer: Arc::clone(&self.layer),
            metrics: Arc::clone(&self.metrics),
            budget: Arc::clone(&self.budget),
            limits: self.config.limits(),
            queue_bytes: self.config.queue_bytes,
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
            close_wait: CLOSE_WAIT.min(self.config.shutdown_grace),
            shutdown: self.shutdown.clone(),
        }
    }
}
