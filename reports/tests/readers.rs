//! A run with slow readers (`loadgen --slow-readers`): the page shows the healthy members
//! beside the slow ones, with their close codes; a run without them shows no such table.

mod common;

use reports::run::Run;
use run_result::histogram::record;
use run_result::part::{Part, PartInfo};

/// A reader kind's part: `delivered` deliveries 500 us and up, `missing`, two of `close`.
fn reader(delivered: u64, missing: u64, close: Option<u16>) -> Part {
    let mut part = Part {
        delivered,
        missing,
        ..Part::default()
    };
    for i in 0..delivered {
        record(&mut part.latency, 500 + i);
    }
    if let Some(code) = close {
        part.closes.insert(code, 2);
    }
    part
}

fn info(name: &str, members: u64) -> PartInfo {
    PartInfo {
        name: name.into(),
        rooms: None,
        members: Some(members),
        span: None,
        rate: None,
    }
}

#[test]
fn the_page_shows_healthy_members_beside_slow_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = common::result(&common::stats(100, 500, 3, 3), &[]);
    let mut slow = plain.clone();
    slow.readers = vec![
        reader(90, 0, None).result(&info("healthy", 18), 3.0),
        reader(10, 7, Some(1013)).result(&info("slow readers at 64.0 KiB/s", 2), 3.0),
    ];
    let runs = vec![
        Run::load(&common::write(dir.path(), "plain", &plain)).expect("load"),
        Run::load(&common::write(dir.path(), "slow", &slow)).expect("load"),
    ];
    let html = reports::html::render(&runs).expect("render");
    assert!(html.contains("<th>reader</th>"), "{html}");
    assert!(
        html.contains("<td>slow readers at 64.0 KiB/s</td><td>2</td><td>10</td><td>7</td>"),
        "{html}"
    );
    assert!(html.contains("2 x 1013"), "{html}");
    // Only the run with slow readers has the table.
    assert_eq!(html.matches("<th>reader</th>").count(), 1);
}
