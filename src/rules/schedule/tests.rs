//! The schedule's rules, one table per rule.

use super::*;
use crate::rules::expiry::{Deadline, Facts, SignInReason, Source};
use chrono::TimeZone;

const MIN: u64 = 60;
const HOUR: u64 = 3600;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn cadence() -> Cadence {
    Cadence::every(Duration::from_secs(4 * HOUR))
}

const NO_DICE: Dice = Dice {
    spread: 0.0,
    jitter: 0.0,
};

fn in_grace() -> Finding {
    Finding::Facts(Facts {
        grace_logins_left: Some(2),
        ..Facts::new(Deadline::ExpiredNow, Source::LdapPpolicyControl)
    })
}

#[test]
fn the_first_wake_checks_at_once_and_holds_the_next_until_it_reports() {
    let mut t = Timetable::start(at(8, 0), day(24));
    let wake = on_wake(&mut t, at(8, 0), day(24), None, &cadence(), NO_DICE);
    assert_eq!(
        wake,
        Wake {
            new_day: false,
            check: CheckNow::Yes
        }
    );
    // A loop that wakes while the check runs does not start another one.
    assert_eq!(t.next_check, at(12, 0));
    let again = on_wake(&mut t, at(8, 1), day(24), None, &cadence(), NO_DICE);
    assert_eq!(again.check, CheckNow::No);
}

#[test]
fn a_check_is_due_exactly_at_its_time_and_not_a_second_before() {
    let cases = [
        (at(11, 59), CheckNow::No),
        (at(12, 0), CheckNow::Yes),
        (at(12, 1), CheckNow::Yes),
    ];
    for (now, expected) in cases {
        let mut t = Timetable {
            next_check: at(12, 0),
            failures: 0,
            day: day(24),
            caught_up: false,
        };
        let wake = on_wake(&mut t, now, day(24), None, &cadence(), NO_DICE);
        assert_eq!(wake.check, expected, "at {now}");
    }
}

#[test]
fn after_a_success_the_next_check_comes_after_the_interval_plus_up_to_ten_percent() {
    let cases = [
        (0.0, 4 * HOUR),
        (0.5, 4 * HOUR + 720),
        (1.0, 4 * HOUR + 1440),
    ];
    for (jitter, expected) in cases {
        let mut t = Timetable {
            next_check: at(8, 0),
            failures: 3,
            day: day(24),
            caught_up: false,
        };
        let dice = Dice {
            spread: 0.0,
            jitter,
        };
        let wait = after_check(&mut t, at(8, 0), true, &cadence(), dice);
        assert_eq!(wait.as_secs(), expected, "jitter {jitter}");
        assert_eq!(t.failures, 0);
        assert_eq!(t.next_check, at(8, 0) + wait);
    }
}

#[test]
fn out_of_range_dice_stay_inside_the_window() {
    for roll in [-1.0, 2.0, f64::NAN, f64::INFINITY] {
        let mut t = Timetable::start(at(8, 0), day(24));
        let dice = Dice {
            spread: roll,
            jitter: roll,
        };
        let wait = after_check(&mut t, at(8, 0), true, &cadence(), dice);
        assert!(wait.as_secs() >= 4 * HOUR && wait.as_secs() <= 4 * HOUR + 1440);
        let mut t = Timetable {
            next_check: at(20, 0),
            failures: 0,
            day: day(23),
            caught_up: false,
        };
        let wake = on_wake(&mut t, at(0, 0), day(24), None, &cadence(), dice);
        let within = t.next_check > at(0, 0) && t.next_check <= at(0, 10);
        assert!(wake.check == CheckNow::Yes || within, "{roll}");
    }
}

#[test]
fn failures_back_off_1_2_4_minutes_up_to_the_interval() {
    let mut t = Timetable::start(at(8, 0), day(24));
    let waits: Vec<u64> = (0..10)
        .map(|_| after_check(&mut t, at(8, 0), false, &cadence(), NO_DICE).as_secs() / MIN)
        .collect();
    assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 64, 128, 240, 240]);
    t.failures = u32::MAX;
    let wait = after_check(&mut t, at(8, 0), false, &cadence(), NO_DICE);
    assert_eq!(wait.as_secs(), 4 * HOUR);
    assert_eq!(t.failures, u32::MAX);
}

