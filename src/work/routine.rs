//! The routine work on one account, written once and used by the one-shot commands, the agent
//! and the demo alike: check with the cached credentials, record the finding (or the failure)
//! and save it; show today's balloon when one is due, record it as shown once the screen took
//! it, and record how it ended.
//!
//! Every change to the saved state is applied to the file as it is on disk at that moment
//! (load, change, save), so a `check`, `sign-in` or `sign-out` from another process meanwhile is
//! not overwritten by an older copy.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::providers::IdentityProvider;
use crate::report;
use crate::rules::expiry::{Balloon, Finding, SignInReason, Status};
use crate::screen::balloon::NotShown;
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;
use crate::system::config::Config;
use crate::system::credentials::CredentialCache;
use crate::system::state::{BalloonOutcome, SavedState, StateFile};
use crate::work::account::{self, CheckError};
use crate::work::password_change::{self, Interaction, Route};

/// The longest one check may take, all retries included; then it counts as failed.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(120);

/// Everything the routine works with: the configuration and the four seams (identity endpoint,
/// keyring, screen, clock) plus the state file.
pub struct Routine<P, D, C> {
    pub config: Config,
    pub provider: P,
    pub cache: CredentialCache,
    pub state_file: StateFile,
    pub desktop: D,
    pub clock: C,
}

/// How today's balloon ended (or that the screen did not take it), and the change its click
/// led to, if it did.
#[derive(Debug)]
pub struct DailyBalloon {
    pub outcome: Result<BalloonOutcome, NotShown>,
    pub change: Option<Interaction>,
}

/// Today's balloon, named before it is shown: the local day it is for and the instant it is
/// recorded with once on screen, which names it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyMark {
    pub day: NaiveDate,
    pub shown_at: DateTime<Utc>,
}

/// How one check went.
#[derive(Debug)]
pub struct Checked {
    /// The account's finding before the check.
    pub previous: Option<Finding>,
    /// The saved state after the check was recorded.
    pub saved: SavedState,
    /// Why no status could be determined (the last finding is kept), in words.
    pub failure: Option<String>,
    /// The endpoint throttled the check and asked to wait this long.
    pub retry_after: Option<Duration>,
}

impl Checked {
    /// The check found, for the first time, that the credentials stopped working: the password
    /// was changed elsewhere, or the session of a refresh token ended. The reason, for its one
    /// balloon.
    pub fn noticed_session_end(&self, account: &str) -> Option<SignInReason> {
        let now = self.saved.finding_for(account);
        match now {
            Some(Finding::SignInRequired { reason })
                if reason.ends_session() && self.previous.as_ref() != now =>
            {
                Some(*reason)
            }
            _ => None,
        }
    }
}

impl<P: IdentityProvider, D: Desktop, C: Clock> Routine<P, D, C> {
    /// Applies `change` to the state as it is on disk now, saves it and returns it.
    pub fn update(&self, change: impl FnOnce(&mut SavedState)) -> SavedState {
        let mut saved = self.state_file.load();
        change(&mut saved);
        if let Err(e) = self.state_file.save(&saved) {
            tracing::warn!(error = %e, "could not save the state");
        }
        saved
    }

    /// One check of `account` within [`CHECK_DEADLINE`]: the finding, or the failure with the
    /// last finding kept, is recorded and saved.
    pub async fn check(&self, account: &str) -> Checked {
        let previous = self.state_file.load().finding_for(account).cloned();
        let checked = tokio::time::timeout(
            CHECK_DEADLINE,
            account::check(&self.provider, &self.cache, account, previous.as_ref()),
        )
        .await
        .unwrap_or_else(|_| Err(CheckError::DeadlineExceeded(CHECK_DEADLINE.as_secs())));
        let now = self.clock.now();
        let retry_after = checked.as_ref().err().and_then(CheckError::retry_after);
        let (saved, failure) = match checked {
            Ok(mut finding) => {
                if let Finding::Facts(facts) = &mut finding {
                    facts.clock_offset_secs = self.provider.clock_offset_secs();
                }
                let saved = self.update(|s| s.record_finding(account, finding, now));
                (saved, None)
            }
            Err(e) => {
                let message = e.to_string();
                let saved = self.update(|s| s.record_failure(&message, now));
                (saved, Some(message))
            }
        };
        Checked {
            previous,
            saved,
            failure,
            retry_after,
        }
    }

