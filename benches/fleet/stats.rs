//! The figures of a fleet run: per simulated day, the requests, the mean per minute over the
//! 24 hours, the busiest minute and its ratio to the mean (the goal: at most 2×), and the
//! floor no schedule can beat (everyone awake checks once per interval).

use std::fmt::Write;

use crate::{Fleet, Run};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One day's figures.
pub struct Day {
    pub requests: u64,
    pub mean: f64,
    pub peak: u32,
    pub peak_minute: usize,
}

impl Day {
    pub fn ratio(&self) -> f64 {
        if self.mean > 0.0 {
            f64::from(self.peak) / self.mean
        } else {
            0.0
        }
    }
}

/// The figures of day `day` (0 = Monday) of a run; the peak among the minutes `counted` says
/// to count (the mean is always over all 24 hours).
pub fn day(run: &Run, day: usize, counted: impl Fn(usize) -> bool) -> Day {
    let minutes = &run.per_minute[day * 1440..(day + 1) * 1440];
    let requests: u64 = minutes.iter().map(|&n| u64::from(n)).sum();
    let (peak_minute, peak) = minutes
        .iter()
        .enumerate()
        .filter(|(i, _)| counted(day * 1440 + i))
        .max_by_key(|(i, &n)| (n, std::cmp::Reverse(*i)))
        .map(|(i, &n)| (i, n))
        .unwrap_or_default();
    Day {
        requests,
        mean: requests as f64 / 1440.0,
        peak,
        peak_minute,
    }
}

/// Every minute counts.
pub fn all(_: usize) -> bool {
    true
}

/// The Markdown table the harness prints and BENCHMARKS.md shows: the peak of each day, and
/// the peak of its ordinary hours (outside the endpoint's bad half hours and the hour after
/// each, where retries are the point).
pub fn table(fleet: &Fleet, runs: &[Run]) -> String {
    let faults = crate::faults(fleet.days);
    let healthy = |minute: usize| {
        let at = crate::monday() + chrono::Duration::minutes(minute as i64);
        !faults
            .iter()
            .any(|f| f.from <= at && at < f.until + chrono::Duration::hours(1))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Fleet: {} agents, {} days from Monday, seed {}; one time zone; outages: endpoint down Tue 10:30–11:00, 429 Retry-After 300 s Wed 14:00–14:30\n",
        fleet.agents, fleet.days, fleet.seed
    );
    let _ = writeln!(
        out,
        "| schedule | day | requests | mean / min (24 h) | peak minute | peak ÷ mean | peak of ordinary hours | ÷ mean | sent before Retry-After ran out (run) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        for d in 0..fleet.days as usize {
            let figures = day(run, d, all);
            let outside = day(run, d, healthy);
            let early = if d == 0 {
                run.too_early.to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} at {:02}:{:02} | {:.2}× | {} at {:02}:{:02} | {:.2}× | {} |",
                run.kind.label(),
                DAY_NAMES[d % 7],
                figures.requests,
                figures.mean,
                figures.peak,
                figures.peak_minute / 60,
                figures.peak_minute % 60,
                figures.ratio(),
                outside.peak,
                outside.peak_minute / 60,
                outside.peak_minute % 60,
                outside.ratio(),
                early
            );
        }
    }
    let worst = runs
        .iter()
        .find(|run| run.kind == crate::schedules::Kind::Fleet)
        .map(|run| {
            (0..fleet.days as usize)
                .map(|d| day(run, d, healthy).ratio())
                .fold(0.0, f64::max)
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nWorst day with the fleet timings, ordinary hours: peak minute {worst:.2}× the day's mean (goal: at most 2×): {}",
        if worst <= 2.0 { "met" } else { "missed" }
    );
    out
}
