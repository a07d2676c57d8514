//! The fleet: a deterministic simulation of thousands of desktops running the product's pure
//! schedule (`src/schedule.rs`) against one identity endpoint, counting the requests that reach
//! it minute by minute. It answers the question a single agent's tests cannot: do 10,000
//! agents that log in around 09:00, sleep over lunch and overnight and live through outages
//! stampede the endpoint? The same fleet is run with a naive fixed-interval schedule.
//!
//! `cargo run --release --example fleet -- [--agents N] [--days D] [--seed S] [--zones Z,..]
//! [--svg PATH]` (benches/run.sh runs it at full size; `cargo test` runs a small one). The
//! desktops are shared out evenly over the time zones, given as whole hours from UTC
//! (`--zones=-5,0,1`); the endpoint's faults are at fixed UTC times.

mod endpoint;
mod people;
mod schedules;
mod stats;
mod svg;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use fastrand::Rng;

use endpoint::{Answer, Endpoint, Fault};
use schedules::{Kind, Outcome, Planner};

/// The agent's default check interval (`agent.check_interval_minutes = 240`).
const INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub agents: u32,
    pub days: u32,
    pub seed: u64,
    /// The time zones, in whole hours east of UTC; desktop `n` is in zone `n % zones.len()`.
    pub zones: Vec<i32>,
}

/// One schedule's run: requests per minute from Monday 00:00, and the requests sent before a
/// `Retry-After` had run out.
pub struct Run {
    pub kind: Kind,
    pub per_minute: Vec<u32>,
    pub too_early: u64,
}

pub fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
}

/// The endpoint's bad hours: down on Tuesday 10:30–11:00, throttling (429, `Retry-After: 300`)
/// on Wednesday 14:00–14:30 (both on the last day of a shorter run).
pub fn faults(days: u32) -> Vec<Fault> {
    let at = |day: u32, h: i64, m: i64| {
        monday()
            + chrono::Duration::days(day.min(days - 1).into())
            + chrono::Duration::minutes(h * 60 + m)
    };
    vec![
        Fault {
            from: at(1, 10, 30),
            until: at(1, 11, 0),
            answer: Answer::Down,
        },
        Fault {
            from: at(2, 14, 0),
            until: at(2, 14, 30),
            answer: Answer::Throttled {
                retry_after: Duration::from_secs(300),
            },
        },
    ]
}

/// Runs the whole fleet under one schedule.
pub fn simulate(fleet: &Fleet, kind: Kind) -> Run {
    let minutes = fleet.days as usize * 1440;
    let end = monday() + chrono::Duration::days(fleet.days.into());
    let mut endpoint = Endpoint::new(monday(), minutes, faults(fleet.days));
    for agent in 0..u64::from(fleet.agents) {
        let seed = fleet.seed ^ agent.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let hours = fleet.zones[(agent % fleet.zones.len() as u64) as usize];
        let zone = FixedOffset::east_opt(hours * 3600).expect("zones are checked when parsed");
        // Its Monday 00:00, local time.
        let local_monday = monday() - chrono::Duration::hours(hours.into());
        // The same people for every schedule; the dice differ only by schedule's use.
        let mut people = Rng::with_seed(seed);
        let mut dice = Rng::with_seed(seed.rotate_left(17) ^ 0x5EED);
        let spans = people::awake_spans(&mut people, local_monday, fleet.days);
        let mut last_ok = Some(people::last_check_before(&mut people, local_monday));
        let mut not_before = None;
        let mut planner: Option<Planner> = None;
        // West of UTC the last local evening runs past the simulated UTC days.
        for span in spans.into_iter().filter(|span| span.from < end) {
            if span.fresh || planner.is_none() {
                planner = Some(Planner::start(
                    kind, span.from, zone, last_ok, INTERVAL, &mut dice,
                ));
            }
            let planner = planner.as_mut().expect("started above");
            if !span.fresh {
                planner.resumed(span.from, &mut dice);
            }
            let mut now = span.from;
            while now < span.until.min(end) {
                if planner.on_wake(now, &mut dice) {
                    let jitter = planner.jitters_within_a_check().then_some(&mut dice);
                    let outcome = schedules::check(&mut endpoint, now, &mut not_before, jitter);
                    if outcome == Outcome::Ok {
                        last_ok = Some(now);
                    }
                    planner.after(now, outcome, &mut dice);
                }
                let wake = planner.wake_at(now);
                now = wake.max(now + Duration::from_secs(1));
            }
        }
    }
    Run {
        kind,
        per_minute: endpoint.per_minute,
        too_early: endpoint.too_early,
    }
}