    /// The status of `account` now, from what is saved.
    pub fn status(&self, saved: &SavedState, account: Option<&str>) -> Status {
        report::current_status(&self.config, saved, account, self.clock.now())
    }

    /// Where a click on a password balloon and "Change password…" lead, decided once from the
    /// configuration and the page the endpoint offered with the saved status: the endpoint's
    /// page when trusted, else the configured portal, or this program's own dialog for a
    /// directory account ([`password_change::route`]). Callers carry it with the balloon they
    /// show and [`follow`](Self::follow) it on a click.
    pub fn change_route(&self, saved: &SavedState) -> Route {
        password_change::route(&self.config, saved.offered_portal_url())
    }

    /// The change in this program's own dialog, from asking to the new status saved.
    pub async fn change_here(&self, account: &str) -> Interaction {
        password_change::change_interactively(
            &self.config,
            &self.provider,
            &self.cache,
            &self.state_file,
            &self.desktop,
            account,
        )
        .await
    }

    /// Today's balloon for `account`, unless one was already shown this local day.
    pub fn due_balloon(&self, saved: &SavedState, account: Option<&str>) -> Option<Balloon> {
        saved.due_balloon(self.clock.today(), &self.status(saved, account))
    }

    /// Names today's balloon, now, before it is shown.
    pub fn daily_mark(&self) -> DailyMark {
        DailyMark {
            day: self.clock.today(),
            shown_at: self.clock.now(),
        }
    }

    /// Shows today's balloon named `mark`, notes (and saves) it as today's as soon as the screen
    /// took it, so from then on a crash or a restart cannot show it twice, waits for its
    /// outcome and records it; returns the outcome and the state saved with it. A balloon the
    /// screen did not take is not noted, so it is shown later that day. `link` is the page a
    /// click leads to (printed where balloons fall back to text); the caller follows the click.
    pub async fn show_daily(
        &self,
        balloon: &Balloon,
        mark: DailyMark,
        link: Option<&str>,
    ) -> Result<(BalloonOutcome, SavedState), NotShown> {
        let on_screen = || {
            self.update(|s| s.record_daily_balloon(mark.day, mark.shown_at, balloon));
        };
        let outcome = self.desktop.show(balloon, link, on_screen).await?;
        let saved = self.update(|s| s.record_balloon_outcome(mark.shown_at, outcome));
        Ok((outcome, saved))
    }

    /// Follows a click on a password balloon (or "Change password…") where `route` leads:
    /// the page opens in the browser, or the password is changed in this program's dialog
    /// (how that ended is returned).
    pub async fn follow(&self, route: &Route, account: &str) -> Option<Interaction> {
        match route {
            Route::Portal(url) => {
                self.desktop.open_page(url);
                None
            }
            Route::Here => Some(self.change_here(account).await),
        }
    }

    /// Today's balloon for `account` if due: shown, recorded once on screen, its outcome
    /// recorded. A click follows the route decided with it: the portal, or this program's
    /// change dialog.
    pub async fn daily_balloon_if_due(&self, account: &str) -> Option<DailyBalloon> {
        let saved = self.state_file.load();
        let balloon = self.due_balloon(&saved, Some(account))?;
        let route = self.change_route(&saved);
        let shown = self
            .show_daily(&balloon, self.daily_mark(), route.portal())
            .await;
        let change = match shown {
            Ok((BalloonOutcome::Clicked, _)) => self.follow(&route, account).await,
            _ => None,
        };
        Some(DailyBalloon {
            outcome: shown.map(|(outcome, _)| outcome),
            change,
        })
    }
}
