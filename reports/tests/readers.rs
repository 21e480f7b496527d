//! A run with slow readers (`loadgen --slow-readers`) or impaired members: the page shows the healthy members
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

#[test]
fn an_impaired_kernel_link_shows_its_retransmits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = common::result(&common::stats(100, 500, 3, 3), &[]);
    let mut impaired = reader(20, 0, None);
    impaired.retransmits = Some(run_result::part::Retransmits {
        to_members: 56,
        from_members: 2,
    });
    run.readers = vec![
        reader(80, 0, None).result(&info("healthy", 16), 3.0),
        impaired.result(&info("impaired (loss=0.05)", 4), 3.0),
    ];
    let runs = vec![Run::load(&common::write(dir.path(), "impaired", &run)).expect("load")];
    let html = reports::html::render(&runs).expect("render");
    assert!(html.contains("<th>TCP retransmits</th>"), "{html}");
    assert!(
        html.contains("<td>56 toward the members, 2 by them</td></tr>"),
        "{html}"
    );
    // The healthy members have no link of their own.
    assert!(html.contains("<td>-</td></tr>"), "{html}");
}
