//! The identity endpoint as the fleet sees it: it answers, it is down (connections refused),
//! or it throttles with `429 Retry-After`. It also counts what reaches it, minute by minute,
//! and the requests sent before a `Retry-After` the same desktop was given had run out.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What one request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Down,
    Throttled { retry_after: Duration },
}

/// A stretch of time the endpoint answers something other than Ok.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub answer: Answer,
}

/// The endpoint over the simulated days.
pub struct Endpoint {
    start: DateTime<Utc>,
    faults: Vec<Fault>,
    /// Requests per minute since `start`.
    pub per_minute: Vec<u32>,
    /// Requests sent while the sender's last `Retry-After` still ran.
    pub too_early: u64,
}

impl Endpoint {
    pub fn new(start: DateTime<Utc>, minutes: usize, faults: Vec<Fault>) -> Endpoint {
        Endpoint {
            start,
            faults,
            per_minute: vec![0; minutes],
            too_early: 0,
        }
    }

    /// One request at `at` from a desktop told to wait until `not_before`.
    pub fn request(&mut self, at: DateTime<Utc>, not_before: &mut Option<DateTime<Utc>>) -> Answer {
        let minute = (at - self.start).num_minutes();
        if let Some(slot) = usize::try_from(minute)
            .ok()
            .and_then(|m| self.per_minute.get_mut(m))
        {
            *slot += 1;
        }
        if not_before.is_some_and(|t| at < t) {
            self.too_early += 1;
        }
        let answer = self
            .faults
            .iter()
            .find(|f| f.from <= at && at < f.until)
            .map_or(Answer::Ok, |f| f.answer);
        if let Answer::Throttled { retry_after } = answer {
            *not_before = Some(at + retry_after);
        }
        answer
    }
}