#[test]
fn a_new_day_brings_the_check_forward_within_the_spread() {
    // (next check planned, spread roll, expected next check)
    let cases = [
        (at(4, 0), 0.0, at(0, 0)),
        (at(4, 0), 0.5, at(0, 5)),
        (at(4, 0), 1.0, at(0, 10)),
        // Already due sooner than the spread: stays.
        (at(0, 2), 1.0, at(0, 2)),
    ];
    for (planned, spread, expected) in cases {
        let mut t = Timetable {
            next_check: planned,
            failures: 0,
            day: day(23),
            caught_up: false,
        };
        let dice = Dice {
            spread,
            jitter: 0.0,
        };
        let wake = on_wake(&mut t, at(0, 0), day(24), None, &cadence(), dice);
        assert!(wake.new_day);
        assert_eq!(t.day, day(24));
        if expected == at(0, 0) {
            assert_eq!(wake.check, CheckNow::Yes);
            // The check runs; the next waits for its outcome.
            assert_eq!(t.next_check, at(4, 0));
        } else {
            assert_eq!(wake.check, CheckNow::No);
            assert_eq!(t.next_check, expected, "planned {planned}, spread {spread}");
        }
    }
}

#[test]
fn a_clock_that_goes_back_a_day_is_a_new_day_too() {
    let mut t = Timetable {
        next_check: at(12, 0),
        failures: 0,
        day: day(25),
        caught_up: false,
    };
    let wake = on_wake(&mut t, at(8, 0), day(24), None, &cadence(), NO_DICE);
    assert!(wake.new_day);
    assert_eq!(t.day, day(24));
}

#[test]
fn an_account_in_its_grace_logins_is_not_checked_by_itself() {
    let cases = [
        (Some(in_grace()), CheckNow::SkippedToSaveGraceLogin),
        (
            Some(Finding::Facts(Facts::new(
                Deadline::ExpiredNow,
                Source::LdapPpolicyControl,
            ))),
            CheckNow::Yes,
        ),
        (
            Some(Finding::SignInRequired {
                reason: SignInReason::NoCredentials,
            }),
            CheckNow::Yes,
        ),
        (None, CheckNow::Yes),
    ];
    for (finding, expected) in cases {
        let mut t = Timetable::start(at(8, 0), day(24));
        let wake = on_wake(
            &mut t,
            at(8, 0),
            day(24),
            finding.as_ref(),
            &cadence(),
            NO_DICE,
        );
        assert_eq!(wake.check, expected, "{finding:?}");
        if expected == CheckNow::SkippedToSaveGraceLogin {
            assert_eq!(t.next_check, at(12, 0));
        }
    }
}

#[test]
fn the_loop_sleeps_until_the_next_check_or_the_next_day_at_most_an_hour() {
    let midnight = at(0, 0) + Duration::from_secs(24 * HOUR);
    let cases = [
        // (next check, now, next local day, expected wake)
        (at(8, 0), at(8, 0), midnight, at(8, 0)),
        // Overdue: at once.
        (at(8, 0), at(9, 0), midnight, at(9, 0)),
        (
            at(8, 0) + Duration::from_secs(30),
            at(8, 0),
            midnight,
            at(8, 0) + Duration::from_secs(30),
        ),
        // The next check is four hours away: an hour at most (a new time zone shows then).
        (at(12, 0), at(8, 0), midnight, at(9, 0)),
        // The new day comes before the next check.
        (
            at(23, 40) + Duration::from_secs(4 * HOUR),
            at(23, 40),
            midnight,
            midnight,
        ),
        // A next day already begun (the zone changed): at once.
        (at(12, 0), at(8, 0), at(7, 0), at(8, 0)),
    ];
    for (next_check, now, next_day, expected) in cases {
        let t = Timetable {
            next_check,
            failures: 0,
            day: day(24),
            caught_up: false,
        };
        assert_eq!(
            wake_at(&t, now, next_day, &cadence()),
            expected,
            "{next_check} {now} {next_day}"
        );
    }
}

#[test]
fn a_resume_retries_a_failed_check_at_once_and_changes_nothing_else() {
    let now = at(9, 0);
    // (failures, next check, expected next check)
    let cases = [
        (0, at(12, 0), at(12, 0)),
        (2, at(9, 2), now),
        (2, at(8, 0), at(8, 0)),
    ];
    for (failures, next_check, expected) in cases {
        let mut t = Timetable {
            next_check,
            failures,
            day: day(24),
            caught_up: false,
        };
        on_resume(&mut t, now);
        assert_eq!(t.next_check, expected, "{failures} {next_check}");
    }
}

