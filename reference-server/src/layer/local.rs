//! The single-process layer: a publish is a direct delivery to the room's members.

use protocol::RoomName;

use crate::frame::Frame;
use crate::layer::RoomLayer;
use crate::rooms::{Member, Membership, Rooms};

/// The single-process layer: a publish is a direct delivery.
#[derive(Debug)]
pub struct LocalLayer {
    rooms: Rooms,
}

impl LocalLayer {
    pub fn new(rooms: Rooms) -> Self {
        Self { rooms }
    }

    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }
}

impl RoomLayer for LocalLayer {
    fn join(&self, room: &RoomName, member: Member) -> Membership {
        self.rooms.join(room, member)
    }

    fn leave(&self, membership: &Membership) {
        self.rooms.leave(membership);
    }

    fn publish(&self, from: &Membership, frame: Frame) {
        self.rooms.deliver(from, &frame);
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use std::sync::Arc;

    use super::*;
    use crate::budget::MemoryBudget;
    use crate::metrics::Metrics;
    use crate::rooms::{DirectWrite, FrameReceiver};

    fn member(queue_bytes: usize) -> (Member, FrameReceiver, CancellationToken) {
        Member::new(queue_bytes, Arc::new(MemoryBudget::new(usize::MAX)))
    }

    fn recv(rx: &mut FrameReceiver) -> Option<Frame> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match rx.poll_recv(&mut cx) {
            std::task::Poll::Ready(frame) => frame,
            std::task::Poll::Pending => None,
        }
    }

    fn layer(metrics: Arc<Metrics>) -> LocalLayer {
        LocalLayer::new(Rooms::new(metrics, DirectWrite::NEVER))
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("valid room")
    }

    #[test]
    fn every_member_gets_the_same_frames_in_the_same_order() {
        let layer = layer(Arc::default());
        let (a, mut rx_a, _) = member(1000);
        let (b, mut rx_b, _) = member(1000);
        let ma = layer.join(&room("r"), a);
        let mb = layer.join(&room("r"), b);
        layer.publish(&ma, Frame::from("1"));
        layer.publish(&mb, Frame::from("2"));
        for rx in [&mut rx_a, &mut rx_b] {
            assert_eq!(recv(rx).as_deref(), Some("1"));
            assert_eq!(recv(rx).as_deref(), Some("2"));
            assert!(recv(rx).is_none());
        }
    }

    #[test]
    fn rooms_are_isolated_and_disappear_with_their_last_member() {
        let metrics = Arc::new(Metrics::default());
        let layer = layer(Arc::clone(&metrics));
        let (a, _rx_a, _) = member(1000);
        let (b, mut rx_b, _) = member(1000);
        let ma = layer.join(&room("one"), a);
        let mb = layer.join(&room("two"), b);
        assert_eq!(metrics.rooms(), 2);
        layer.publish(&ma, Frame::from("x"));
        assert!(recv(&mut rx_b).is_none());
        layer.leave(&ma);
        layer.leave(&ma);
        assert_eq!(layer.rooms().member_count(&room("one")), 0);
        assert_eq!(metrics.rooms(), 1);
        layer.leave(&mb);
        assert_eq!(metrics.rooms(), 0);
    }

    #[test]
    fn a_full_queue_evicts_the_member_and_counts_it() {
        let metrics = Arc::new(Metrics::default());
        let layer = layer(Arc::clone(&metrics));
        let (slow, _rx_slow, slow_evicted) = member(2 * (1 + crate::queue::FRAME_OVERHEAD));
        let (fast, mut rx_fast, fast_evicted) = member(1000);
        let m_slow = layer.join(&room("r"), slow);
        let _m_fast = layer.join(&room("r"), fast);
        for i in 0..3 {
            layer.publish(&m_slow, Frame::from(i.to_string()));
            assert!(recv(&mut rx_fast).is_some());
            rx_fast.flushed();
        }
        assert!(slow_evicted.is_cancelled());
        assert!(!fast_evicted.is_cancelled());
        assert_eq!(metrics.slow_member_closes(), 1);
        assert_eq!(layer.rooms().member_count(&room("r")), 1);
    }
}
