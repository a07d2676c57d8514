//! The running agent: checks at start, every `check_interval_minutes` (with jitter) and as soon as
//! the local date changes; backs off on failures; keeps the last known status; shows the balloon
//! when due; answers commands from the tray; stops cleanly when asked.
//!
//! Scheduling follows the wall clock, checked once a minute, so a laptop that slept through the
//! night still gets the morning's check and balloon as soon as it wakes.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, Utc};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::credentials::CredentialCache;
use crate::events::{Command, View};
use crate::notify::Notifier;
use crate::policy::{
    balloon_due, balloon_for, password_changed_balloon, Balloon, Finding, SignInReason, Status,
};
use crate::provider::Provider;
use crate::report;
use crate::session;
use crate::state::{BalloonOutcome, BalloonRecord, SavedState, StateFile};

/// How often the wall clock is compared with the schedule.
const TICK: Duration = Duration::from_secs(60);
/// First retry after a failed check; doubles up to the regular interval.
const FIRST_RETRY: Duration = Duration::from_secs(60);

/// Everything the agent works with.
pub struct Agent {
    pub config: Config,
    pub provider: Provider,
    pub cache: CredentialCache,
    pub state_file: StateFile,
    pub notifier: Notifier,
    pub account: Option<String>,
    /// Stop after the first balloon has finished (the demo's `--once`).
    pub stop_after_first_balloon: bool,
}

/// A balloon that finished, reported back by its task.
struct Finished {
    daily: bool,
    outcome: BalloonOutcome,
}

/// Scheduling state of the loop (not persisted: a restart checks at once).
struct Schedule {
    next_check: DateTime<Utc>,
    failures: u32,
    day: NaiveDate,
}

impl Agent {
    /// Runs until `shutdown` resolves, a `Command::Quit` arrives or (demo) the first balloon ends.
    pub async fn run(
        self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        views: watch::Sender<View>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<Finished>();
        let mut saved = self.state_file.load();
        let mut schedule = Schedule {
            next_check: Utc::now(),
            failures: 0,
            day: Local::now().date_naive(),
        };
        let mut balloon_showing = false;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(account = ?self.account, "agent started");
        let _ = views.send(self.view(&saved).await);
        loop {
            // Idle ticks change nothing a front end shows; everything else may.
            let mut changed = true;
            tokio::select! {
                _ = ticker.tick() => {
                    let now = Utc::now();
                    let today = Local::now().date_naive();
                    changed = now >= schedule.next_check || today != schedule.day;
                    if changed {
                        schedule.day = today;
                        self.check(&mut saved, &mut schedule).await;
                    }
                    if !balloon_showing {
                        balloon_showing = self.balloon_if_due(&mut saved, &finished_tx);
                    }
                }
                Some(command) = commands.recv() => {
                    match command {
                        Command::Quit => break,
                        Command::CheckNow => {
                            self.check(&mut saved, &mut schedule).await;
                            if !balloon_showing {
                                balloon_showing = self.balloon_if_due(&mut saved, &finished_tx);
                            }
                        }
                        Command::ShowStatus => self.show_status(&saved, &finished_tx),
                        Command::OpenPortal => {
                            if let Err(e) = crate::portal::open(&self.portal_url(&saved)) {
                                tracing::warn!(error = %e, "could not open the browser");
                            }
                        }
                        Command::SignOut => {
                            if let Some(account) = &self.account {
                                if let Err(e) = session::sign_out(&self.cache, account).await {
                                    tracing::warn!(error = %e, "sign-out failed");
                                }
                                saved.finding = Some(Finding::SignInRequired { reason: SignInReason::NoCredentials });
                                self.save(&saved);
                            }
                        }
                        Command::SignIn => self.sign_in_from_desktop(&mut saved).await,
                        Command::SetAutostart(_) => {
                            tracing::info!(?command, "not available in this front end");
                        }
                    }
                }
                Some(finished) = finished_rx.recv() => {
                    if finished.daily {
                        balloon_showing = false;
                        if let Some(record) = saved.last_balloon.as_mut() {
                            record.outcome = Some(finished.outcome);
                        }
                        self.save(&saved);
                        if self.stop_after_first_balloon {
                            break;
                        }
                    }
                }
                _ = &mut shutdown => break,
            }
            if changed {
                let _ = views.send(self.view(&saved).await);
            }
        }
        tracing::info!("agent stopped");
    }