fn fleet() -> Cadence {
    Cadence::for_fleet(Duration::from_secs(4 * HOUR))
}

fn rolled(spread: f64) -> Dice {
    Dice {
        spread,
        jitter: 0.0,
    }
}

#[test]
fn a_check_slept_through_comes_within_the_catch_up_spread_once() {
    // (cadence, planned check, wake-up, spread roll, expected check now, expected next check)
    let cases = [
        // The product's own timings: at once on waking.
        (cadence(), at(1, 0), at(9, 0), 0.5, CheckNow::Yes, at(13, 0)),
        // The fleet's: within the interval after waking.
        (fleet(), at(1, 0), at(9, 0), 0.5, CheckNow::No, at(11, 0)),
        (fleet(), at(1, 0), at(9, 0), 1.0, CheckNow::No, at(13, 0)),
        (fleet(), at(1, 0), at(9, 0), 0.0, CheckNow::Yes, at(13, 0)),
        // Two minutes late is still the loop's own timer.
        (fleet(), at(8, 58), at(9, 0), 0.5, CheckNow::Yes, at(13, 0)),
    ];
    for (cadence, planned, now, spread, check, next) in cases {
        let mut t = Timetable {
            next_check: planned,
            failures: 0,
            day: day(24),
            caught_up: false,
        };
        let wake = on_wake(&mut t, now, day(24), None, &cadence, rolled(spread));
        assert_eq!(wake.check, check, "{planned} {now} {spread}");
        assert_eq!(t.next_check, next, "{planned} {now} {spread}");
    }
    // Slept through the moved check as well: the next late wake-up checks at once.
    let mut t = Timetable::start(at(1, 0), day(24));
    on_wake(&mut t, at(9, 0), day(24), None, &fleet(), rolled(0.5));
    let wake = on_wake(&mut t, at(14, 0), day(24), None, &fleet(), rolled(0.5));
    assert_eq!(wake.check, CheckNow::Yes);
    assert!(!t.caught_up);
}

#[test]
fn the_fleet_spreads_the_new_days_check_over_the_interval() {
    let mut t = Timetable {
        next_check: at(3, 0),
        failures: 0,
        day: day(23),
        caught_up: false,
    };
    let wake = on_wake(&mut t, at(0, 0), day(24), None, &fleet(), rolled(0.25));
    assert!(wake.new_day);
    assert_eq!(wake.check, CheckNow::No);
    assert_eq!(t.next_check, at(1, 0));
}

#[test]
fn a_restart_goes_on_from_the_last_check() {
    // (last check, expected next check) for a restart at 9:00
    let cases = [
        (None, at(9, 0)),
        (Some(at(7, 0)), at(11, 0)),
        // From yesterday: overdue, so the first wake-up treats it as slept through.
        (
            Some(at(7, 0) - Duration::from_secs(24 * HOUR)),
            at(7, 0) - Duration::from_secs(20 * HOUR),
        ),
        // A last check "in the future" (clock set back): no later than an interval from now.
        (Some(at(20, 0)), at(13, 0)),
    ];
    for (last, expected) in cases {
        let t = Timetable::resume(at(9, 0), day(24), last, &fleet());
        assert_eq!(t.next_check, expected, "{last:?}");
        assert_eq!(t.failures, 0);
    }
    let mut t = Timetable::resume(at(9, 0), day(24), Some(at(0, 0)), &fleet());
    let wake = on_wake(&mut t, at(9, 0), day(24), None, &fleet(), rolled(0.5));
    assert_eq!(wake.check, CheckNow::No);
    assert_eq!(t.next_check, at(11, 0));
}

#[test]
fn a_throttled_check_waits_at_least_as_long_as_asked() {
    // (failures before, Retry-After, expected wait)
    let cases = [
        (0, 5 * MIN, 5 * MIN),
        // The backoff is longer than asked: the backoff.
        (6, 5 * MIN, 64 * MIN),
        // Asked for more than the interval: the interval.
        (0, 24 * HOUR, 4 * HOUR),
    ];
    for (failures, retry_after, expected) in cases {
        let mut t = Timetable {
            failures,
            ..Timetable::start(at(8, 0), day(24))
        };
        let wait = after_throttled(
            &mut t,
            at(8, 0),
            Duration::from_secs(retry_after),
            &cadence(),
            NO_DICE,
        );
        assert_eq!(wait.as_secs(), expected, "{failures} {retry_after}");
        assert_eq!(t.failures, failures + 1);
        assert_eq!(t.next_check, at(8, 0) + wait);
    }
}

