//! The figures of a fleet run: per simulated day, the requests, the mean per minute over the
//! 24 hours, the busiest minute and its ratio to the mean, and the busiest minute of the
//! ordinary hours next to the floor's (everyone awake checks at memoryless moments, which no
//! schedule can beat); then, per fault window, the busiest minute inside it and in the hour
//! after it next to the same day's ordinary-hours peak, and the goals those figures are held to.

use std::fmt::Write;

use chrono::Duration;

use crate::endpoint::{Answer, Fault};
use crate::schedules::Kind;
use crate::{Fleet, Run};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The goals: the peak minute inside a fault window and in the hour after it at most this many
/// times the day's ordinary-hours peak ...
pub const FAULT_GOAL: f64 = 1.5;
/// ... and the ordinary-hours peak at most this many times the floor's.
pub const FLOOR_GOAL: f64 = 1.1;

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

    /// "61 at 15:15".
    fn peak_at(&self) -> String {
        format!(
            "{} at {:02}:{:02}",
            self.peak,
            self.peak_minute / 60,
            self.peak_minute % 60
        )
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

/// The minute (since Monday 00:00) an instant falls in.
fn minute_of(at: chrono::DateTime<chrono::Utc>) -> usize {
    usize::try_from((at - crate::monday()).num_minutes()).unwrap_or_default()
}

/// Whether `minute` is an ordinary one: outside every fault window and the hour after it,
/// where retries are the point.
pub fn ordinary(faults: &[Fault]) -> impl Fn(usize) -> bool + '_ {
    move |minute| {
        !faults.iter().any(|f| {
            minute_of(f.from) <= minute && minute < minute_of(f.until + Duration::hours(1))
        })
    }
}

/// The day a fault window is on, and what it is, in a few words.
fn describe(fault: &Fault) -> (usize, String) {
    let from = fault.from - crate::monday();
    let until = fault.until - crate::monday();
    let hm = |d: Duration| format!("{:02}:{:02}", d.num_hours() % 24, d.num_minutes() % 60);
    let what = match fault.answer {
        Answer::Down => "down".to_string(),
        Answer::Throttled { retry_after } => {
            format!("429 Retry-After {} s", retry_after.as_secs())
        }
        Answer::Ok => "ok".to_string(),
    };
    let day = usize::try_from(from.num_days()).unwrap_or_default();
    (day, format!("{what} {}–{}", hm(from), hm(until)))
}

/// One fault window's figures in one run: the peak inside it and in the hour after it, and the
/// ordinary-hours peak of its day.
pub struct Window {
    pub day: usize,
    pub label: String,
    pub inside: Day,
    pub after: Day,
    pub ordinary: Day,
}

impl Window {
    /// The worse of the two peaks, as a multiple of the day's ordinary-hours peak.
    pub fn worst(&self) -> f64 {
        let ordinary = f64::from(self.ordinary.peak.max(1));
        f64::from(self.inside.peak.max(self.after.peak)) / ordinary
    }
}

/// Every fault window's figures in `run`.
pub fn windows(fleet: &Fleet, run: &Run) -> Vec<Window> {
    let faults = crate::faults(fleet.days);
    faults
        .iter()
        .map(|fault| {
            let (d, label) = describe(fault);
            let (from, until) = (minute_of(fault.from), minute_of(fault.until));
            let after = minute_of(fault.until + Duration::hours(1));
            Window {
                day: d,
                label,
                inside: day(run, d, |m| from <= m && m < until),
                after: day(run, d, |m| until <= m && m < after),
                ordinary: day(run, d, ordinary(&faults)),
            }
        })
        .collect()
}

fn ratio(a: u32, b: u32) -> f64 {
    f64::from(a) / f64::from(b.max(1))
}

