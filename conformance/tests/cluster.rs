//! Two reference nodes sharing rooms through a real `redis-server` (installed by scripts/setup)
//! pass every core case as one backend, in each wire format: each case's members are spread
//! over both nodes.

mod common;

use conformance::case::Outcome;
use conformance::runner::{self, CaseReport, Profile};
use conformance::target::Target;
use conformance::{DEFAULT_SETTLE, DEFAULT_TIMEOUT};
use testkit::Redis;

async fn two_nodes_pass_every_core_case(format: reference_server::LayerFormat) {
    let redis = Redis::start().await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut config = reference_server::Config::local();
        config.layer = Some(redis.url());
        config.layer_format = format;
        nodes.push(reference_server::spawn(config).await.expect("node"));
    }
    let targets: Vec<Target> = nodes
        .iter()
        .map(|n| Target::parse(&n.http_url()).expect("target"))
        .collect();
    let all = conformance::cases::all();
    let selected = runner::select(&all, Profile::Core, &[]);
    let ctx = conformance::context(&targets, DEFAULT_TIMEOUT, DEFAULT_SETTLE, None);
    let reports = runner::run_all(selected, &ctx, 8).await;
    assert!(reports.len() >= 25);
    for r in &reports {
        assert_eq!(r.verdict, Outcome::Pass, "{}: {}", r.id, r.evidence);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_over_redis_pub_sub_pass_every_core_case_as_one_backend() {
    two_nodes_pass_every_core_case(reference_server::LayerFormat::Native).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_in_the_channels_redis_format_pass_every_core_case_as_one_backend() {
    two_nodes_pass_every_core_case(reference_server::LayerFormat::Channels).await;
}

/// The case `id` graded on two nodes that do not share rooms (each its own in-memory layer),
/// as one backend, each network wait bounded by `timeout_s`.
async fn on_unshared_nodes(
    id: &str,
    timeout_s: u64,
) -> (Vec<reference_server::RunningServer>, CaseReport) {
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = reference_server::spawn(reference_server::Config::local())
            .await
            .expect("node");
        nodes.push(node);
    }
    let targets: Vec<Target> = nodes
        .iter()
        .map(|n| Target::parse(&n.http_url()).expect("target"))
        .collect();
    let all = conformance::cases::all();
    let selected = runner::select(&all, Profile::Core, &[id.into()]);
    assert_eq!(selected.len(), 1);
    let timeout = std::time::Duration::from_secs(timeout_s);
    let ctx = conformance::context(&targets, timeout, DEFAULT_SETTLE, None);
    let report = runner::run_all(selected, &ctx, 1).await.remove(0);
    (nodes, report)
}

/// Two nodes that do not share rooms (each its own in-memory layer, as behind a load balancer
/// without a Redis layer): graded as one backend, a big room fails, and the evidence counts
/// the members that fell short on each node and names a failing member's node. The members
/// on the sender's node have every message; those on the other node have none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_do_not_share_rooms_fail_and_the_evidence_names_the_node() {
    let (nodes, report) = on_unshared_nodes("big-room.every-member", 2).await;
    assert_eq!(report.verdict, Outcome::Fail, "{}", report.evidence);
    // The evidence lists the nodes in address order.
    let (a, b) = (
        nodes[0].addr.min(nodes[1].addr),
        nodes[0].addr.max(nodes[1].addr),
    );
    // 100 joins go to the two nodes in turn: 50 each, one of them the sender's.
    let split = [
        format!("50 of 100 members fell short (50 of 50 on {a}, 0 of 50 on {b})"),
        format!("50 of 100 members fell short (0 of 50 on {a}, 50 of 50 on {b})"),
    ];
    assert!(
        split
            .iter()
            .any(|s| report.evidence.starts_with(s.as_str())),
        "{}",
        report.evidence
    );
    let short = if report.evidence.contains(&format!("50 of 50 on {a}")) {
        a
    } else {
        b
    };
    assert!(
        report
            .evidence
            .contains(&format!("(node {short}): after 0 messages")),
        "{}",
        report.evidence
    );
}

/// The same two nodes fail the model-based case, and its evidence says which node each client
/// of the shrunk program was on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_case_names_each_clients_node() {
    let (nodes, report) = on_unshared_nodes("model.programs", 1).await;
    assert_eq!(report.verdict, Outcome::Fail, "{}", report.evidence);
    // A difference needs sockets on both nodes: the evidence names both.
    let named = |n: &reference_server::RunningServer| report.evidence.contains(&n.addr.to_string());
    assert!(
        report.evidence.contains("; nodes: client ") && nodes.iter().all(named),
        "{}",
        report.evidence
    );
}
