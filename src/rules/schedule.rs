//! When the agent checks, and when it wakes up next. PURE, like the policy: no clock reads, no
//! I/O, no randomness of its own; `now`, the local day and the dice are arguments, so every rule
//! is table-tested (see `schedule/tests.rs`).
//!
//! The rules:
//! - check at the first start (nothing saved yet), then every `interval` plus up to 10 %
//!   jitter (so thousands of desktops that started together drift apart);
//! - after a failed check retry after 1, 2, 4, … minutes, never later than the regular interval;
//!   with the fleet's timings at a random moment within a window (a third of the interval)
//!   that doubles with each failure in a row ("full jitter"), so the desktops that failed
//!   together do not retry together and an endpoint that is down or recovering is not met by
//!   every retry at once;
//! - on a new local day: the new day's balloon may come at once (yesterday's, even if still on
//!   screen, does not hold it back), and a check comes within `midnight_spread` (spread, so the
//!   desktops awake at midnight do not all ask at once);
//! - an expired password in its grace logins is not checked by the agent by itself, since every
//!   bind spends one (an explicit "Check now" still does);
//! - the loop sleeps until the next check or the start of the next local day, whichever comes
//!   first, and at most `longest_sleep` (a time-zone change moves the local day without
//!   changing any clock; a set clock or a resume from suspend wakes the loop by itself, see
//!   [`crate::system::clock`]);
//! - a throttled check (429/503) waits at least as long as the endpoint's `Retry-After` asked,
//!   with the fleet's timings at a random moment between that and half as long again (or the
//!   end of the retry window, when later); a check's own retries within one request do the
//!   same ([`retry_after_wait`]);
//! - once the change-password page was opened, a check comes within 15 minutes, to learn of
//!   the new password;
//! - with the fleet's timings ([`Cadence::for_fleet`], what the agent runs), a check the
//!   computer slept through (or was switched off through) is not made at once on waking but
//!   within `catch_up_spread`, and a restart goes on from the last check
//!   ([`Timetable::resume`]): thousands of laptops opened at 9:00 do not all ask at 9:00, and
//!   the day's balloon comes from the saved finding meanwhile; and the first success after
//!   failures places the next check anywhere in that spread, so the desktops that recovered
//!   together from an outage do not come back together.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::rules::expiry::{recheck_spends_grace_login, Finding};

/// The timings the schedule follows, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between two successful checks (before jitter).
    pub interval: Duration,
    /// Checks due to a new local day are spread over this long.
    pub midnight_spread: Duration,
    /// The first retry after a failed check; doubles up to `interval`. With a `retry_window`,
    /// the shortest wait after a failure.
    pub first_retry: Duration,
    /// The first retry after a failed check comes at a random moment within this long (never
    /// sooner than `first_retry`); the window doubles with each failure in a row, up to the
    /// interval. Zero: no jitter, the retries come exactly 1, 2, 4, … times `first_retry` after.
    pub retry_window: Duration,
    /// The longest the loop sleeps without looking at the local day (a new time zone).
    pub longest_sleep: Duration,
    /// A check found overdue on waking (the computer slept through it) comes within this long;
    /// zero: at once.
    pub catch_up_spread: Duration,
}

impl Cadence {
    /// The product's timings around a configured check interval.
    pub fn every(interval: Duration) -> Cadence {
        Cadence {
            interval,
            midnight_spread: Duration::from_secs(600),
            first_retry: Duration::from_secs(60),
            retry_window: Duration::ZERO,
            longest_sleep: Duration::from_secs(3600),
            catch_up_spread: Duration::ZERO,
        }
    }

    /// The timings for a fleet of desktops that start, resume, cross midnight and fail
    /// together: the new day's check and a check slept through are spread over a whole
    /// interval, and a retry over a third of it (80 minutes for 4 hours; doubling with each
    /// failure in a row), so they add no peak to the endpoint's load. A retry is worth little
    /// while the endpoint is down, and each one inside an outage adds its desktop's request
    /// once more to what the endpoint meets, and again as it recovers: with a shorter window
    /// the retries of a half-hour outage pile up to more than 1.5 times the ordinary peak
    /// (benches/fleet measures it).
    pub fn for_fleet(interval: Duration) -> Cadence {
        Cadence {
            midnight_spread: interval,
            catch_up_spread: interval,
            retry_window: interval / 3,
            ..Cadence::every(interval)
        }
    }
}

/// A wait after a `Retry-After` is drawn from the time asked up to this share more.
pub const RETRY_AFTER_SPREAD: f64 = 0.5;

/// How late a wake-up may come after the check it was for and still be the loop's own timer
/// (later than this, the computer slept or the process was stopped).
const LATE: Duration = Duration::from_secs(120);

/// Random numbers in `0.0..1.0`, drawn by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dice {
    /// Where in the midnight spread (or the catch-up spread) this desktop checks.
    pub spread: f64,
    /// How much jitter the next interval gets; after failures, where in its window the retry
    /// comes.
    pub jitter: f64,
}

/// What the schedule remembers between wake-ups (not persisted: a restart starts from the
/// saved finding's time, see [`Timetable::resume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timetable {
    pub next_check: DateTime<Utc>,
    /// Failed checks in a row.
    pub failures: u32,
    /// The local day of the last wake-up.
    pub day: NaiveDate,
    /// The next check was already moved once because the computer slept through it: the next
    /// late wake-up checks at once (so a laptop that keeps sleeping still gets its check).
    pub caught_up: bool,
}

impl Timetable {
    /// A fresh start: the first check is due at once.
    pub fn start(now: DateTime<Utc>, today: NaiveDate) -> Timetable {
        Timetable {
            next_check: now,
            failures: 0,
            day: today,
            caught_up: false,
        }
    }