/// The Markdown tables the harness prints and BENCHMARKS.md shows.
pub fn table(fleet: &Fleet, runs: &[Run]) -> String {
    let faults = crate::faults(fleet.days);
    let healthy = ordinary(&faults);
    let floor = runs.iter().find(|run| run.kind == Kind::Floor);
    let floor_peak = |d: usize| floor.map(|run| day(run, d, &healthy).peak);
    let zones: Vec<String> = fleet
        .zones
        .iter()
        .map(|z| match z {
            0 => "UTC".to_string(),
            z => format!("UTC{z:+}"),
        })
        .collect();
    let outages: Vec<String> = faults
        .iter()
        .map(|f| {
            let (d, label) = describe(f);
            format!("{} {label}", DAY_NAMES[d % 7])
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Fleet: {} agents, {} days from Monday, seed {}; time zones: {}; endpoint faults (UTC): {}\n",
        fleet.agents,
        fleet.days,
        fleet.seed,
        zones.join(", "),
        outages.join(", ")
    );
    let _ = writeln!(
        out,
        "| schedule | day | requests | mean / min (24 h) | peak minute | peak ÷ mean | peak of ordinary hours | ÷ mean | ÷ floor's | sent before Retry-After ran out (run) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        for d in 0..fleet.days as usize {
            let figures = day(run, d, all);
            let outside = day(run, d, &healthy);
            let early = if d == 0 {
                run.too_early.to_string()
            } else {
                String::new()
            };
            let to_floor = floor_peak(d)
                .map(|f| format!("{:.2}×", ratio(outside.peak, f)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {:.2}× | {} | {:.2}× | {} | {} |",
                run.kind.label(),
                DAY_NAMES[d % 7],
                figures.requests,
                figures.mean,
                figures.peak_at(),
                figures.ratio(),
                outside.peak_at(),
                outside.ratio(),
                to_floor,
                early
            );
        }
    }
    let _ = writeln!(
        out,
        "\nFault windows: the peak minute inside each and in the hour after it, next to the day's ordinary-hours peak (goal: at most {FAULT_GOAL}×)\n"
    );
    let _ = writeln!(
        out,
        "| schedule | day | fault window | peak inside | ÷ ordinary | peak in the hour after | ÷ ordinary | ordinary-hours peak | floor's |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        for w in windows(fleet, run) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2}× | {} | {:.2}× | {} | {} |",
                run.kind.label(),
                DAY_NAMES[w.day % 7],
                w.label,
                w.inside.peak_at(),
                ratio(w.inside.peak, w.ordinary.peak),
                w.after.peak_at(),
                ratio(w.after.peak, w.ordinary.peak),
                w.ordinary.peak_at(),
                floor_peak(w.day).map(|p| p.to_string()).unwrap_or_default()
            );
        }
    }
    out.push('\n');
    for run in runs.iter().filter(|run| run.kind.held_to_goals()) {
        let _ = writeln!(out, "{}", goals(fleet, run, floor));
    }
    out
}

/// Whether `run` meets the goals, in one line.
pub fn goals(fleet: &Fleet, run: &Run, floor: Option<&Run>) -> String {
    let faults = crate::faults(fleet.days);
    let healthy = ordinary(&faults);
    let worst_fault = windows(fleet, run)
        .iter()
        .map(Window::worst)
        .fold(0.0, f64::max);
    let worst_floor = floor.map(|floor| {
        (0..fleet.days as usize)
            .map(|d| ratio(day(run, d, &healthy).peak, day(floor, d, &healthy).peak))
            .fold(0.0, f64::max)
    });
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let floor_text = worst_floor
        .map(|r| {
            format!(
                "ordinary-hours peak at most {:.2}× the floor's (goal {FLOOR_GOAL}×): {}",
                r,
                verdict(r <= FLOOR_GOAL)
            )
        })
        .unwrap_or_default();
    format!(
        "{}: fault windows at most {:.2}× the day's ordinary peak (goal {FAULT_GOAL}×): {}; sent before Retry-After ran out: {} (goal 0): {}; {floor_text}",
        run.kind.label(),
        worst_fault,
        verdict(worst_fault <= FAULT_GOAL),
        run.too_early,
        verdict(run.too_early == 0),
    )
}
