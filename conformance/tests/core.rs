//! Every core case as its own test, against `CHAT_TARGET` or, when it is unset, the reference
//! server started in-process: `CHAT_TARGET=http://127.0.0.1:8000 cargo test -p conformance`.

mod common;

use conformance::case::Level;

macro_rules! core_cases {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                common::assert_passes($id).await;
            }
        )*

        #[test]
        fn every_core_case_has_its_own_test() {
            let listed = [$($id),*];
            // The hostile cases attack a named target only: tests/hostile.rs runs them.
            let hostile = |c: &&conformance::case::Case| {
                c.section() == conformance::cases::hostile::SECTION
            };
            for case in conformance::cases::all()
                .iter()
                .filter(|c| c.level == Level::Core)
                .filter(|c| !hostile(c))
            {
                assert!(listed.contains(&case.id), "{} has no test in core.rs", case.id);
            }
        }
    };
}

core_cases! {
    rooms_valid_names => "rooms.valid-names",
    rooms_query_ignored => "rooms.query-ignored",
    rooms_percent_decoded => "rooms.percent-decoded",
    rooms_case_sensitive => "rooms.case-sensitive",
    rooms_refused => "rooms.refused",
    broadcast_self_echo => "broadcast.self-echo",
    broadcast_all_members => "broadcast.all-members",
    broadcast_only_message => "broadcast.only-message",
    broadcast_nothing_else => "broadcast.nothing-else",
    payload_values => "payload.values",
    payload_fragmented => "payload.fragmented",
    payload_large => "payload.large",
    order_single_sender => "order.single-sender",
    order_rooms_isolated => "order.rooms-isolated",
    order_leave_rejoin => "order.leave-rejoin",
    order_rooms_alike => "order.rooms-alike",
    order_idle_member => "order.idle-member",
    big_room_every_member => "big-room.every-member",
    big_room_joining_while_busy => "big-room.joining-while-busy",
    bad_input_not_json => "bad-input.not-json",
    bad_input_not_object => "bad-input.not-object",
    bad_input_no_message => "bad-input.no-message",
    bad_input_empty => "bad-input.empty",
    bad_input_binary => "bad-input.binary",
    bad_input_invalid_utf8 => "bad-input.invalid-utf8",
    life_ping_pong => "life.ping-pong",
    life_client_close => "life.client-close",
    deflate_negotiation => "deflate.negotiation",
    deflate_messages => "deflate.messages",
    deflate_late_member => "deflate.late-member",
    deflate_control_frames => "deflate.control-frames",
    model_programs => "model.programs",
}