    /// A restart with a saved finding from `last_check`: the next check is due an interval after
    /// it (never later than an interval from now, for a clock set back). When that is already
    /// past, the first wake-up finds it overdue and `on_wake` treats it as slept through; with
    /// no saved finding it is due at once, like [`Timetable::start`].
    pub fn resume(
        now: DateTime<Utc>,
        today: NaiveDate,
        last_check: Option<DateTime<Utc>>,
        cadence: &Cadence,
    ) -> Timetable {
        let next_check = match last_check {
            Some(last) => (last + cadence.interval).min(now + cadence.interval),
            None => now,
        };
        Timetable {
            next_check,
            ..Timetable::start(now, today)
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
    let overdue = (now - timetable.next_check).to_std().unwrap_or_default();
    if overdue > LATE && !cadence.catch_up_spread.is_zero() && !timetable.caught_up {
        // Slept through: everyone who opens the lid at 9:00 must not ask at 9:00.
        timetable.next_check = now + cadence.catch_up_spread.mul_f64(unit(dice.spread));
        timetable.caught_up = true;
    }
    let check = if now < timetable.next_check {
        CheckNow::No
    } else if recheck_spends_grace_login(finding) {
        timetable.next_check = now + cadence.interval;
        CheckNow::SkippedToSaveGraceLogin
    } else {
        // Until the check reports back (`after_check` sets the real time), the next one waits.
        timetable.next_check = now + cadence.interval;
        timetable.caught_up = false;
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
    let wait = if succeeded && timetable.failures > 0 && !cadence.catch_up_spread.is_zero() {
        // The first success after an outage: the desktops that recovered together would come
        // back together every interval; a fresh place in the spread parts them.
        timetable.failures = 0;
        cadence
            .catch_up_spread
            .mul_f64(unit(dice.jitter))
            .max(cadence.first_retry)
    } else if succeeded {
        timetable.failures = 0;
        jittered(cadence.interval, dice.jitter)
    } else {
        timetable.failures = timetable.failures.saturating_add(1);
        retry_wait(timetable.failures, Duration::ZERO, cadence, dice.jitter)
    };
    timetable.next_check = now + wait;
    wait
}

/// How soon after the change-password page was opened the agent checks again: the new password
/// stops the warnings (or the cached one stops working, and the person is asked to sign in with
/// the new one) within minutes rather than at the next regular check.
pub const AFTER_PORTAL: Duration = Duration::from_secs(15 * 60);

/// The person opened the change-password page at `now`: the next check comes within
/// [`AFTER_PORTAL`] (sooner if it was due sooner).
pub fn after_portal_opened(timetable: &mut Timetable, now: DateTime<Utc>) {
    timetable.next_check = timetable.next_check.min(now + AFTER_PORTAL);
}

/// The machine resumed from sleep: a check that failed before (the network was going away) is
/// retried at once rather than after its backoff; otherwise nothing changes.
pub fn on_resume(timetable: &mut Timetable, now: DateTime<Utc>) {
    if timetable.failures > 0 {
        timetable.next_check = timetable.next_check.min(now);
    }
}

/// A check ended at `now` with a throttling answer that asked to wait `retry_after` (longer
/// than a check waits by itself): it counts as a failure, and the next one comes no sooner
/// than asked (a `Retry-After` longer than the regular interval counts as the interval).
/// Returns how long until then.
pub fn after_throttled(
    timetable: &mut Timetable,
    now: DateTime<Utc>,
    retry_after: Duration,
    cadence: &Cadence,
    dice: Dice,
) -> Duration {
    after_check(timetable, now, false, cadence, dice);
    let asked = retry_after.min(cadence.interval);
    let wait = retry_wait(timetable.failures, asked, cadence, dice.jitter);
    timetable.next_check = now + wait;
    wait
}

/// How long a check's own retry within one request waits after a throttling answer that
/// asked for `asked` (a few seconds): at a moment drawn by `roll` (in `0.0..1.0`) from
/// `asked` up to [`RETRY_AFTER_SPREAD`] more, never sooner than asked, so the desktops
/// throttled in the same second do not all come back in the same second.
pub fn retry_after_wait(asked: Duration, roll: f64) -> Duration {
    asked.saturating_add(asked.mul_f64(RETRY_AFTER_SPREAD * unit(roll)))
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

/// How long to wait after `failures` failed checks in a row, the last of which asked for
/// `asked` (zero: nothing asked). Without a retry window: 1, 2, 4, … times `first_retry`, never
/// longer than the interval, and at least `asked`. With one: a moment drawn by `roll` from
/// between `first_retry` (or `asked`, when longer) and the end of the window, which doubles
/// with each failure up to the interval (or `asked` and [`RETRY_AFTER_SPREAD`] more, when
/// later; never past the interval and its 10 % jitter unless `asked` is).
fn retry_wait(failures: u32, asked: Duration, cadence: &Cadence, roll: f64) -> Duration {
    if cadence.retry_window.is_zero() {
        return doubled(cadence.first_retry, failures, cadence).max(asked);
    }
    let earliest = cadence.first_retry.max(asked);
    let latest = doubled(cadence.retry_window, failures, cadence)
        .max(retry_after_wait(asked, 1.0))
        .min(jittered(cadence.interval, 1.0))
        .max(earliest);
    earliest + (latest - earliest).mul_f64(unit(roll))
}

/// `first` doubled for each failure after the first, never longer than the interval.
fn doubled(first: Duration, failures: u32, cadence: &Cadence) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    first.saturating_mul(factor).min(cadence.interval)
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