#[test]
fn with_the_fleet_timings_the_first_success_after_failures_takes_a_fresh_place() {
    // (cadence, failures before, jitter roll, expected wait)
    let cases = [
        (cadence(), 3, 0.5, 4 * HOUR + 720),
        (fleet(), 0, 0.5, 4 * HOUR + 720),
        (fleet(), 3, 0.5, 2 * HOUR),
        (fleet(), 3, 1.0, 4 * HOUR),
        // Never sooner than the first retry.
        (fleet(), 3, 0.0, MIN),
    ];
    for (cadence, failures, jitter, expected) in cases {
        let mut t = Timetable {
            failures,
            ..Timetable::start(at(8, 0), day(24))
        };
        let dice = Dice {
            spread: 0.0,
            jitter,
        };
        let wait = after_check(&mut t, at(8, 0), true, &cadence, dice);
        assert_eq!(wait.as_secs(), expected, "{failures} {jitter}");
        assert_eq!(t.failures, 0);
    }
}

#[test]
fn opening_the_change_page_brings_the_next_check_within_a_quarter_hour() {
    // (next check before, expected after) with the page opened at 8:00.
    let cases = [
        (at(12, 0), at(8, 15)),
        // Already sooner: kept.
        (at(8, 5), at(8, 5)),
    ];
    for (before, expected) in cases {
        let mut t = Timetable {
            next_check: before,
            ..Timetable::start(at(8, 0), day(24))
        };
        after_portal_opened(&mut t, at(8, 0));
        assert_eq!(t.next_check, expected, "{before}");
    }
}

fn jitter(roll: f64) -> Dice {
    Dice {
        spread: 0.0,
        jitter: roll,
    }
}

#[test]
fn with_the_fleet_timings_a_retry_comes_within_a_window_that_doubles() {
    // (failures before, jitter roll, expected wait in seconds)
    let cases = [
        // The first retry: from the first_retry's minute to a third of the interval.
        (0, 0.0, MIN),
        (0, 0.5, MIN + 79 * MIN / 2),
        (0, 1.0, 80 * MIN),
        // Then within twice that, then the interval, and never longer.
        (1, 1.0, 160 * MIN),
        (2, 1.0, 4 * HOUR),
        (3, 1.0, 4 * HOUR),
        (9, 1.0, 4 * HOUR),
        (u32::MAX - 1, 1.0, 4 * HOUR),
        // Never sooner than the first retry, however many failures.
        (3, 0.0, MIN),
        (3, 0.5, MIN + (4 * HOUR - MIN) / 2),
    ];
    for (failures, roll, expected) in cases {
        let mut t = Timetable {
            failures,
            ..Timetable::start(at(8, 0), day(24))
        };
        let wait = after_check(&mut t, at(8, 0), false, &fleet(), jitter(roll));
        assert_eq!(wait.as_secs(), expected, "{failures} failures, roll {roll}");
        assert_eq!(t.failures, failures + 1);
        assert_eq!(t.next_check, at(8, 0) + wait);
    }
}

#[test]
fn with_the_fleet_timings_a_throttled_check_never_comes_before_retry_after() {
    // (failures before, Retry-After, jitter roll, expected wait in seconds)
    let cases = [
        // Within the first retry window: from the time asked to the window's end.
        (0, 5 * MIN, 0.0, 5 * MIN),
        (0, 5 * MIN, 0.5, 5 * MIN + 75 * MIN / 2),
        (0, 5 * MIN, 1.0, 80 * MIN),
        // Half as long again as asked ends after the window: from the time asked to then.
        (0, 60 * MIN, 0.0, 60 * MIN),
        (0, 60 * MIN, 1.0, 90 * MIN),
        // The window of the third failure in a row is the interval.
        (2, 5 * MIN, 1.0, 4 * HOUR),
        // Asked for more than the interval: the interval, with up to its 10 % jitter.
        (0, 24 * HOUR, 0.0, 4 * HOUR),
        (0, 24 * HOUR, 1.0, 4 * HOUR + 24 * MIN),
        // Asked for less than the first retry: the first retry still.
        (0, 10, 0.0, MIN),
    ];
    for (failures, retry_after, roll, expected) in cases {
        let mut t = Timetable {
            failures,
            ..Timetable::start(at(8, 0), day(24))
        };
        let asked = Duration::from_secs(retry_after);
        let wait = after_throttled(&mut t, at(8, 0), asked, &fleet(), jitter(roll));
        assert_eq!(wait.as_secs(), expected, "{failures} {retry_after} {roll}");
        assert_eq!(t.failures, failures + 1);
        assert_eq!(t.next_check, at(8, 0) + wait);
    }
}

