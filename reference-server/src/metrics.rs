//! The server's counters, exposed on `GET /metrics` in the Prometheus text format.
//!
//! Counters are atomics updated off the hot path where possible: delivered frames are added
//! once per batch a session writes, not once per frame.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabel {
    pub(crate) code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabel {
    pub(crate) status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabel {
    pub(crate) result: &'static str,
}

/// Every figure the server reports. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) open_connections: Gauge,
    pub(crate) rooms: Gauge,
    pub(crate) messages_received: Counter,
    pub(crate) frames_delivered: Counter,
    pub(crate) fanout_helper_frames: Counter,
    pub(crate) publisher_frames: Counter,
    pub(crate) deflate_compressions: Counter,
    pub(crate) slow_member_closes: Counter,
    pub(crate) memory_budget_closes: Counter,
    pub(crate) memory_used: Gauge,
    pub(crate) pending_connections: Gauge,
    pub(crate) pending_evictions: Counter,
    pub(crate) handshake_timeouts: Counter,
    pub(crate) tls_handshake_failures: Counter,
    pub(crate) tls_reloads: Family<ResultLabel, Counter>,
    pub(crate) closes: Family<CodeLabel, Counter>,
    pub(crate) handshakes_refused: Family<StatusLabel, Counter>,
    pub(crate) redis_connected: Gauge,
    pub(crate) redis_connects: Counter,
    pub(crate) redis_frames: Counter,
    pub(crate) redis_published: Counter,
    pub(crate) redis_echoed: Counter,
    pub(crate) redis_received: Counter,
    pub(crate) redis_local_only: Counter,
    pub(crate) redis_publish_timeouts: Counter,
    pub(crate) redis_malformed: Counter,
    pub(crate) redis_over_capacity: Counter,
    /// Built on the first scrape, over handles to the fields above.
    registry: OnceLock<Registry>,
}