fn parse_args() -> Result<(Fleet, Option<String>), String> {
    let mut fleet = Fleet {
        agents: 10_000,
        days: 3,
        seed: 2026,
        zones: vec![0],
    };
    let mut svg = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--agents" => fleet.agents = value()?.parse().map_err(|e| format!("--agents: {e}"))?,
            "--days" => fleet.days = value()?.parse().map_err(|e| format!("--days: {e}"))?,
            "--seed" => fleet.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--zones" => fleet.zones = parse_zones(&value()?)?,
            "--svg" => svg = Some(value()?),
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            _ => match flag.strip_prefix("--zones=") {
                Some(zones) => fleet.zones = parse_zones(zones)?,
                None => return Err(format!("unknown argument {flag}")),
            },
        }
    }
    if fleet.days == 0 || fleet.agents == 0 {
        return Err("--agents and --days must be at least 1".into());
    }
    Ok((fleet, svg))
}

/// "-5,0,1": whole hours east of UTC, each within a day.
fn parse_zones(text: &str) -> Result<Vec<i32>, String> {
    text.split(',')
        .map(|z| match z.trim().parse::<i32>() {
            Ok(hours) if hours.abs() < 24 => Ok(hours),
            _ => Err(format!(
                "--zones: {z:?} is not a whole number of hours from -23 to 23"
            )),
        })
        .collect()
}

fn main() {
    let (fleet, svg_path) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("fleet: {e}\nusage: fleet [--agents N] [--days D] [--seed S] [--zones Z,..] [--svg PATH]");
            std::process::exit(2);
        }
    };
    let runs: Vec<Run> = Kind::ALL
        .iter()
        .map(|&kind| simulate(&fleet, kind))
        .collect();
    print!("{}", stats::table(&fleet, &runs));
    if let Some(path) = svg_path {
        if let Err(e) = std::fs::write(&path, svg::chart(&fleet, &runs)) {
            eprintln!("fleet: cannot write {path}: {e}");
            std::process::exit(1);
        }
        println!("\nchart: {path}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Fleet {
        Fleet {
            agents: 500,
            days: 2,
            seed: 7,
            zones: vec![0],
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet() {
        let a = simulate(&small(), Kind::Fleet);
        let b = simulate(&small(), Kind::Fleet);
        assert_eq!(a.per_minute, b.per_minute);
        assert!(
            a.per_minute.iter().sum::<u32>() > 500,
            "every desktop checks at least once"
        );
    }

    #[test]
    fn the_fleet_timings_honour_retry_after_and_the_report_and_chart_are_made() {
        let fleet = Fleet { days: 3, ..small() };
        let runs: Vec<Run> = Kind::ALL
            .iter()
            .map(|&kind| simulate(&fleet, kind))
            .collect();
        assert_eq!(runs.len(), Kind::ALL.len());
        for run in runs.iter().filter(|run| run.kind.held_to_goals()) {
            assert_eq!(run.too_early, 0, "{}", run.kind.label());
        }
        let first = runs.iter().find(|run| run.kind == Kind::Before).unwrap();
        assert!(
            first.too_early > 0,
            "a 1-minute backoff comes back before Retry-After"
        );
        let table = stats::table(&fleet, &runs);
        assert!(table.contains("peak in the hour after"), "{table}");
        assert!(
            table.contains("Wed | 429 Retry-After 300 s 14:00–14:30"),
            "{table}"
        );
        let chart = svg::chart(&fleet, &runs);
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn jittered_retries_send_fewer_requests_into_the_fault_windows() {
        let fleet = Fleet { days: 3, ..small() };
        let inside = |kind| {
            let run = simulate(&fleet, kind);
            faults(fleet.days)
                .iter()
                .map(|f| {
                    let from = (f.from - monday()).num_minutes() as usize;
                    let until = (f.until - monday()).num_minutes() as usize;
                    run.per_minute[from..until].iter().sum::<u32>()
                })
                .collect::<Vec<u32>>()
        };
        let (in_step, after) = (inside(Kind::InStep), inside(Kind::Fleet));
        for (before, after) in in_step.iter().zip(&after) {
            assert!(after * 2 < *before, "{in_step:?} {after:?}");
        }
    }

    #[test]
    fn each_time_zone_starts_its_day_at_its_own_nine() {
        // The first request of the week, in minutes from Monday 00:00 UTC: the first logins
        // come at 07:30 local time.
        let first = |zones: Vec<i32>| {
            let run = simulate(&Fleet { zones, ..small() }, Kind::Fleet);
            run.per_minute.iter().position(|&n| n > 0).unwrap()
        };
        assert!((7 * 60 + 30..9 * 60).contains(&first(vec![0])));
        assert!((12 * 60 + 30..14 * 60).contains(&first(vec![-5])));
        assert!((6 * 60 + 30..8 * 60).contains(&first(vec![1])));
        assert!((6 * 60 + 30..8 * 60).contains(&first(vec![1, -5, 0])));
    }

    #[test]
    fn zones_are_whole_hours_within_a_day() {
        assert_eq!(parse_zones("-5,0,1"), Ok(vec![-5, 0, 1]));
        assert_eq!(parse_zones(" 3"), Ok(vec![3]));
        assert!(parse_zones("24").is_err());
        assert!(parse_zones("1.5").is_err());
        assert!(parse_zones("").is_err());
    }
}
