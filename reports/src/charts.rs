//! SVG charts, drawn with plotters' SVG backend.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One colour per run, in order; readable on white.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

const SIZE: (u32, u32) = (860, 380);

/// A named line: (x, y) points.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub colour: RGBColor,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Latency against percentile on the "nines" axis (x = 1 / (1 - percentile), logarithmic), as
/// HdrHistogram's own plotter draws a percentile distribution.
pub fn percentiles(title: &str, runs: &[(String, Histogram<u64>)]) -> DrawResult<String> {
    let lines: Vec<Line> = runs
        .iter()
        .enumerate()
        .map(|(i, (name, h))| Line {
            name: name.clone(),
            colour: colour(i),
            dashed: false,
            points: h
                .iter_quantiles(5)
                .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
                .filter(|(q, _)| *q < 1.0)
                .map(|(q, us)| (1.0 / (1.0 - q), us as f64 / 1000.0))
                .collect(),
        })
        .collect();
    let x_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(100.0_f64, f64::max)
        .max(1000.0);
    // Up to the next power of ten, so the axis ends on a "nine".
    let x_max = 10f64.powf(x_max.log10().ceil());
    let axes = Axes {
        x: "percentile",
        y: "latency (ms)",
        x_label: Some(&|v: &f64| nines_label(*v)),
    };
    draw(title, (1.0..x_max).log_scale(), axes, &lines)
}

/// Axis titles, and how x values are written (plotters' default if `None`).
struct Axes<'a> {
    x: &'a str,
    y: &'a str,
    x_label: Option<&'a dyn Fn(&f64) -> String>,
}

/// One chart of `lines` on x range `x` and y from 0 to above the highest point, as SVG.
fn draw<X>(title: &str, x: X, axes: Axes<'_>, lines: &[Line]) -> DrawResult<String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let y_max = y_top(lines);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x, 0.0..y_max)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(axes.x).y_desc(axes.y);
        if let Some(label) = axes.x_label {
            mesh.x_label_formatter(label);
        }
        mesh.draw()?;
        draw_lines(&mut chart, lines)?;
        root.present()?;
    }
    Ok(svg)
}

/// "0%", "90%", "99%", "99.9%" ... for x = 1, 10, 100, 1000 ...
fn nines_label(x: f64) -> String {
    let pct = (1.0 - 1.0 / x) * 100.0;
    let decimals = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{pct:.decimals$}%")
}

fn y_top(lines: &[Line]) -> f64 {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    if max <= 0.0 { 1.0 } else { max * 1.1 }
}

/// A line chart over time (or any linear x).
pub fn over_time(title: &str, x_desc: &str, y_desc: &str, lines: &[Line]) -> DrawResult<String> {
    let x_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max);
    let axes = Axes {
        x: x_desc,
        y: y_desc,
        x_label: None,
    };
    draw(title, 0.0..x_max, axes, lines)
}

/// A line chart on a logarithmic x axis: loads that differ by orders of magnitude (one
/// backend's capacity beside another's) on one chart.
pub fn log_x(title: &str, x_desc: &str, y_desc: &str, lines: &[Line]) -> DrawResult<String> {
    let xs = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let x_min = xs().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    let x_max = xs().fold(0.0_f64, f64::max);
    let (x_min, x_max) = if x_min.is_finite() && x_max > 0.0 {
        (x_min / 1.25, x_max * 1.25)
    } else {
        (1.0, 10.0)
    };
    let axes = Axes {
        x: x_desc,
        y: y_desc,
        x_label: Some(&|v: &f64| format!("{v:.0}")),
    };
    draw(title, (x_min..x_max).log_scale(), axes, lines)
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> DrawResult<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for line in lines {
        let colour = line.colour;
        let style = colour.stroke_width(2);
        if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    line.points.iter().copied(),
                    6,
                    4,
                    style,
                ))?
                .label(line.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        } else {
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), style))?
                .label(line.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_labels() {
        assert_eq!(nines_label(1.0), "0%");
        assert_eq!(nines_label(10.0), "90%");
        assert_eq!(nines_label(100.0), "99%");
        assert_eq!(nines_label(1000.0), "99.9%");
        assert_eq!(nines_label(10000.0), "99.99%");
    }
}
