//! The suite must be able to fail: against servers with one deliberate fault each, the case
//! that checks that behaviour FAILs, and cases unrelated to it still PASS.

mod common;

use conformance::case::Outcome;
use conformance::target::Target;
use fault_server::Faults;

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

/// One deliberate fault: the cases that must FAIL against it, and cases it must leave passing.
struct Broken {
    name: &'static str,
    faults: Faults,
    fail: &'static [&'static str],
    pass: Vec<&'static str>,
}

/// `cases` and [`UNRELATED`].
fn also(cases: &[&'static str]) -> Vec<&'static str> {
    [UNRELATED, cases].concat()
}

/// The default faults, changed by `f`.
fn with(f: fn(&mut Faults)) -> Faults {
    let mut faults = Faults::default();
    f(&mut faults);
    faults
}

/// Every fault server and its verdicts.
fn table() -> Vec<Broken> {
    let mut rows = vec![
        Broken {
            name: "no self-echo",
            faults: with(|f| f.no_self_echo = true),
            fail: &["broadcast.self-echo", "broadcast.all-members"],
            pass: also(&["rooms.refused"]),
        },
        Broken {
            name: "a leak into another room",
            faults: with(|f| f.leak_to_other_rooms = true),
            fail: &["order.rooms-isolated"],
            pass: also(&["broadcast.self-echo", "rooms.refused"]),
        },
        Broken {
            // Half: the fault must reach some of the deliveries of every case listed as
            // failing, model.programs' random programs included.
            name: "drops half of the deliveries",
            faults: with(|f| {
                f.drop_rate = 0.5;
                f.seed = 3;
            }),
            fail: &["order.single-sender", "model.programs"],
            pass: also(&["rooms.refused"]),
        },
        Broken {
            // Half, as for drops.
            name: "duplicates half of the deliveries",
            faults: with(|f| {
                f.dup_rate = 0.5;
                f.seed = 5;
            }),
            fail: &["order.single-sender", "model.programs"],
            pass: also(&["rooms.refused"]),
        },
        // Each sender's order kept, the interleaving of senders not common to the members.
        Broken {
            name: "lets members disagree on the interleaving of senders",
            faults: with(|f| f.interleave = Some(std::time::Duration::from_millis(30))),
            fail: &["order.one-order"],
            pass: also(&["order.single-sender", "broadcast.all-members"]),
        },
        // An answer can overtake its question: a third of the (member, sender) pairs get
        // their frames on a late lane, so members disagree on the order, and a member who
        // answers at once can be heard before what it answered. model.programs catches it in
        // about half of its runs only (its random programs may not interleave two senders
        // closely enough), so it is in neither list.
        Broken {
            name: "lets an answer overtake its question",
            faults: with(|f| f.causal_skew = Some(std::time::Duration::from_millis(30))),
            fail: &["order.one-order"],
            pass: also(&["order.single-sender", "broadcast.all-members"]),
        },
        Broken {
            name: "reorders",
            faults: with(|f| f.reorder = true),
            fail: &["order.single-sender"],
            pass: also(&["rooms.refused", "broadcast.self-echo"]),
        },
        Broken {
            name: "greets every member that joins",
            faults: with(|f| f.greet = true),
            fail: &["broadcast.nothing-else"],
            pass: also(&["rooms.refused"]),
        },
        Broken {
            name: "mangles non-ASCII",
            faults: with(|f| f.mangle_non_ascii = true),
            fail: &["payload.values"],
            pass: also(&["broadcast.self-echo", "order.single-sender"]),
        },
        Broken {
            name: "truncates long messages",
            faults: with(|f| f.truncate_over = Some(4096)),
            fail: &["payload.large"],
            pass: also(&["payload.values", "broadcast.self-echo"]),
        },
        Broken {
            name: "dies on bad JSON",
            faults: with(|f| f.die_on_bad_json = true),
            fail: &["bad-input.not-json"],
            // Its server is down after the case: nothing else is graded.
            pass: vec![],
        },
        Broken {
            name: "accepts any path",
            faults: with(|f| f.accept_any_path = true),
            fail: &["rooms.refused"],
            pass: also(&[]),
        },
        Broken {
            name: "folds case in room names",
            faults: with(|f| f.fold_case = true),
            fail: &["rooms.case-sensitive", "order.rooms-alike"],
            pass: also(&["rooms.refused", "broadcast.self-echo"]),
        },
        // A room that serves only its first members (a capacity cap, as channels_redis's
        // group sends drop members): every small-room case passes, the big-room cases fail.
        Broken {
            name: "a room capped at its first 40 members",
            faults: with(|f| f.room_cap = Some(40)),
            fail: &["big-room.every-member", "big-room.joining-while-busy"],
            pass: also(&[
                "broadcast.all-members",
                "order.single-sender",
                "model.programs",
            ]),
        },
    ];
    rows.extend(members_and_rooms());
    rows
}

/// Rooms merged by their names, and members forgotten while silent.
fn members_and_rooms() -> Vec<Broken> {
    vec![
        // Three ways of merging rooms whose names look alike; only the case with many such
        // rooms sees the first two (every other case's rooms differ early).
        Broken {
            name: "keys rooms by their first 12 characters",
            faults: with(|f| f.room_prefix = Some(12)),
            fail: &["order.rooms-alike"],
            pass: also(&["order.rooms-isolated", "broadcast.self-echo"]),
        },
        Broken {
            name: "hashes rooms onto 48 shared channels",
            faults: with(|f| f.room_buckets = Some(48)),
            fail: &["order.rooms-alike"],
            pass: also(&["broadcast.self-echo", "order.single-sender"]),
        },
        // A presence TTL (channels_redis's group_expiry set low): a member that has sent
        // nothing for 2 s silently stops receiving. Short cases never see it.
        Broken {
            name: "forgets members silent for 2 s",
            faults: with(|f| f.forget_idle = Some(std::time::Duration::from_secs(2))),
            fail: &["order.idle-member"],
            pass: also(&["broadcast.all-members", "order.single-sender"]),
        },
    ]
}

/// Every row of [`table`]: the faulty cases FAIL, the others PASS. All rows run; the test
/// then names every verdict that differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_its_cases_and_no_other() {
    let mut wrong = Vec::new();
    for row in table() {
        let server = fault_server::spawn(row.faults).await.expect("fault server");
        let target = Target::parse(&server.url()).expect("target");
        let ids: Vec<&str> = [row.fail, &row.pass].concat();
        for r in common::run_ids(&target, &ids).await {
            let want = if row.fail.contains(&r.id.as_str()) {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            if r.verdict != want {
                wrong.push(format!(
                    "{}: {} is {:?}, not {want:?}: {}",
                    row.name, r.id, r.verdict, r.evidence
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
