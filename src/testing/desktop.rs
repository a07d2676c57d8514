//! A fake screen: records the balloons shown (and on which local day), the pages opened and the
//! dialogs asked for; each balloon ends as the test says, or stays on screen, or is not taken
//! at all (a hung notification server).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;

use crate::rules::expiry::Balloon;
use crate::screen::balloon::{NotShown, SERVER_DEADLINE};
use crate::screen::desktop::Desktop;
use crate::screen::dialog::change::{ChangeAnswers, ChangeRequest};
use crate::screen::dialog::PromptError;
use crate::system::clock::Clock;
use crate::system::credentials::Secret;
use crate::system::state::BalloonOutcome;
use crate::testing::clock::FakeClock;

/// A screen that records balloons; they stay until the test ends unless `outcome` is set.
#[derive(Clone, Default)]
pub struct FakeDesktop {
    /// The titles of the balloons shown, in order.
    pub shown: Arc<Mutex<Vec<String>>>,
    /// How every balloon ends; none: it stays on screen.
    pub outcome: Option<BalloonOutcome>,
    /// The password the sign-in dialog answers; none: it is cancelled.
    pub password: Option<&'static str>,
    /// The current and the new password the change dialog answers; none: it is cancelled.
    pub change: Option<(&'static str, &'static str)>,
    /// How often the change dialog was opened.
    pub changes_asked: Arc<Mutex<usize>>,
    /// How long the person takes in the change dialog.
    pub change_takes: Duration,
    /// The clock whose local day each balloon is recorded with.
    pub clock: Arc<Mutex<Option<FakeClock>>>,
    /// The local days balloons were shown on, in order.
    pub days: Arc<Mutex<Vec<NaiveDate>>>,
    /// The web pages opened in the browser, in order.
    pub opened: Arc<Mutex<Vec<String>>>,
    /// The notification server hangs: every balloon is not shown, after the deadline.
    pub hung: Arc<Mutex<bool>>,
}

impl FakeDesktop {
    /// Notes the local day of every balloon from now on, on `clock`.
    pub fn record_days_on(&self, clock: &FakeClock) {
        *self.clock.lock().unwrap() = Some(clock.clone());
    }

    /// The titles of the balloons shown so far, oldest first.
    pub fn titles(&self) -> Vec<String> {
        self.shown.lock().unwrap().clone()
    }

    /// How often the change dialog was opened.
    pub fn changes_asked(&self) -> usize {
        *self.changes_asked.lock().unwrap()
    }

    /// The local day of every balloon shown so far.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.days.lock().unwrap().clone()
    }

    /// The web pages opened so far, oldest first.
    pub fn opened(&self) -> Vec<String> {
        self.opened.lock().unwrap().clone()
    }

    /// Makes the notification server hang (`true`) or answer again.
    pub fn hang(&self, hung: bool) {
        *self.hung.lock().unwrap() = hung;
    }
}

impl Desktop for FakeDesktop {
    async fn show(
        &self,
        balloon: &Balloon,
        _: Option<&str>,
        on_screen: impl FnOnce() + Send,
    ) -> Result<BalloonOutcome, NotShown> {
        let hung = *self.hung.lock().unwrap();
        if hung {
            tokio::time::sleep(SERVER_DEADLINE).await;
            return Err(NotShown);
        }
        self.shown.lock().unwrap().push(balloon.title.clone());
        if let Some(clock) = self.clock.lock().unwrap().as_ref() {
            self.days.lock().unwrap().push(clock.today());
        }
        on_screen();
        match self.outcome {
            Some(outcome) => Ok(outcome),
            None => std::future::pending().await,
        }
    }

    fn open_page(&self, url: &str) {
        self.opened.lock().unwrap().push(url.to_string());
    }

    async fn ask_password(&self, _: &str) -> Result<Option<Secret>, PromptError> {
        Ok(self.password.map(Secret::new))
    }

    async fn ask_change(&self, _: &ChangeRequest) -> Result<Option<ChangeAnswers>, PromptError> {
        *self.changes_asked.lock().unwrap() += 1;
        tokio::time::sleep(self.change_takes).await;
        Ok(self.change.map(|(current, new)| ChangeAnswers {
            current: Secret::new(current),
            new: Secret::new(new),
        }))
    }
}
