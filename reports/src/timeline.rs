//! The timeline of one run: deliveries and connected members per second, on two axes, with
//! the seconds that lost deliveries shaded, so an outage and its recovery are seen at a
//! glance.

use plotters::prelude::*;

use run_result::result::SecondResult;

const SIZE: (u32, u32) = (860, 380);
const DELIVERIES: RGBColor = RGBColor(31, 119, 180);
const CONNECTED: RGBColor = RGBColor(44, 160, 44);
const LOSS: RGBColor = RGBColor(214, 39, 40);

/// Whether `series` carries what the timeline draws (files from before it did not).
pub fn has_timeline(series: &[SecondResult]) -> bool {
    series.iter().any(|s| s.connected > 0)
}

/// The timeline as SVG: deliveries per second (left axis), members connected at the end of
/// each second (right axis), seconds with missing deliveries shaded red, and a dashed line
/// where each of `stages` starts (its second and name).
pub fn timeline(
    title: &str,
    series: &[&SecondResult],
    stages: &[(f64, &str)],
) -> Result<String, Box<dyn std::error::Error>> {
    let seconds = series.len().max(1) as f64;
    let top = |v: u64| if v == 0 { 1.0 } else { v as f64 * 1.15 };
    let deliveries_max = top(series.iter().map(|s| s.deliveries).max().unwrap_or(0));
    let connected_max = top(series.iter().map(|s| s.connected).max().unwrap_or(0));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(0.0..seconds, 0.0..deliveries_max)?
            .set_secondary_coord(0.0..seconds, 0.0..connected_max);
        chart
            .configure_mesh()
            .x_desc("second of the measured run")
            .y_desc("deliveries per second")
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("members connected")
            .draw()?;
        chart
            .draw_series(series.iter().filter(|s| s.missing > 0).map(|s| {
                let x = s.second as f64;
                Rectangle::new(
                    [(x, 0.0), (x + 1.0, deliveries_max)],
                    LOSS.mix(0.18).filled(),
                )
            }))?
            .label("seconds with missing deliveries")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], LOSS.mix(0.3).filled()));
        for (at, name) in stages {
            chart.draw_series(DashedLineSeries::new(
                [(*at, 0.0), (*at, deliveries_max)],
                5,
                4,
                BLACK.mix(0.5).stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                (*name).to_owned(),
                (*at + 0.1, deliveries_max * 0.97),
                ("sans-serif", 12),
            )))?;
        }
        let mid = |s: &SecondResult, v: u64| (s.second as f64 + 0.5, v as f64);
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|s| mid(s, s.deliveries)),
                DELIVERIES.stroke_width(2),
            ))?
            .label("deliveries per second")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], DELIVERIES.stroke_width(2))
            });
        chart
            .draw_secondary_series(LineSeries::new(
                series.iter().map(|s| mid(s, s.connected)),
                CONNECTED.stroke_width(2),
            ))?
            .label("members connected")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], CONNECTED.stroke_width(2))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
