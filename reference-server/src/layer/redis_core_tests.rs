//! The outcome of a publish, as the publishers report it to [`Core`].

use super::*;
use crate::rooms::DirectWrite;

#[derive(Debug)]
struct NoSubscriptions;

impl Subscriptions for NoSubscriptions {
    fn want(&self, _: &RoomName, _: Option<oneshot::Sender<()>>) {}
    fn release(&self, _: &RoomName) {}
}

fn core() -> (Core, RoomName) {
    let metrics = Arc::new(Metrics::default());
    let (publish, _) = mpsc::channel(16);
    let core = Core::new(
        Box::new(NoSubscriptions),
        Outage::Hold,
        Rooms::new(Arc::clone(&metrics), DirectWrite::NEVER),
        metrics,
        CancellationToken::new(),
        publish,
    );
    let room = RoomName::parse("r").expect("room");
    core.set_connected(true);
    core.confirm(&room);
    (core, room)
}

fn frames(room: &RoomName, texts: &[&str]) -> Vec<Outgoing> {
    texts
        .iter()
        .map(|t| Outgoing::Frame(room.clone(), Frame::from(*t)))
        .collect()
}

fn texts(items: &[Outgoing]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|i| match i {
            Outgoing::Frame(_, f) | Outgoing::Deferred(_, f) => Some(f.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_refused_pipeline_is_published_again_in_its_order() {
    let (core, room) = core();
    let sent = core.prepare(frames(&room, &["one", "two", "three"]));
    assert_eq!(texts(&sent), ["one", "two", "three"]);
    core.publish_failed_all(&sent);
    // The room's next frame takes them along, first and in order.
    let again = core.prepare(frames(&room, &["four"]));
    assert_eq!(texts(&again), ["one", "two", "three", "four"]);
}

#[tokio::test]
async fn a_timed_out_pipeline_is_never_published_again_and_counts_once_skipped() {
    let (core, room) = core();
    let sent = core.prepare(frames(&room, &["one", "two"]));
    core.publish_timed_out(&sent);
    let next = core.prepare(frames(&room, &["three"]));
    assert_eq!(texts(&next), ["three"], "not published twice");
    // "three" comes back first: Redis never took the others; they reach this node's
    // members now, counted local-only.
    core.received(&room, &Frame::from("three"));
    assert_eq!(core.metrics.redis_local_only(), 2);
    assert_eq!(core.metrics.redis_publish_timeouts(), 1);
    assert_eq!(core.echo.waiting(), 0);
}