    /// One check; on failure the last known status is kept and the next try backs off.
    async fn check(&self, saved: &mut SavedState, schedule: &mut Schedule) {
        let now = Utc::now();
        let Some(account) = self.account.as_deref() else {
            tracing::warn!("no account configured: run `signin-assistant sign-in --user NAME`");
            schedule.next_check = now + self.interval();
            return;
        };
        let previous = saved.finding_for(account).cloned();
        match session::check(&self.provider, &self.cache, account).await {
            Ok(finding) => {
                tracing::info!(state = ?crate::policy::evaluate(now, &finding, &self.config.policy()).state, "checked");
                saved.record_finding(account, finding, now);
                schedule.failures = 0;
                schedule.next_check = now + jittered(self.interval());
            }
            Err(e) => {
                schedule.failures += 1;
                let wait = backoff(schedule.failures, self.interval());
                tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "check failed; keeping the last known status");
                saved.record_failure(&e.to_string(), now);
                schedule.next_check = now + wait;
            }
        }
        self.save(saved);
        let changed_now = saved.finding_for(account)
            == Some(&Finding::SignInRequired {
                reason: SignInReason::PasswordChangedElsewhere,
            });
        if changed_now && previous.as_ref() != saved.finding_for(account) {
            let balloon = password_changed_balloon();
            let notifier = self.notifier.clone();
            let portal = self.portal_url(saved);
            tokio::spawn(async move {
                notifier.show(&balloon, &portal).await;
            });
        }
    }

    /// "Sign in…" from the tray: the desktop's password dialog, then one authentication
    /// attempt; an accepted password is kept in the keyring by `session::sign_in`.
    /// The loop waits while the dialog is open (a person is at the desk).
    async fn sign_in_from_desktop(&self, saved: &mut SavedState) {
        let Some(account) = self.account.as_deref() else {
            tracing::warn!("no account configured: run `signin-assistant sign-in --user NAME`");
            return;
        };
        let password = match crate::prompt::ask_password(account, &self.config.prompt).await {
            Ok(Some(password)) if !password.is_empty() => password,
            Ok(_) => {
                tracing::info!("sign-in cancelled");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask for the password");
                return;
            }
        };
        match session::sign_in(&self.provider, &self.cache, account, &password).await {
            Ok(Finding::SignInRequired { reason }) => {
                tracing::warn!(reason = reason.explain(), "sign-in failed");
            }
            Ok(finding) => {
                tracing::info!("signed in from the desktop");
                saved.record_finding(account, finding, Utc::now());
                self.save(saved);
            }
            Err(e) => tracing::warn!(error = %e, "sign-in failed"),
        }
    }

    /// Shows today's balloon if one is due; returns whether one is now showing.
    fn balloon_if_due(
        &self,
        saved: &mut SavedState,
        finished: &mpsc::UnboundedSender<Finished>,
    ) -> bool {
        let now_local = Local::now();
        let status = self.status(saved);
        let last = saved.last_balloon.as_ref().map(|b| b.date);
        let Some(balloon) = balloon_due(&now_local, &status, last) else {
            return false;
        };
        saved.last_balloon = Some(BalloonRecord {
            date: now_local.date_naive(),
            shown_at: Utc::now(),
            title: balloon.title.clone(),
            outcome: None,
        });
        self.save(saved);
        self.spawn_balloon(balloon, saved, finished, true);
        true
    }

    /// The status balloon asked for with a click on the tray icon (not counted as the daily one).
    fn show_status(&self, saved: &SavedState, finished: &mpsc::UnboundedSender<Finished>) {
        let status = self.status(saved);
        let balloon = balloon_for(&status).unwrap_or_else(|| Balloon {
            title: report::summary(&status, &Local),
            body: status
                .reason
                .clone()
                .unwrap_or_else(|| "Nothing to do for now.".into()),
            urgency: crate::policy::Urgency::Normal,
        });
        self.spawn_balloon(balloon, saved, finished, false);
    }

    fn spawn_balloon(
        &self,
        balloon: Balloon,
        saved: &SavedState,
        finished: &mpsc::UnboundedSender<Finished>,
        daily: bool,
    ) {
        let notifier = self.notifier.clone();
        let portal = self.portal_url(saved);
        let finished = finished.clone();
        tokio::spawn(async move {
            let outcome = notifier.show(&balloon, &portal).await;
            let _ = finished.send(Finished { daily, outcome });
        });
    }

    fn status(&self, saved: &SavedState) -> Status {
        report::current_status(&self.config, saved, self.account.as_deref(), Utc::now())
    }

    fn portal_url(&self, saved: &SavedState) -> String {
        crate::portal::choose(&self.config, saved.offered_portal_url.as_deref())
    }

    async fn view(&self, saved: &SavedState) -> View {
        let status = self.status(saved);
        let signed_in = match &self.account {
            Some(account) => session::is_signed_in(&self.cache, account)
                .await
                .unwrap_or(false),
            None => false,
        };
        View {
            state: status.state,
            urgent: status.urgent,
            expires_at: status.expires_at,
            days_left: status.days_left,
            summary: report::summary(&status, &Local),
            signed_in,
            autostart: None,
        }
    }

    fn save(&self, saved: &SavedState) {
        if let Err(e) = self.state_file.save(saved) {
            tracing::warn!(error = %e, "could not save the state");
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(self.config.agent.check_interval_minutes.saturating_mul(60))
    }
}

/// The interval plus up to 10 % random jitter, so thousands of desktops do not ask at once.
fn jittered(interval: Duration) -> Duration {
    interval + interval.mul_f64(fastrand::f64() * 0.1)
}

/// 1, 2, 4, ... minutes after consecutive failures, never longer than the regular interval.
fn backoff(failures: u32, interval: Duration) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    FIRST_RETRY.saturating_mul(factor).min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let interval = Duration::from_secs(4 * 3600);
        let waits: Vec<u64> = (1..=10).map(|n| backoff(n, interval).as_secs()).collect();
        assert_eq!(
            waits,
            vec![60, 120, 240, 480, 960, 1920, 3840, 7680, 14400, 14400]
        );
        assert_eq!(backoff(u32::MAX, interval), interval);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(1000);
        for _ in 0..100 {
            let j = jittered(interval);
            assert!(j >= interval && j <= Duration::from_secs(1100), "{j:?}");
        }
    }
}
