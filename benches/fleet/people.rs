//! Who the fleet is: when each desktop is awake and whether it starts the agent afresh or
//! resumes it. Office hours in one time zone (the worst case for the endpoint): log in at
//! 09:00 ± 30 min, laptops that sleep over lunch and overnight, desktops left on, desktops
//! logged off every evening.

use chrono::{DateTime, Duration, Utc};
use fastrand::Rng;

/// A stretch of time the agent runs through without sleeping.
#[derive(Debug, Clone, Copy)]
pub struct Awake {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The agent process starts here (a login); otherwise it resumes from sleep.
    pub fresh: bool,
}

/// The shares of the fleet, in percent.
const ALWAYS_ON: u32 = 30;
const LOGS_OFF: u32 = 10;

/// The stretches one desktop is awake over `days` days from `monday` (00:00 local = UTC).
pub fn awake_spans(rng: &mut Rng, monday: DateTime<Utc>, days: u32) -> Vec<Awake> {
    let end = monday + Duration::days(days.into());
    let kind = rng.u32(0..100);
    let login = |rng: &mut Rng, day: u32| {
        monday + Duration::days(day.into()) + minutes(9.0 * 60.0 + normal(rng, 30.0, 90.0))
    };
    if kind < ALWAYS_ON {
        // Logged in on Monday morning, left on.
        return vec![Awake {
            from: login(rng, 0),
            until: end,
            fresh: true,
        }];
    }
    let logs_off = kind < ALWAYS_ON + LOGS_OFF;
    let mut spans = Vec::new();
    for day in 0..days {
        let midnight = monday + Duration::days(day.into());
        let from = login(rng, day);
        let until = midnight + minutes(17.5 * 60.0 + normal(rng, 45.0, 150.0));
        // Monday's is a login after the weekend; a laptop resumes on the other days.
        let fresh = logs_off || day == 0;
        if !logs_off && rng.u32(0..100) < 50 {
            // Lunch with the lid closed.
            let lunch = midnight + minutes(12.25 * 60.0 + normal(rng, 20.0, 60.0));
            let back = lunch + minutes(f64::from(rng.u32(40..80)));
            spans.push(Awake {
                from,
                until: lunch,
                fresh,
            });
            spans.push(Awake {
                from: back,
                until,
                fresh: false,
            });
        } else {
            spans.push(Awake { from, until, fresh });
        }
    }
    spans
}

/// When the agent last checked before Monday: Friday afternoon.
pub fn last_check_before(rng: &mut Rng, monday: DateTime<Utc>) -> DateTime<Utc> {
    monday - Duration::days(3) + minutes(16.0 * 60.0 + f64::from(rng.u32(0..150)))
}

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0) as i64)
}

/// A normal deviate with standard deviation `sd`, cut at ±`cut` (Box–Muller).
fn normal(rng: &mut Rng, sd: f64, cut: f64) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (z * sd).clamp(-cut, cut)
}