#[test]
fn a_retry_stays_in_its_bounds_for_any_roll() {
    let rolls = [
        -1.0,
        0.0,
        0.3,
        1.0,
        2.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let asked = [
        0,
        1,
        5 * MIN,
        30 * MIN,
        3 * HOUR,
        4 * HOUR,
        48 * HOUR,
        u64::MAX,
    ];
    for failures in [0, 1, 2, 5, 40, u32::MAX] {
        for roll in rolls {
            for &retry_after in &asked {
                let mut t = Timetable {
                    failures,
                    ..Timetable::start(at(8, 0), day(24))
                };
                let retry_after = Duration::from_secs(retry_after);
                let wait = after_throttled(&mut t, at(8, 0), retry_after, &fleet(), jitter(roll));
                let context = format!("{failures} {roll} {retry_after:?}: {wait:?}");
                assert!(
                    wait >= retry_after.min(Duration::from_secs(4 * HOUR)),
                    "{context}"
                );
                assert!(wait >= Duration::from_secs(MIN), "{context}");
                assert!(
                    wait <= Duration::from_secs(4 * HOUR + 24 * MIN),
                    "{context}"
                );
                let mut t = Timetable {
                    failures,
                    ..Timetable::start(at(8, 0), day(24))
                };
                let wait = after_check(&mut t, at(8, 0), false, &fleet(), jitter(roll));
                let context = format!("{failures} {roll}: {wait:?}");
                assert!(wait >= Duration::from_secs(MIN), "{context}");
                assert!(wait <= Duration::from_secs(4 * HOUR), "{context}");
            }
        }
    }
}

#[test]
fn over_many_rolls_the_retries_spread_evenly_over_their_window() {
    // 12,000 desktops fail at the same moment: their first retries fall evenly over the window
    // from the first retry's minute to 80 minutes, and their retries after a throttling
    // answer asking for 5 minutes evenly from those 5 to 80; each tenth of the window gets
    // about 1,200 (before the jitter, all 12,000 came in the same second).
    let mut rng = fastrand::Rng::with_seed(25);
    let mut failed = [0u32; 10];
    let mut throttled = [0u32; 10];
    let tenth = |wait: Duration, from: u64| {
        let share = (wait.as_secs_f64() - from as f64) / (80 * MIN - from) as f64;
        ((share * 10.0) as usize).min(9)
    };
    for _ in 0..12_000 {
        let mut t = Timetable::start(at(8, 0), day(24));
        let wait = after_check(&mut t, at(8, 0), false, &fleet(), jitter(rng.f64()));
        assert!(wait >= Duration::from_secs(MIN), "{wait:?}");
        failed[tenth(wait, MIN)] += 1;
        let mut t = Timetable::start(at(8, 0), day(24));
        let asked = Duration::from_secs(5 * MIN);
        let wait = after_throttled(&mut t, at(8, 0), asked, &fleet(), jitter(rng.f64()));
        assert!(wait >= asked, "{wait:?}");
        throttled[tenth(wait, 5 * MIN)] += 1;
    }
    for n in failed {
        assert!((1080..=1320).contains(&n), "{failed:?}");
    }
    for n in throttled {
        assert!((1080..=1320).contains(&n), "{throttled:?}");
    }
}

#[test]
fn a_retry_within_a_request_waits_from_the_time_asked_to_half_as_long_again() {
    let ms = Duration::from_millis;
    // (asked, roll, expected)
    let cases = [
        (ms(10_000), 0.0, ms(10_000)),
        (ms(10_000), 0.5, ms(12_500)),
        (ms(10_000), 1.0, ms(15_000)),
        (ms(0), 1.0, ms(0)),
        (ms(2_000), f64::NAN, ms(2_000)),
        (ms(2_000), -1.0, ms(2_000)),
        (ms(2_000), 9.0, ms(3_000)),
        (Duration::MAX, 1.0, Duration::MAX),
    ];
    for (asked, roll, expected) in cases {
        assert_eq!(retry_after_wait(asked, roll), expected, "{asked:?} {roll}");
    }
}
