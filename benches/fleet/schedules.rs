//! The schedules compared: a naive fixed interval (what a cron job or a plain timer does), the
//! product's pure schedule with the timings the agent used first (`Cadence::every`, a check at
//! every start), the same schedule with the fleet's timings (`Cadence::for_fleet`,
//! `Timetable::resume`, `after_throttled`) with its retries as they were (in step: 1, 2, 4, …
//! minutes, or exactly the `Retry-After` when longer), with full jitter inside those old
//! bounds, and as the agent runs it (a retry at a random moment within a third of the
//! interval, doubling); and, as the floor no schedule can beat, each awake desktop checking at
//! memoryless random moments once per interval on average (the load then just follows how
//! many desktops are awake). Each performs a check as the agent's HTTP client does: a
//! `Retry-After` of at most 30 s is waited for inside the check (3 attempts at most, jittered
//! by `schedule::retry_after_wait` where the schedule jitters); a longer one ends the check as
//! throttled.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use fastrand::Rng;
use signin_assistant::rules::schedule::{self, Cadence, CheckNow, Dice, Timetable};

use crate::endpoint::{Answer, Endpoint};

/// The longest `Retry-After` one check waits for by itself (`entra.max_retry_after_secs`).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: u32 = 3;

/// Which schedule a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Naive,
    Before,
    InStep,
    OldBounds,
    Fleet,
    Floor,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Naive,
        Kind::Before,
        Kind::InStep,
        Kind::OldBounds,
        Kind::Fleet,
        Kind::Floor,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Naive => "naive: at login, then every 4 h, retry every 5 min",
            Kind::Before => "first schedule: Cadence::every, check at every start",
            Kind::InStep => {
                "fleet timings, retries in step (before): 1, 2, 4 … min, or exactly the Retry-After"
            }
            Kind::OldBounds => "fleet timings, full jitter within 1, 2, 4 … min and Retry-After + 50 %",
            Kind::Fleet => {
                "fleet timings as the agent runs (after): full jitter within 80, 160, 240 min and Retry-After + 50 %"
            }
            Kind::Floor => "floor: memoryless, once per interval while awake",
        }
    }

    /// Whether the run is one of the fleet timings, held to the goals.
    pub fn held_to_goals(self) -> bool {
        matches!(self, Kind::InStep | Kind::OldBounds | Kind::Fleet)
    }

    /// The timings of the product's schedule this run uses, if it uses it.
    fn cadence(self, interval: Duration) -> Option<Cadence> {
        let fleet = Cadence::for_fleet(interval);
        match self {
            Kind::Naive | Kind::Floor => None,
            Kind::Before => Some(Cadence::every(interval)),
            Kind::InStep => Some(Cadence {
                retry_window: Duration::ZERO,
                ..fleet
            }),
            Kind::OldBounds => Some(Cadence {
                retry_window: fleet.first_retry,
                ..fleet
            }),
            Kind::Fleet => Some(fleet),
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Throttled(Duration),
}

/// One desktop's schedule.
pub enum Planner {
    Naive {
        next: DateTime<Utc>,
        interval: Duration,
    },
    Floor {
        next: DateTime<Utc>,
        interval: Duration,
    },
    Real {
        timetable: Timetable,
        cadence: Cadence,
        fleet: bool,
        /// The desktop's time zone, which says when its local day begins.
        zone: FixedOffset,
    },
}

impl Planner {
    /// The agent starts at `now` in `zone`; it last checked successfully at `last_ok`.
    pub fn start(
        kind: Kind,
        now: DateTime<Utc>,
        zone: FixedOffset,
        last_ok: Option<DateTime<Utc>>,
        interval: Duration,
        rng: &mut Rng,
    ) -> Planner {
        let today = day(now, zone);
        match kind {
            Kind::Floor => Planner::Floor {
                next: now + memoryless(interval, rng),
                interval,
            },
            Kind::Naive => Planner::Naive {
                next: now,
                interval,
            },
            Kind::Before => Planner::Real {
                timetable: Timetable::start(now, today),
                cadence: Cadence::every(interval),
                fleet: false,
                zone,
            },
            Kind::InStep | Kind::OldBounds | Kind::Fleet => {
                let cadence = kind.cadence(interval).expect("the product's schedule");
                Planner::Real {
                    timetable: Timetable::resume(now, today, last_ok, &cadence),
                    cadence,
                    fleet: true,
                    zone,
                }
            }
        }
    }

    /// The computer woke up at `now` (the floor's clock does not run while asleep).
    pub fn resumed(&mut self, now: DateTime<Utc>, rng: &mut Rng) {
        if let Planner::Floor { next, interval } = self {
            *next = now + memoryless(*interval, rng);
        }
    }

    /// When the loop wakes next.
    pub fn wake_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            // A timer that looks once a minute.
            Planner::Naive { next, .. } | Planner::Floor { next, .. } => {
                (*next).max(now).min(now + Duration::from_secs(60))
            }
            Planner::Real {
                timetable,
                cadence,
                zone,
                ..
            } => {
                let next_day = signin_assistant::system::clock::start_of_next_day(zone, now);
                schedule::wake_at(timetable, now, next_day, cadence)
            }
        }
    }

    /// A wake-up at `now`: whether to check.
    pub fn on_wake(&mut self, now: DateTime<Utc>, rng: &mut Rng) -> bool {
        match self {
            Planner::Naive { next, interval } => {
                let due = now >= *next;
                if due {
                    *next = now + *interval;
                }
                due
            }
            Planner::Floor { next, interval } => {
                let due = now >= *next;
                if due {
                    *next = now + memoryless(*interval, rng);
                }
                due
            }
            Planner::Real {
                timetable,
                cadence,
                zone,
                ..
            } => {
                let today = day(now, *zone);
                let wake = schedule::on_wake(timetable, now, today, None, cadence, dice(rng));
                wake.check == CheckNow::Yes
            }
        }
    }

    /// Whether a check's own retries within one request are jittered.
    pub fn jitters_within_a_check(&self) -> bool {
        matches!(self, Planner::Real { cadence, .. } if !cadence.retry_window.is_zero())
    }

    /// A check ended at `now`.
    pub fn after(&mut self, now: DateTime<Utc>, outcome: Outcome, rng: &mut Rng) {
        match self {
            // Its next moment was drawn when it checked.
            Planner::Floor { .. } => {}
            Planner::Naive { next, interval } => {
                *next = now
                    + match outcome {
                        Outcome::Ok => *interval,
                        _ => Duration::from_secs(300),
                    };
            }
            Planner::Real {
                timetable,
                cadence,
                fleet,
                ..
            } => {
                match outcome {
                    Outcome::Throttled(retry_after) if *fleet => {
                        schedule::after_throttled(timetable, now, retry_after, cadence, dice(rng))
                    }
                    _ => schedule::after_check(
                        timetable,
                        now,
                        outcome == Outcome::Ok,
                        cadence,
                        dice(rng),
                    ),
                };
            }
        }
    }
}

