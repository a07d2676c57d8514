//! When the agent checks, and when it wakes up next. PURE, like the policy: no clock reads, no
//! I/O, no randomness of its own; `now`, the local day and the dice are arguments, so every rule
//! is table-tested (see `schedule/tests.rs`).
//!
//! The rules:
//! - check at start, then every `interval` plus up to 10 % jitter (so thousands of desktops
//!   that started together drift apart);
//! - after a failed check retry after 1, 2, 4, … minutes, never later than the regular interval;
//! - on a new local day: the new day's balloon may come at once (yesterday's, even if still on
//!   screen, does not hold it back), and a check comes within `midnight_spread` (spread, so the
//!   desktops awake at midnight do not all ask at once);
//! - an expired password in its grace logins is not checked by the agent by itself, since every
//!   bind spends one (an explicit "Check now" still does);
//! - the loop sleeps until the next check or the start of the next local day, whichever comes
//!   first, and at most `longest_sleep` (a time-zone change moves the local day without
//!   changing any clock; a set clock or a resume from suspend wakes the loop by itself, see
//!   [`crate::clock`]).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::policy::{recheck_spends_grace_login, Finding};

/// The timings the schedule follows, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between two successful checks (before jitter).
    pub interval: Duration,
    /// Checks due to a new local day are spread over this long.
    pub midnight_spread: Duration,
    /// The first retry after a failed check; doubles up to `interval`.
    pub first_retry: Duration,
    /// The longest the loop sleeps without looking at the local day (a new time zone).
    pub longest_sleep: Duration,
}

impl Cadence {
    /// The product's timings around a configured check interval.
    pub fn every(interval: Duration) -> Cadence {
        Cadence {
            interval,
            midnight_spread: Duration::from_secs(600),
            first_retry: Duration::from_secs(60),
            longest_sleep: Duration::from_secs(3600),
        }
    }
}

/// Random numbers in `0.0..1.0`, drawn by the caller: where in the midnight spread this desktop
/// checks, and how much jitter the next interval gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dice {
    pub spread: f64,
    pub jitter: f64,
}

/// What the schedule remembers between wake-ups (not persisted: a restart checks at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timetable {
    pub next_check: DateTime<Utc>,
    /// Failed checks in a row.
    pub failures: u32,
    /// The local day of the last wake-up.
    pub day: NaiveDate,
}

impl Timetable {
    /// A fresh start: the first check is due at once.
    pub fn start(now: DateTime<Utc>, today: NaiveDate) -> Timetable {
        Timetable {
            next_check: now,
            failures: 0,
            day: today,
        }
    }
}

/// Whether to ask the endpoint at this wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckNow {
    /// Not yet.
    No,
    /// Yes.
    Yes,
    /// It is due, but checking would spend one of the last grace logins: it was postponed by an
    /// interval instead.
    SkippedToSaveGraceLogin,
}

/// What to do at one wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// A new local day began since the last wake-up.
    pub new_day: bool,
    pub check: CheckNow,
}

/// One wake-up of the loop: updates `timetable` and says what to do now. `finding` is the
/// account's last saved finding.
pub fn on_wake(
    timetable: &mut Timetable,
    now: DateTime<Utc>,
    today: NaiveDate,
    finding: Option<&Finding>,
    cadence: &Cadence,
    dice: Dice,
) -> Wake {
    let new_day = today != timetable.day;
    if new_day {
        timetable.day = today;
        let soon = now + cadence.midnight_spread.mul_f64(unit(dice.spread));
        timetable.next_check = timetable.next_check.min(soon);
    }
    let check = if now < timetable.next_check {
        CheckNow::No
    } else if recheck_spends_grace_login(finding) {
        timetable.next_check = now + cadence.interval;
        CheckNow::SkippedToSaveGraceLogin
    } else {
        // Until the check reports back (`after_check` sets the real time), the next one waits.
        timetable.next_check = now + cadence.interval;
        CheckNow::Yes
    };
    Wake { new_day, check }
}

/// A check ended at `now`: the next one comes after the jittered interval, or after the backoff
/// when it failed. Returns how long until then.
pub fn after_check(
    timetable: &mut Timetable,
    now: DateTime<Utc>,
    succeeded: bool,
    cadence: &Cadence,
    dice: Dice,
) -> Duration {
    let wait = if succeeded {
        timetable.failures = 0;
        jittered(cadence.interval, dice.jitter)
    } else {
        timetable.failures = timetable.failures.saturating_add(1);
        backoff(timetable.failures, cadence)
    };
    timetable.next_check = now + wait;
    wait
}

/// The machine resumed from sleep: a check that failed before (the network was going away) is
/// retried at once rather than after its backoff; otherwise nothing changes.
pub fn on_resume(timetable: &mut Timetable, now: DateTime<Utc>) {
    if timetable.failures > 0 {
        timetable.next_check = timetable.next_check.min(now);
    }
}

/// When the loop should wake next: at the next check or when the next local day starts
/// (`next_day`), whichever comes first, and no later than `longest_sleep` from now.
pub fn wake_at(
    timetable: &Timetable,
    now: DateTime<Utc>,
    next_day: DateTime<Utc>,
    cadence: &Cadence,
) -> DateTime<Utc> {
    timetable
        .next_check
        .min(next_day)
        .max(now)
        .min(now + cadence.longest_sleep)
}

/// The interval plus up to 10 % jitter.
fn jittered(interval: Duration, jitter: f64) -> Duration {
    interval + interval.mul_f64(unit(jitter) * 0.1)
}

/// 1, 2, 4, … times `first_retry` after consecutive failures, never longer than the interval.
fn backoff(failures: u32, cadence: &Cadence) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    cadence
        .first_retry
        .saturating_mul(factor)
        .min(cadence.interval)
}

/// A die roll clamped into `0.0..=1.0` (a NaN counts as 0).
fn unit(roll: f64) -> f64 {
    if roll.is_nan() {
        0.0
    } else {
        roll.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests;
