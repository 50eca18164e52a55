//! Inline SVG charts, drawn on the server: the tenant page's trend (band zones shaded, the
//! excellent line as the target) and the overview's small trend line per row. Colours come
//! from classes in the stylesheet (so the dark scheme and print apply), never inline styles.

use super::html::escape;
use super::model::TrendPoint;
use crate::core::band::{CONCERN_RATIO, EXCELLENT_RATIO};
use std::fmt::Write;

const W: f64 = 800.0;
const H: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 790.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 212.0;

fn y_of(ratio: f64) -> f64 {
    BOTTOM - ratio.clamp(0.0, 1.0) * (BOTTOM - TOP)
}

/// The trend over the kept days; `data-days` is the number of records drawn.
pub fn trend(points: &[TrendPoint]) -> String {
    let drawn: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.ratio?)))
        .collect();
    let mut svg = format!(
        "<svg class=\"trend\" data-days=\"{}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Secure Score over the last {} days\">",
        drawn.len(),
        points.len()
    );
    for (class, lo, hi) in [
        ("zone-concern", 0.0, CONCERN_RATIO),
        ("zone-good", CONCERN_RATIO, EXCELLENT_RATIO),
        ("zone-excellent", EXCELLENT_RATIO, 1.0),
    ] {
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            y_of(hi),
            RIGHT - LEFT,
            y_of(lo) - y_of(hi)
        );
    }
    let _ = write!(
        svg,
        "<line class=\"target\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
        y = y_of(EXCELLENT_RATIO)
    );
    for r in [0.0, CONCERN_RATIO, EXCELLENT_RATIO, 1.0] {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0} %</text>",
            LEFT - 6.0,
            y_of(r) + 4.0,
            r * 100.0
        );
    }
    let n = points.len().max(2) - 1;
    let x_of = |i: usize| LEFT + (RIGHT - LEFT) * i as f64 / n as f64;
    if drawn.len() == 1 {
        let (i, r) = drawn[0];
        let _ = write!(
            svg,
            "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"/>",
            if points.len() == 1 { RIGHT } else { x_of(i) },
            y_of(r)
        );
    } else if !drawn.is_empty() {
        svg.push_str("<polyline class=\"line\" points=\"");
        for (i, r) in &drawn {
            let _ = write!(svg, "{:.1},{:.1} ", x_of(*i), y_of(*r));
        }
        svg.push_str("\"/>");
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{RIGHT}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            H - 8.0,
            escape(&first.date),
            H - 8.0,
            escape(&last.date)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The small trend line of an overview row: the last `days` ratios, scaled to their range.
pub fn sparkline(ratios: &[f64]) -> String {
    if ratios.len() < 2 {
        return String::new();
    }
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min) - 0.01;
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 0.01;
    let n = (ratios.len() - 1) as f64;
    let mut svg = String::from(
        "<svg class=\"spark\" viewBox=\"0 0 100 20\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><polyline points=\"",
    );
    for (i, r) in ratios.iter().enumerate() {
        let _ = write!(
            svg,
            "{:.1},{:.1} ",
            100.0 * i as f64 / n,
            19.0 - 18.0 * (r - lo) / (hi - lo)
        );
    }
    svg.push_str("\"/></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ratio: Option<f64>) -> TrendPoint {
        TrendPoint {
            date: "2026-01-01".into(),
            current_points: 1.0,
            max_points: 2.0,
            ratio,
        }
    }

    #[test]
    fn the_trend_counts_the_records_it_draws() {
        let svg = trend(&[p(Some(0.5)), p(None), p(Some(0.7))]);
        assert!(svg.contains("data-days=\"2\""), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(trend(&[p(Some(0.5))]).contains("<circle"));
        assert!(trend(&[]).contains("data-days=\"0\""));
        assert!(sparkline(&[0.5]).is_empty());
        assert!(
            sparkline(&[0.5, 0.5]).contains("polyline"),
            "a flat line still draws"
        );
    }
}
