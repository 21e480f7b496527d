//! Golden files: the Markdown summary byte for byte, the HTML page's structure (its elements,
//! ids, captions and the number of drawn lines; coordinates left out). `UPDATE_GOLDEN=1`
//! rewrites them after a deliberate change.

mod common;

use std::path::Path;

use reports::run::Run;

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn two_runs(dir: &Path) -> Vec<Run> {
    let fast = common::result(&common::stats(1000, 500, 3, 3), &["p99<5ms", "loss=0"]);
    let slow = common::result(&common::stats(600, 4000, 50, 3), &["p99<5ms"]);
    vec![
        Run::load(&common::write(dir, "reference", &fast)).expect("load"),
        Run::load(&common::write(dir, "django", &slow)).expect("load"),
    ]
}

/// The page's skeleton: tags with their ids, figure captions, and per SVG the number of
/// polylines (drawn series) and text labels.
fn structure(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
            .collect();
        match name.as_str() {
            "html" | "head" | "body" | "table" | "figure" | "h1" | "title" | "style" | "/table"
            | "/figure" => {
                let id = tag.split("id=\"").nth(1).and_then(|s| s.split('"').next());
                out.push_str(&format!(
                    "<{name}{}>\n",
                    id.map(|i| format!(" #{i}")).unwrap_or_default()
                ));
            }
            "svg" => {
                let body = &rest[..rest.find("</svg>").unwrap_or(rest.len())];
                out.push_str(&format!(
                    "<svg> polylines={} texts={}\n",
                    body.matches("<polyline").count(),
                    body.matches("<text").count()
                ));
            }
            "figcaption" => {
                let text = &rest[end + 1..];
                out.push_str(&format!(
                    "<figcaption> {}\n",
                    &text[..text.find('<').unwrap_or(0)]
                ));
            }
            "tr" => out.push_str("<tr>\n"),
            _ => {}
        }
    }
    out
}

#[test]
fn markdown_summary_matches_its_golden_file() {
    let dir = tempfile::tempdir().expect("dir");
    let md = reports::markdown::render(&two_runs(dir.path()));
    golden("summary.md", &md);
}

#[test]
fn html_structure_matches_its_golden_file() {
    let dir = tempfile::tempdir().expect("dir");
    let html = reports::html::render(&two_runs(dir.path())).expect("render");
    assert!(!html.contains("<script"), "the page must be static");
    assert!(
        !html.contains("http://") || html.contains("http://127.0.0.1:8000"),
        "nothing fetched"
    );
    golden("report.structure", &structure(&html));
}

#[test]
fn render_writes_every_file_and_hgrm_is_readable() {
    let dir = tempfile::tempdir().expect("dir");
    let runs = two_runs(dir.path());
    let out = dir.path().join("out");
    let written = reports::render::render(&runs, &out).expect("render");
    // summary.md, report.html, and per run one .hgrm per histogram (11: latency, sent,
    // completion, connect and its TCP, TLS and upgrade parts, send lateness, churn's join,
    // --reconnect's loss to first delivery, the first member).
    assert_eq!(written.len(), 2 + 2 * 11);
    let hgrm = std::fs::read_to_string(out.join("reference.latency.hgrm")).expect("hgrm");
    let header = hgrm.lines().next().expect("header");
    assert!(header.contains("Value") && header.contains("1/(1-Percentile)"));
    // The last data line reaches percentile 1.0 with the total count.
    let last = hgrm
        .lines()
        .rfind(|l| !l.starts_with('#') && !l.trim().is_empty())
        .expect("data");
    let fields: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(fields[1], "1.000000000000");
    assert_eq!(fields[2], "1000");
    assert!(hgrm.contains("Total count    =         1000"));
}

