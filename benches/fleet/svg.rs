//! The fleet's chart as plain SVG text (no plotting crate): one panel per schedule, requests
//! per minute over the simulated days on the same scale; the endpoint's fault windows shaded,
//! and dashed, each day's goal for them (1.5× that day's ordinary-hours peak).

use std::fmt::Write;

use crate::{stats, Fleet, Run};

const WIDTH: f64 = 1200.0;
const PANEL: f64 = 180.0;
const LEFT: f64 = 50.0;
const TOP: f64 = 30.0;
const GAP: f64 = 40.0;
const COLOURS: [&str; 6] = [
    "#c0392b", "#7f8c8d", "#8e44ad", "#d35400", "#2471a3", "#27ae60",
];

/// The whole chart.
pub fn chart(fleet: &Fleet, runs: &[Run]) -> String {
    let minutes = fleet.days as usize * 1440;
    let faults = crate::faults(fleet.days);
    let top = runs
        .iter()
        .flat_map(|r| r.per_minute.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let y_max = f64::from(nice_ceiling(top));
    let height = TOP + runs.len() as f64 * (PANEL + GAP) + 10.0;
    let plot_width = WIDTH - LEFT - 20.0;
    let x = |minute: usize| LEFT + plot_width * minute as f64 / minutes as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="18" font-size="14">Requests per minute at the endpoint, {} agents, Monday to {} (shaded: the endpoint's faults; dashed: 1.5× the day's ordinary-hours peak)</text>"#,
        fleet.agents,
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday"
        ][(fleet.days as usize - 1) % 7]
    );
    for (i, run) in runs.iter().enumerate() {
        let y0 = TOP + i as f64 * (PANEL + GAP) + 14.0;
        let y = |value: f64| y0 + PANEL - PANEL * value / y_max;
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}" fill="{}">{}</text>"#,
            y0 - 4.0,
            COLOURS[i % COLOURS.len()],
            escape(run.kind.label())
        );
        // Axes, hour ticks every 6 h, the y scale.
        let _ = writeln!(
            svg,
            r##"<path d="M{LEFT} {y0} V{} H{}" fill="none" stroke="#333"/>"##,
            y0 + PANEL,
            LEFT + plot_width
        );
        for tick in (0..=minutes).step_by(360) {
            let _ = writeln!(
                svg,
                r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="#ddd"/><text x="{0:.1}" y="{3}" text-anchor="middle" fill="#555">{4:02}h</text>"##,
                x(tick),
                y0,
                y0 + PANEL,
                y0 + PANEL + 13.0,
                (tick / 60) % 24
            );
        }
        for value in [0.0, y_max / 2.0, y_max] {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#555">{value}</text>"##,
                LEFT - 4.0,
                y(value) + 4.0
            );
        }
        for fault in &faults {
            let from = usize::try_from((fault.from - crate::monday()).num_minutes()).unwrap_or(0);
            let until = usize::try_from((fault.until - crate::monday()).num_minutes()).unwrap_or(0);
            let _ = writeln!(
                svg,
                r##"<rect x="{:.1}" y="{y0}" width="{:.1}" height="{PANEL}" fill="#f5b041" fill-opacity="0.35"/>"##,
                x(from),
                (x(until) - x(from)).max(1.0)
            );
        }
        for d in 0..fleet.days as usize {
            let limit =
                stats::FAULT_GOAL * f64::from(stats::day(run, d, stats::ordinary(&faults)).peak);
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{2:.1}" y2="{2:.1}" stroke="#000" stroke-dasharray="4 3"/>"##,
                x(d * 1440),
                x((d + 1) * 1440),
                y(limit)
            );
        }
        let mut points = String::with_capacity(minutes * 12);
        for (minute, &count) in run.per_minute.iter().enumerate() {
            let _ = write!(points, "{:.1},{:.1} ", x(minute), y(f64::from(count)));
        }
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1"/>"#,
            points.trim_end(),
            COLOURS[i % COLOURS.len()]
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// 1, 2 or 5 times a power of ten, at least `n`.
fn nice_ceiling(n: u32) -> u32 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
