//! Clocks and sleep over the fake clock: a machine suspended across midnight and across days,
//! a time-zone change, daylight saving time both ways, a clock set back. The rule under test:
//! never two balloons on one local day, and one on every day the machine is awake for.

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};

use super::*;

/// A password that expires `days` after `from` (plus half a day, so whole days do not slip).
fn expiring(from: DateTime<Utc>, days: i64) -> Finding {
    let expires_at = from + Days::days(days) + Days::hours(12);
    Finding::Facts(Facts::new(Deadline::At { expires_at }, Source::TokenClaim))
}

/// A desktop whose balloons end at once (dismissed), so the next day's is not held back.
fn dismissing() -> FakeDesktop {
    FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    }
}

/// Starts the agent at `start`, with enough answers for every check of the test.
fn agent_at(start: DateTime<Utc>, desktop: &FakeDesktop) -> Harness {
    let h = Harness::start(start, desktop.clone(), true);
    for _ in 0..200 {
        h.endpoint.answer(Ok(expiring(start, 12)));
    }
    h
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_machine_suspended_across_midnight_and_across_days_gets_one_balloon_a_day() {
    let desktop = dismissing();
    let h = agent_at(at(24, 21, 0), &desktop);
    pass(60).await;
    assert_eq!(desktop.days(), [day(11, 24)]);
    // Suspended at 21:01, resumed the next morning: tokio's time did not move, the wall clock did.
    h.endpoint.clock().jump(Days::hours(12));
    pass(61).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25)]);
    checks_within_the_interval(&h).await;
    // A long weekend asleep: one balloon on waking, not one per missed day.
    h.endpoint.clock().jump(Days::days(3));
    pass(61).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25), day(11, 28)]);
    checks_within_the_interval(&h).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25), day(11, 28)]);
    h.stop().await;
}

/// The check a machine slept through comes within the next interval (4 h), spread rather than
/// at once on waking.
async fn checks_within_the_interval(h: &Harness) {
    let before = h.endpoint.calls();
    pass(4 * 3600 + 61).await;
    assert!(h.endpoint.calls() > before, "no check within 4 h of waking");
}

#[tokio::test(start_paused = true)]
async fn a_time_zone_change_starts_the_new_local_day_once() {
    let desktop = dismissing();
    let h = agent_at(at(24, 22, 30), &desktop);
    pass(60).await;
    assert_eq!(desktop.days(), [day(11, 24)]);
    // Flown to Tokyo: it is already the 25th there.
    // A zone change moves no clock: it is seen within the hour the loop sleeps at most.
    h.endpoint.clock().set_zone(chrono_tz::Asia::Tokyo);
    pass(3601).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25)]);
    // Back in UTC the 24th comes again, and the 25th later: both were served.
    h.endpoint.clock().set_zone(chrono_tz::UTC);
    pass(19 * 3600).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25)]);
    // The 26th is a new day everywhere.
    pass(8 * 3600).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25), day(11, 26)]);
    h.stop().await;
}

/// Five days in Berlin around a change of daylight saving time: one balloon each local day.
async fn five_days_in_berlin_from(start: DateTime<Utc>) {
    let desktop = dismissing();
    let h = agent_at(start, &desktop);
    h.endpoint.clock().set_zone(chrono_tz::Europe::Berlin);
    // Until the evening of the fifth local day.
    pass(4 * 86400 + 10 * 3600).await;
    let first = start.with_timezone(&chrono_tz::Europe::Berlin).date_naive();
    let want: Vec<NaiveDate> = (0..5).map(|i| first + Days::days(i)).collect();
    assert_eq!(desktop.days(), want);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn daylight_saving_time_starting_keeps_one_balloon_a_day() {
    // Berlin springs forward on Sunday 29 March 2026 at 02:00.
    five_days_in_berlin_from(Utc.with_ymd_and_hms(2026, 3, 27, 8, 0, 0).unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn daylight_saving_time_ending_keeps_one_balloon_a_day() {
    // Berlin falls back on Sunday 25 October 2026 at 03:00: one local day has 25 hours.
    five_days_in_berlin_from(Utc.with_ymd_and_hms(2026, 10, 23, 8, 0, 0).unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn a_clock_set_back_a_day_brings_no_second_balloon() {
    let desktop = dismissing();
    let h = agent_at(at(24, 9, 0), &desktop);
    pass(60).await;
    pass(86400).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25)]);
    // Set back to the 24th: served already; then the 25th again: served too.
    h.endpoint.clock().jump(-Days::days(1));
    pass(2 * 3600).await;
    pass(86400).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25)]);
    // The 26th, reached after the correction, brings its balloon.
    pass(86400).await;
    assert_eq!(desktop.days(), [day(11, 24), day(11, 25), day(11, 26)]);
    h.stop().await;
}