/// An exponentially distributed wait with mean `interval`.
fn memoryless(interval: Duration, rng: &mut Rng) -> Duration {
    interval.mul_f64(-rng.f64().max(f64::MIN_POSITIVE).ln())
}

/// One check as the agent's HTTP client makes it; `dice` jitter its waits after a short
/// `Retry-After` (none: it waits exactly as long as asked).
pub fn check(
    endpoint: &mut Endpoint,
    now: DateTime<Utc>,
    not_before: &mut Option<DateTime<Utc>>,
    mut dice: Option<&mut Rng>,
) -> Outcome {
    let mut at = now;
    for attempt in 1..=MAX_ATTEMPTS {
        match endpoint.request(at, not_before) {
            Answer::Ok => return Outcome::Ok,
            Answer::Down => return Outcome::Failed,
            Answer::Throttled { retry_after } => {
                if attempt == MAX_ATTEMPTS || retry_after > MAX_RETRY_AFTER {
                    return Outcome::Throttled(retry_after);
                }
                at += match dice.as_deref_mut() {
                    Some(rng) => schedule::retry_after_wait(retry_after, rng.f64()),
                    None => retry_after,
                };
            }
        }
    }
    Outcome::Failed
}

/// The local day at `now` in `zone`.
fn day(now: DateTime<Utc>, zone: FixedOffset) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// Fresh dice for each call, as the agent draws them.
fn dice(rng: &mut Rng) -> Dice {
    Dice {
        spread: rng.f64(),
        jitter: rng.f64(),
    }
}
