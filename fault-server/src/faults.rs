//! The faults a server can be given, each a way of being wrong.

use std::time::Duration;

use crate::Style;

/// At most this many sockets kept open by `keep_sockets` (the process's descriptor limit is
/// 20,000 on the machines this runs on).
pub const KEPT_SOCKETS: usize = 5_000;

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every delivery is held this long before it is written.
    pub delay: Duration,
    /// A serial fan-out: the k-th member of a room (in join order, from 0) gets each
    /// delivery k times this later than the first.
    pub stagger: Duration,
    /// Probability that a delivery is dropped.
    pub drop_rate: f64,
    /// `drop_rate` applies only in rooms of more members than this.
    pub drop_over_members: Option<usize>,
    /// `drop_rate` applies only this long after the server's first broadcast, from the first
    /// time to the second.
    pub drop_window: Option<(Duration, Duration)>,
    /// Probability that a delivery is written twice.
    pub dup_rate: f64,
    /// Seed for the dice.
    pub seed: u64,
    /// The sender does not get its own message.
    pub no_self_echo: bool,
    /// Every message also goes to every member of every other room.
    pub leak_to_other_rooms: bool,
    /// Members disagree on how the senders' messages interleave, each sender's own order
    /// kept: a member gets the messages of a sender whose connection number has the other
    /// parity than its own this much later, on a lane of its own (so they are overtaken by
    /// the other senders' messages, never by their own sender's). Two members of different
    /// parity see two senders' messages sent within this time in opposite orders.
    pub interleave: Option<Duration>,
    /// Answers overtake their questions: a member gets the messages of a sender this much
    /// later, on the late lane, when their connection numbers add up to a multiple of 3.
    /// Each sender's order is kept for every member, but a sender that got a message on
    /// time and answered it reaches some members before that message does: connection 3
    /// gets 1's message on time and answers, and 5 gets 1's message late (1 + 5 = 6) and
    /// 3's answer on time.
    pub causal_skew: Option<Duration>,
    /// Every other message of a room is held back 50 ms, so the room's next one, if it comes
    /// within 50 ms, overtakes it.
    pub reorder: bool,
    /// Characters outside ASCII become `?` in what is broadcast.
    pub mangle_non_ascii: bool,
    /// Text that is not JSON stops the whole server: listener and every connection.
    pub die_on_bad_json: bool,
    /// Any path is accepted as a room (the whole path is the room's name).
    pub accept_any_path: bool,
    /// Room names are folded to lower case.
    pub fold_case: bool,
    /// Rooms are keyed by the first this many characters of their names: rooms whose names
    /// share that prefix are one room (a key column cut short).
    pub room_prefix: Option<usize>,
    /// Rooms are hashed onto this many shared channels: rooms whose names fall in one
    /// bucket are one room (a fixed pool of pub/sub channels).
    pub room_buckets: Option<u64>,
    /// A member that has sent nothing for this long (since it joined or last sent) silently
    /// stops receiving: a presence TTL, as channels_redis's `group_expiry` set low.
    pub forget_idle: Option<Duration>,
    /// A message longer than this many characters is cut to it before the broadcast.
    pub truncate_over: Option<usize>,
    /// A known capacity: broadcasts (messages, whatever the room's size) are served one after
    /// another at most this many per second, as a single queue; above it latency grows
    /// without bound and nothing is lost.
    pub max_broadcasts_per_s: Option<f64>,
    /// A joining member is added to its room only this long after its 101 (a join race:
    /// messages sent right after the 101 miss it).
    pub join_late: Duration,
    /// A joining member first gets `{"message": "welcome"}`, which nobody sent (a greeting or
    /// presence frame: the server sends something else than the room's messages).
    pub greet: bool,
    /// A joining member first gets the room's last this many messages (history replayed:
    /// messages broadcast before it joined).
    pub replay_on_join: usize,
    /// Only a room's first this many members get its broadcasts; later joiners get nothing,
    /// silently (a capacity cap, as channels_redis's group sends drop members).
    pub room_cap: Option<usize>,
    /// Every connection is closed with 1012 ("service restart") this long after its 101,
    /// as when a node is rolled: clients must reconnect.
    pub kick_after: Option<Duration>,
    /// With `kick_after`, only connections that have sent no message are closed (a proxy
    /// that ends connections idle in the client's direction): senders stay, so what they
    /// send after the kick is lost to the listeners for good.
    pub kick_silent_only: bool,
    /// Every broadcast write of the whole server takes one lock until the socket has taken it
    /// (one thread writing, as a synchronous group send does): a member that never reads
    /// stalls every room once its socket is full.
    pub one_writer: bool,
    /// Every accepted socket stays open after its session ends (a descriptor leak, as a
    /// server that never closes what it is done with), up to [`KEPT_SOCKETS`] of them:
    /// the descriptors the process holds (`FaultServer::metrics_url`) only grow.
    pub keep_sockets: bool,
    /// permessage-deflate, done right or wrong (see [`Deflate`](crate::Deflate)): every
    /// session then runs on the raw socket, where only the broadcast's own faults apply.
    pub deflate: Option<crate::Deflate>,
    /// Not a fault: a valid way of framing and greeting (see [`Style`]).
    pub style: Style,
}
