//! Two reference nodes sharing rooms through a real `redis-server` (installed by scripts/setup)
//! pass every core case as one backend, in each wire format: each case's members are spread
//! over both nodes.

mod common;

use conformance::case::Outcome;
use conformance::runner::{self, Profile};
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