#[test]
fn unreadable_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = Run::load(&dir.path().join("nope.json")).expect_err("missing");
    assert!(missing.to_string().contains("cannot read"), "{missing}");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").expect("write");
    assert!(
        Run::load(&garbage)
            .expect_err("garbage")
            .to_string()
            .contains("is not JSON")
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"hello": 1}"#).expect("write");
    assert!(
        Run::load(&other)
            .expect_err("other")
            .to_string()
            .contains("no schema_version")
    );
    let future = dir.path().join("future.json");
    std::fs::write(&future, r#"{"schema_version": 99}"#).expect("write");
    let err = Run::load(&future).expect_err("future").to_string();
    assert!(err.contains("schema_version 99"), "{err}");
}

#[test]
fn churn_rows_appear_only_when_a_run_had_churn() {
    let dir = tempfile::tempdir().expect("dir");
    let mut runs = two_runs(dir.path());
    assert!(!reports::markdown::render(&runs).contains("churn"));
    runs[0].result.config.churn_session_s = Some(2.0);
    runs[0].result.summary.leaves = 1234;
    runs[0].result.summary.outside_membership = 5;
    let md = reports::markdown::render(&runs);
    assert!(
        md.contains("| churn: leaves (mean stay) | 1,234 (2.0 s) | - |"),
        "{md}"
    );
    assert!(
        md.contains("| churn: delivered outside membership | 5 | - |"),
        "{md}"
    );
}

/// A run with an outage: members connected fall and come back, two seconds lose deliveries.
/// The page draws its timeline with those seconds shaded; the summary names the worst second.
#[test]
fn an_outage_is_drawn_on_the_timeline() {
    let dir = tempfile::tempdir().expect("dir");
    let mut stats = common::stats(1000, 500, 3, 3);
    for (second, connected, missing, reconnects) in [(0, 20, 0, 0), (1, 10, 7, 10), (2, 20, 2, 0)] {
        let s = stats.second(second);
        s.connected = connected;
        s.missing = missing;
        s.reconnects = reconnects;
    }
    let result = common::result(&stats, &[]);
    let runs = vec![Run::load(&common::write(dir.path(), "outage", &result)).expect("load")];
    let html = reports::html::render(&runs).expect("render");
    let timeline = &html[html.find("class=\"timeline\"").expect("a timeline figure")..];
    let svg = &timeline[..timeline.find("</svg>").expect("its chart")];
    // One line each (and its legend swatch): deliveries, and members connected.
    for colour in ["#1F77B4", "#2CA02C"] {
        let line = format!("stroke=\"{colour}\" stroke-width=\"2\"");
        assert_eq!(svg.matches(&line).count(), 2, "{colour}");
    }
    // Two shaded seconds, and the legend's swatch.
    let shaded = "opacity=\"0.18\" fill=\"#D62728\"";
    assert_eq!(svg.matches(shaded).count(), 2, "two shaded seconds");
    let md = reports::markdown::render(&runs);
    assert!(
        md.contains("| worst second | second 1: 7 missing, 10 connected |"),
        "{md}"
    );

    // A run without members over time (an older file) has no timeline.
    let plain = common::result(&common::stats(1000, 500, 3, 3), &[]);
    let runs = vec![Run::load(&common::write(dir.path(), "plain", &plain)).expect("load")];
    assert!(
        !reports::html::render(&runs)
            .expect("render")
            .contains("timeline")
    );
}

/// A run that measured no whole-room latency (members came and went with --reconnect) shows
/// "-" and why, never 0 ms.
#[test]
fn a_latency_without_samples_is_a_dash_with_its_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let mut result = common::result(&common::stats(100, 500, 3, 1), &[]);
    result.config.reconnect_s = Some([0.1, 5.0]);
    result.summary.completion_us = run_result::result::Latency::default();
    result.summary.first_us = run_result::result::Latency::default();
    let run = Run::load(&common::write(dir.path(), "reconnect", &result)).expect("load");
    let md = reports::markdown::render(&[run]);
    let why = "- (not measured when members come and go (--churn, --reconnect))";
    assert!(md.contains(&format!("| whole room p99 | {why} |")), "{md}");
    assert!(
        md.contains(&format!("| first member p99 | {why} |")),
        "{md}"
    );
    assert!(!md.contains("0.00 ms"), "{md}");
}