impl Metrics {
    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let registry = self.registry.get_or_init(|| self.register());
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, registry);
        out
    }

    /// The registry `render` encodes, built once: it holds handles to the same atomics. The
    /// server's own metrics are `chat_*`; the standard process metrics sit at the root.
    fn register(&self) -> Registry {
        let mut root = Registry::default();
        root.register_collector(Box::new(crate::process_metrics::ProcessMetrics));
        let registry = root.sub_registry_with_prefix("chat");
        for (name, help, gauge) in self.gauges() {
            registry.register(name, help, gauge.clone());
        }
        for (name, help, counter) in self.counters() {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "tls_reloads",
            "Certificate reloads on SIGHUP, by result (ok, failed: the previous pair stays)",
            self.tls_reloads.clone(),
        );
        registry.register("closes", "WebSocket connections ended, by the close code the server sent or answered (1006: ended without a close frame)", self.closes.clone());
        registry.register(
            "handshakes_refused",
            "WebSocket handshakes refused, by HTTP status",
            self.handshakes_refused.clone(),
        );
        root
    }

    /// Every gauge: name, help, value.
    fn gauges(&self) -> [(&'static str, &'static str, &Gauge); 5] {
        [
            (
                "open_connections",
                "WebSocket connections open now",
                &self.open_connections,
            ),
            ("rooms", "Rooms with at least one member", &self.rooms),
            (
                "memory_used_bytes",
                "Bytes held in outgoing queues and half-received messages (see --memory-budget)",
                &self.memory_used,
            ),
            (
                "pending_connections",
                "HTTP connections open that are not WebSockets (see --max-pending)",
                &self.pending_connections,
            ),
            (
                "redis_connected",
                "1 while the Redis layer is connected (always 0 without --layer)",
                &self.redis_connected,
            ),
        ]
    }

    /// Every plain counter: name, help, value.
    fn counters(&self) -> [(&'static str, &'static str, &Counter); 19] {
        [
            (
                "messages_received",
                "Valid messages received from clients and broadcast",
                &self.messages_received,
            ),
            (
                "frames_delivered",
                "Broadcast frames written to member sockets",
                &self.frames_delivered,
            ),
            (
                "fanout_helper_frames",
                "Broadcast frames the fan-out helper thread wrote to member sockets (counted in frames_delivered too)",
                &self.fanout_helper_frames,
            ),
            (
                "publisher_frames",
                "Broadcast frames a publisher wrote straight into an idle member's socket (counted in frames_delivered too)",
                &self.publisher_frames,
            ),
            (
                "deflate_compressions",
                "Broadcasts compressed for members that agreed to permessage-deflate: once per broadcast and node, whatever the number of such members",
                &self.deflate_compressions,
            ),
            (
                "slow_member_closes",
                "Members closed with 1013 because their outgoing queue was full",
                &self.slow_member_closes,
            ),
            (
                "memory_budget_closes",
                "Connections closed with 1013 because the server's memory budget was exhausted",
                &self.memory_budget_closes,
            ),
            (
                "pending_evictions",
                "HTTP connections dropped to make room for a new one (--max-pending reached)",
                &self.pending_evictions,
            ),
            (
                "handshake_timeouts",
                "HTTP connections dropped because a request head took longer than --handshake-timeout",
                &self.handshake_timeouts,
            ),
            (
                "tls_handshake_failures",
                "TLS handshakes that failed or did not complete within --handshake-timeout",
                &self.tls_handshake_failures,
            ),
            (
                "redis_connects",
                "Connections made to Redis (the first and every reconnection)",
                &self.redis_connects,
            ),
            (
                "redis_frames",
                "Frames this node's members sent into rooms on the Redis layer: each is echoed back from Redis or counted local-only",
                &self.redis_frames,
            ),
            (
                "redis_published",
                "Frames published to Redis",
                &self.redis_published,
            ),
            (
                "redis_echoed",
                "Frames this node published that came back to it from Redis",
                &self.redis_echoed,
            ),
            (
                "redis_received",
                "Frames received from Redis room channels",
                &self.redis_received,
            ),
            (
                "redis_local_only",
                "Frames that reached only this node's members: not published (Redis unreachable, the room's subscription not confirmed on the current connection, the queue full), or published and not back when the connection was lost",
                &self.redis_local_only,
            ),
            (
                "redis_publish_timeouts",
                "native and pubsub formats: publishes that did not answer within 500 ms (the connection reset; its frames wait for their echo, else count local-only)",
                &self.redis_publish_timeouts,
            ),
            (
                "redis_malformed",
                "Messages on room channels that were not UTF-8 text, skipped",
                &self.redis_malformed,
            ),
            (
                "redis_over_capacity",
                "channels format: queues a message was not added to because they held 100 (skipped, as Django's group_send does)",
                &self.redis_over_capacity,
            ),
        ]
    }

    pub(crate) fn closed(&self, code: u16) {
        self.closes.get_or_create(&CodeLabel { code }).inc();
    }

    pub(crate) fn refused(&self, status: u16) {
        self.handshakes_refused
            .get_or_create(&StatusLabel { status })
            .inc();
    }

    /// Messages received so far (for tests and the health check).
    pub fn messages_received(&self) -> u64 {
        self.messages_received.get()
    }

    pub fn open_connections(&self) -> i64 {
        self.open_connections.get()
    }

    pub fn rooms(&self) -> i64 {
        self.rooms.get()
    }

    pub fn redis_local_only(&self) -> u64 {
        self.redis_local_only.get()
    }

    pub fn redis_publish_timeouts(&self) -> u64 {
        self.redis_publish_timeouts.get()
    }

    pub fn redis_malformed(&self) -> u64 {
        self.redis_malformed.get()
    }

    pub fn redis_received(&self) -> u64 {
        self.redis_received.get()
    }

    pub fn redis_over_capacity(&self) -> u64 {
        self.redis_over_capacity.get()
    }

    pub fn redis_published(&self) -> u64 {
        self.redis_published.get()
    }

    pub fn redis_frames(&self) -> u64 {
        self.redis_frames.get()
    }

    pub fn redis_echoed(&self) -> u64 {
        self.redis_echoed.get()
    }

    pub fn redis_connects(&self) -> u64 {
        self.redis_connects.get()
    }

    pub fn slow_member_closes(&self) -> u64 {
        self.slow_member_closes.get()
    }

    pub fn memory_budget_closes(&self) -> u64 {
        self.memory_budget_closes.get()
    }

    pub fn pending_connections(&self) -> i64 {
        self.pending_connections.get()
    }

    pub fn pending_evictions(&self) -> u64 {
        self.pending_evictions.get()
    }

    pub fn handshake_timeouts(&self) -> u64 {
        self.handshake_timeouts.get()
    }

    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_handshake_failures.get()
    }

    pub(crate) fn tls_reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.tls_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Connections that ended with `code` (as sent, answered, or 1006 without a close frame).
    pub fn closes(&self, code: u16) -> u64 {
        self.closes.get_or_create(&CodeLabel { code }).get()
    }

    /// Handshakes refused with HTTP `status`.
    pub fn refusals(&self, status: u16) -> u64 {
        self.handshakes_refused
            .get_or_create(&StatusLabel { status })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_rendered() {
        let m = Metrics::default();
        m.redis_over_capacity.inc_by(3);
        m.closed(1006);
        let text = m.render();
        for line in [
            "chat_redis_over_capacity_total 3",
            "chat_closes_total{code=\"1006\"} 1",
            "chat_memory_used_bytes 0",
            "chat_pending_evictions_total 0",
            "chat_handshake_timeouts_total 0",
            "chat_memory_budget_closes_total 0",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE process_cpu_seconds counter",
            "# TYPE process_open_fds gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
