//! The HdrHistogram percentile distribution text format (`.hgrm`), as
//! `HistogramLogProcessor` and `outputPercentileDistribution` write it, so the existing
//! HdrHistogram plotters and tools read our files.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// The distribution of `h` (values in microseconds), scaled to milliseconds.
pub fn render(h: &Histogram<u64>) -> String {
    const SCALE: f64 = 1000.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>12.3} {:>2.12} {:>10} {inverse}",
            v.value_iterated_to() as f64 / SCALE,
            q,
            total,
        );
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64 / SCALE,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        // counts = (buckets + 1) * sub_buckets / 2
        2 * h.distinct_values() / (usize::from(h.buckets()) + 1)
    );
    out
}
