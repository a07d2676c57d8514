//! The time, as the agent sees it: the instant in UTC (to compute with), the local calendar day
//! (to decide "once a day"), and a sleep until a wall-clock instant. A seam, so agent behaviour
//! across days, time zones and clock jumps is tested with a fake clock instead of the machine's.
//!
//! The real sleep follows the wall clock, not the monotonic one: a machine that was suspended
//! past the instant wakes the sleeper as soon as it resumes, and so does a clock that is set
//! (on Linux a `timerfd` on `CLOCK_REALTIME` with `TFD_TIMER_CANCEL_ON_SET`, which costs no
//! wake-up until then; elsewhere a coarse fallback that looks every minute).

use std::future::Future;

use chrono::{DateTime, Days, Local, NaiveDate, TimeZone, Utc};

#[cfg(target_os = "linux")]
mod linux;

/// Where the agent reads the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// The local calendar day at this instant.
    fn today(&self) -> NaiveDate;
    /// The instant the next local day begins.
    fn next_day_starts(&self) -> DateTime<Utc>;
    /// Returns when the wall clock reaches `at`, or earlier when the clock is set or the
    /// machine resumes from a suspend that may have skipped it (the caller looks again).
    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()> + Send;
}

/// The machine's clock and time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn today(&self) -> NaiveDate {
        Local::now().date_naive()
    }

    fn next_day_starts(&self) -> DateTime<Utc> {
        start_of_next_day(&Local, self.now())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()> + Send {
        sleep_until_wall_clock(at)
    }
}

/// The first instant of the local day after the one `now` falls on, in `zone`. Where that day
/// starts in a gap (a DST change at midnight), the first instant that exists.
pub fn start_of_next_day<Tz: TimeZone>(zone: &Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.with_timezone(zone).date_naive() + Days::new(1);
    let mut midnight = tomorrow.and_time(chrono::NaiveTime::MIN);
    // A day may begin at 01:00 when the clocks jump at midnight; a gap lasts at most hours.
    for _ in 0..24 {
        if let Some(start) = zone.from_local_datetime(&midnight).earliest() {
            return start.with_timezone(&Utc);
        }
        midnight += chrono::Duration::hours(1);
    }
    now + chrono::Duration::days(1)
}

#[cfg(target_os = "linux")]
async fn sleep_until_wall_clock(at: DateTime<Utc>) {
    linux::sleep_until(at).await
}

/// Without a wall-clock timer: sleep on the monotonic clock, looking again every minute.
#[cfg(not(target_os = "linux"))]
async fn sleep_until_wall_clock(at: DateTime<Utc>) {
    let left = (at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left.min(std::time::Duration::from_secs(60))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_day_starts_at_local_midnight_or_the_first_instant_after() {
        let utc = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            start_of_next_day(&berlin, utc(2026, 11, 24, 22, 30)),
            utc(2026, 11, 24, 23, 0)
        );
        // 23:30 UTC is already the 25th in Berlin: the 26th starts next.
        assert_eq!(
            start_of_next_day(&berlin, utc(2026, 11, 24, 23, 30)),
            utc(2026, 11, 25, 23, 0)
        );
        // Summer time: midnight is 22:00 UTC.
        assert_eq!(
            start_of_next_day(&berlin, utc(2026, 7, 1, 12, 0)),
            utc(2026, 7, 1, 22, 0)
        );
        // Santiago de Chile moves its clocks at midnight: the day starts at 01:00.
        let santiago = chrono_tz::America::Santiago;
        let start = start_of_next_day(&santiago, utc(2026, 9, 5, 12, 0));
        assert_eq!(
            start.with_timezone(&santiago).date_naive(),
            NaiveDate::from_ymd_opt(2026, 9, 6).unwrap()
        );
        assert!(start > utc(2026, 9, 5, 12, 0));
    }
}
