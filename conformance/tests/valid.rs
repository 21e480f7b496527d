//! Verdicts that hold on servers built differently: against the fault server in each valid
//! style (fragmented broadcasts, control frames between fragments, a ping every 2 ms, an
//! unusual 101, a selected subprotocol, numbers as JavaScript writes them, all at once), the core and django profiles give no
//! FAIL. A FAIL here is a bug of the suite.

mod common;

use conformance::case::Outcome;
use conformance::runner::{self, Profile};
use conformance::target::Target;
use fault_server::{Faults, Style};

async fn no_fail(name: &str, style: Style) {
    let server = fault_server::spawn(Faults {
        style,
        ..Faults::default()
    })
    .await
    .expect("fault server");
    let target = Target::parse(&server.url()).expect("target");
    let all = conformance::cases::all();
    let selected = runner::select(&all, Profile::Django, &[]);
    let reports = runner::run_all(selected, &common::ctx_for(&target), 8).await;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.verdict == Outcome::Fail)
        .map(|r| format!("{}: {}", r.id, r.evidence))
        .collect();
    assert!(failed.is_empty(), "{name}: {failed:#?}");
    let core_passed = reports
        .iter()
        .filter(|r| r.level == conformance::case::Level::Core && r.verdict == Outcome::Pass)
        .count();
    assert!(
        core_passed >= 20,
        "{name}: only {core_passed} core cases passed"
    );
}

macro_rules! valid_style {
    ($($test:ident: $index:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let (name, style) = Style::valid_variants().swap_remove($index);
            no_fail(name, style).await;
        }
    )*};
}

valid_style! {
    fragmented_broadcasts: 0;
    pings_and_pongs_between_fragments: 1;
    a_server_ping_every_2_ms: 2;
    an_unusual_101: 3;
    a_selected_subprotocol: 4;
    numbers_as_javascript_writes_them: 5;
    all_variations_at_once: 6;
}

#[test]
fn every_style_has_its_test() {
    assert_eq!(Style::valid_variants().len(), 7);
}
