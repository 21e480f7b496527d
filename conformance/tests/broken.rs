//! The suite must be able to fail: against servers with one deliberate fault each, the case
//! that checks that behaviour FAILs, and cases unrelated to it still PASS.

mod common;

use conformance::case::Outcome;
use conformance::target::Target;
use fault_server::Faults;

/// Runs `fail ++ pass` against a fault server and checks each verdict.
async fn graded(faults: Faults, fail: &[&str], pass: &[&str]) {
    let server = fault_server::spawn(faults).await.expect("fault server");
    let target = Target::parse(&server.url()).expect("target");
    let ids: Vec<&str> = fail.iter().chain(pass).copied().collect();
    let reports = common::run_ids(&target, &ids).await;
    for r in &reports {
        let want = if fail.contains(&r.id.as_str()) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        assert_eq!(r.verdict, want, "{}: {}", r.id, r.evidence);
    }
}

/// Cases that every fault below leaves alone.
const UNRELATED: &[&str] = &[
    "life.ping-pong",
    "life.no-subprotocol",
    "life.no-compression",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_free_server_passes_every_core_case() {
    let server = fault_server::spawn(Faults::default())
        .await
        .expect("fault server");
    let target = Target::parse(&server.url()).expect("target");
    let all = conformance::cases::all();
    let selected = conformance::runner::select(&all, conformance::runner::Profile::Core, &[]);
    let reports = conformance::runner::run_all(selected, &common::ctx_for(&target), 8).await;
    for r in &reports {
        assert_eq!(r.verdict, Outcome::Pass, "{}: {}", r.id, r.evidence);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_self_echo() {
    let faults = Faults {
        no_self_echo: true,
        ..Faults::default()
    };
    graded(
        faults,
        &["broadcast.self-echo", "broadcast.all-members"],
        &[UNRELATED, &["rooms.refused"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_into_another_room() {
    let faults = Faults {
        leak_to_other_rooms: true,
        ..Faults::default()
    };
    graded(
        faults,
        &["order.rooms-isolated"],
        &[UNRELATED, &["broadcast.self-echo", "rooms.refused"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_deliveries() {
    let faults = Faults {
        drop_rate: 0.2,
        seed: 3,
        ..Faults::default()
    };
    graded(
        faults,
        &["order.single-sender", "model.programs"],
        &[UNRELATED, &["rooms.refused"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_deliveries() {
    let faults = Faults {
        dup_rate: 0.2,
        seed: 5,
        ..Faults::default()
    };
    graded(
        faults,
        &["order.single-sender", "model.programs"],
        &[UNRELATED, &["rooms.refused"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering() {
    let faults = Faults {
        reorder: true,
        ..Faults::default()
    };
    graded(
        faults,
        &["order.single-sender"],
        &[UNRELATED, &["rooms.refused", "broadcast.self-echo"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_non_ascii() {
    let faults = Faults {
        mangle_non_ascii: true,
        ..Faults::default()
    };
    graded(
        faults,
        &["payload.values"],
        &[UNRELATED, &["broadcast.self-echo", "order.single-sender"]].concat(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncates_long_messages() {
    let faults = Faults {
        truncate_over: Some(4096),
        ..Faults::default()
    };
    graded(
        faults,
        &["payload.large"],
        &[UNRELATED, &["payload.values", "broadcast.self-echo"]].concat(),
    )
    .await;
}

/// The fault server queues without bound for every member: one that never reads is kept and
/// everything is buffered for it. The reference case FAILs that; the informational one says it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_a_member_that_never_reads() {
    let server = fault_server::spawn(Faults::default())
        .await
        .expect("fault server");
    let target = Target::parse(&server.url()).expect("target");
    let reports = common::run_ids(&target, &["slow.evicted", "slow.member"]).await;
    assert_eq!(reports[0].verdict, Outcome::Fail, "{}", reports[0].evidence);
    assert_eq!(reports[1].verdict, Outcome::Informational);
    for r in &reports {
        assert!(
            r.evidence.contains("found 256 of 256") && r.evidence.contains("still open"),
            "{}: {}",
            r.id,
            r.evidence
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dies_on_bad_json() {
    let faults = Faults {
        die_on_bad_json: true,
        ..Faults::default()
    };
    graded(faults, &["bad-input.not-json"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_any_path() {
    let faults = Faults {
        accept_any_path: true,
        ..Faults::default()
    };
    graded(faults, &["rooms.refused"], UNRELATED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folds_case_in_room_names() {
    let faults = Faults {
        fold_case: true,
        ..Faults::default()
    };
    graded(
        faults,
        &["rooms.case-sensitive"],
        &[UNRELATED, &["rooms.refused", "broadcast.self-echo"]].concat(),
    )
    .await;
}

/// A room that serves only its first members (a capacity cap, as channels_redis's group
/// sends drop members): every small-room case passes, the big-room cases fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_capped_at_its_first_members() {
    let faults = Faults {
        room_cap: Some(40),
        ..Faults::default()
    };
    graded(
        faults,
        &["big-room.every-member", "big-room.joining-while-busy"],
        &[
            UNRELATED,
            &[
                "broadcast.all-members",
                "order.single-sender",
                "model.programs",
            ],
        ]
        .concat(),
    )
    .await;
}
