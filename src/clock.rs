//! The time, as the agent sees it: the instant in UTC (to compute with) and the local calendar
//! day (to decide "once a day"). A seam, so agent behaviour across days, time zones and clock
//! jumps is tested with a fake clock instead of the machine's.

use chrono::{DateTime, Local, NaiveDate, Utc};

/// Where the agent reads the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// The local calendar day at this instant.
    fn today(&self) -> NaiveDate;
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
}
