//! A fake wall clock over tokio's paused time: days pass in milliseconds, and the clock can
//! jump (a suspend, a correction) or change its time zone as a real machine's does.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::system::clock::{self, Clock};

/// Wall-clock time that starts at `start` and runs with tokio's (paused) clock, in a time zone
/// (UTC unless changed). Like a real machine's clock it can jump (a suspend, a correction)
/// without tokio's monotonic time moving, and its zone can change.
#[derive(Clone)]
pub struct FakeClock {
    start: DateTime<Utc>,
    began: tokio::time::Instant,
    changes: Arc<Mutex<ClockChanges>>,
}

/// How the wall clock and the zone moved since the start.
struct ClockChanges {
    jumped: chrono::Duration,
    zone: chrono_tz::Tz,
    /// Wakes sleepers when the clock jumps, as a set clock or a resume does for real.
    jumps: Arc<tokio::sync::Notify>,
}

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock::at(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap())
    }
}

impl FakeClock {
    /// The clock at `start` now, in UTC.
    pub fn at(start: DateTime<Utc>) -> FakeClock {
        FakeClock {
            start,
            began: tokio::time::Instant::now(),
            changes: Arc::new(Mutex::new(ClockChanges {
                jumped: chrono::Duration::zero(),
                zone: chrono_tz::UTC,
                jumps: Arc::default(),
            })),
        }
    }

    /// The wall clock jumps by `by` at once (a machine that slept, a clock set back).
    pub fn jump(&self, by: chrono::Duration) {
        let mut changes = self.changes.lock().unwrap();
        changes.jumped += by;
        changes.jumps.notify_waiters();
    }

    /// The machine moves to another time zone (which wakes nobody: no clock changes).
    pub fn set_zone(&self, zone: chrono_tz::Tz) {
        self.changes.lock().unwrap().zone = zone;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        let jumped = self.changes.lock().unwrap().jumped;
        self.start + self.began.elapsed() + jumped
    }

    fn today(&self) -> NaiveDate {
        let zone = self.changes.lock().unwrap().zone;
        self.now().with_timezone(&zone).date_naive()
    }

    fn next_day_starts(&self) -> DateTime<Utc> {
        let zone = self.changes.lock().unwrap().zone;
        clock::start_of_next_day(&zone, self.now())
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let jumps = self.changes.lock().unwrap().jumps.clone();
        let jumped = jumps.notified();
        let left = (at - self.now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(left) => {}
            () = jumped => {}
        }
    }
}
