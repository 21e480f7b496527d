//! The live metrics as one model for both outlets: OpenMetrics text (`--metrics-bind`) and
//! Prometheus remote-write series (`--out prometheus-rw=URL`). Names and meanings are
//! documented in docs/loadgen.md ("Live metrics").

use std::fmt::Write as _;

use super::board::Slot;

/// Upper bounds of the fan-out latency histogram's classic buckets, in seconds.
pub const BUCKETS_S: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// What the run has counted so far (or, at the end, its result's figures).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    /// Known only when the run ends: 0 until then.
    pub missing: u64,
    /// Connections open now.
    pub open: u64,
    pub connect_failed: u64,
    /// The workers' latency, errors and reconnects.
    pub workers: Slot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric family and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

/// One sample: its full name (with `_total`, `_bucket`...), its own labels, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

fn counter(name: &'static str, help: &'static str, value: u64) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        help,
        samples: vec![Sample {
            name: format!("{name}_total"),
            labels: Vec::new(),
            value: value as f64,
        }],
    }
}

fn by_label<'a>(
    name: &'static str,
    help: &'static str,
    label: &str,
    counts: impl Iterator<Item = (&'a String, &'a u64)>,
) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        help,
        samples: counts
            .map(|(value, n)| Sample {
                name: format!("{name}_total"),
                labels: vec![(label.to_owned(), value.clone())],
                value: *n as f64,
            })
            .collect(),
    }
}

impl Figures {
    pub fn families(&self) -> Vec<Family> {
        vec![
            counter("loadgen_sent", "Messages sent.", self.sent),
            counter(
                "loadgen_expected",
                "Deliveries expected: each message once per member of its room.",
                self.expected,
            ),
            counter(
                "loadgen_deliveries",
                "Messages received by members.",
                self.delivered,
            ),
            counter(
                "loadgen_missing",
                "Expected deliveries that never came; known when the run ends (0 until then).",
                self.missing,
            ),
            Family {
                name: "loadgen_connections",
                kind: Kind::Gauge,
                help: "WebSocket connections open now.",
                samples: vec![Sample {
                    name: "loadgen_connections".into(),
                    labels: Vec::new(),
                    value: self.open as f64,
                }],
            },
            counter(
                "loadgen_connect_failures",
                "Connections that could not be opened.",
                self.connect_failed,
            ),
            by_label(
                "loadgen_errors",
                "Errors by kind.",
                "kind",
                self.workers.errors.iter(),
            ),
            by_label(
                "loadgen_reconnects",
                "Connections that ended unasked and came back (--reconnect), by cause.",
                "cause",
                self.workers.reconnects.iter(),
            ),
            self.latency(),
        ]
    }

    /// The fan-out latency (from the scheduled send time) in classic buckets.
    fn latency(&self) -> Family {
        const NAME: &str = "loadgen_fanout_latency_seconds";
        let h = &self.workers.latency;
        let mut samples: Vec<Sample> = BUCKETS_S
            .iter()
            .map(|&le| Sample {
                name: format!("{NAME}_bucket"),
                labels: vec![("le".into(), le.to_string())],
                value: h.count_between(0, (le * 1e6) as u64) as f64,
            })
            .collect();
        samples.push(Sample {
            name: format!("{NAME}_bucket"),
            labels: vec![("le".into(), "+Inf".into())],
            value: h.len() as f64,
        });
        samples.push(Sample {
            name: format!("{NAME}_count"),
            labels: Vec::new(),
            value: h.len() as f64,
        });
        samples.push(Sample {
            name: format!("{NAME}_sum"),
            labels: Vec::new(),
            value: h.mean() * h.len() as f64 / 1e6,
        });
        Family {
            name: NAME,
            kind: Kind::Histogram,
            help: "Fan-out latency from the scheduled send time to each delivery.",
            samples,
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// The families in OpenMetrics text, every sample also labelled with `common`.
pub fn openmetrics(families: &[Family], common: &[(String, String)]) -> String {
    let mut text = String::new();
    for family in families {
        let _ = writeln!(text, "# TYPE {} {}", family.name, family.kind.name());
        let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
        for sample in &family.samples {
            let labels: Vec<String> = common
                .iter()
                .chain(&sample.labels)
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(
                text,
                "{}{{{}}} {}",
                sample.name,
                labels.join(","),
                sample.value
            );
        }
    }
    text.push_str("# EOF\n");
    text
}

/// Every sample as a series: its labels (`__name__` included, sorted by name, as
/// remote-write requires) and its value.
pub fn series(
    families: &[Family],
    common: &[(String, String)],
) -> Vec<(Vec<(String, String)>, f64)> {
    families
        .iter()
        .flat_map(|f| &f.samples)
        .map(|sample| {
            let mut labels: Vec<(String, String)> = common
                .iter()
                .chain(&sample.labels)
                .cloned()
                .chain([("__name__".to_owned(), sample.name.clone())])
                .collect();
            labels.sort();
            (labels, sample.value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use run_result::histogram::record;

    use super::*;

    fn figures() -> Figures {
        let mut f = Figures {
            sent: 3,
            expected: 30,
            delivered: 29,
            open: 10,
            ..Figures::default()
        };
        for us in [50, 700, 700, 3_000] {
            record(&mut f.workers.latency, us);
        }
        f.workers.errors.insert("read \"x\"".into(), 2);
        f
    }

    #[test]
    fn openmetrics_text_has_every_family_cumulative_buckets_and_an_end() {
        let common = [("run_id".to_owned(), "r1".to_owned())];
        let text = openmetrics(&figures().families(), &common);
        assert!(text.contains("# TYPE loadgen_deliveries counter\n"));
        assert!(text.contains("loadgen_deliveries_total{run_id=\"r1\"} 29\n"));
        assert!(text.contains("loadgen_connections{run_id=\"r1\"} 10\n"));
        assert!(text.contains("loadgen_errors_total{run_id=\"r1\",kind=\"read \\\"x\\\"\"} 2\n"));
        assert!(
            text.contains("loadgen_fanout_latency_seconds_bucket{run_id=\"r1\",le=\"0.0001\"} 1\n")
        );
        assert!(
            text.contains("loadgen_fanout_latency_seconds_bucket{run_id=\"r1\",le=\"0.001\"} 3\n")
        );
        assert!(
            text.contains("loadgen_fanout_latency_seconds_bucket{run_id=\"r1\",le=\"+Inf\"} 4\n")
        );
        assert!(text.contains("loadgen_fanout_latency_seconds_count{run_id=\"r1\"} 4\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn series_are_named_and_sorted() {
        let common = [("run_id".to_owned(), "r1".to_owned())];
        let all = series(&figures().families(), &common);
        let (labels, value) = &all[2];
        assert_eq!(
            labels,
            &vec![
                ("__name__".to_owned(), "loadgen_deliveries_total".to_owned()),
                ("run_id".to_owned(), "r1".to_owned())
            ]
        );
        assert_eq!(*value, 29.0);
        assert!(
            all.iter()
                .all(|(l, _)| l.windows(2).all(|w| w[0].0 < w[1].0))
        );
    }
}
