//! The running agent: checks at start, every `check_interval_minutes` (with jitter) and within
//! minutes of a new local day (spread, so desktops do not all ask at midnight); backs off on failures; keeps the last known status; shows the balloon
//! when due; answers commands from the tray; stops cleanly when asked.
//!
//! Scheduling follows the wall clock, checked once a minute, so a laptop that slept through the
//! night still gets the morning's check and balloon as soon as it wakes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::account;
use crate::config::Config;
use crate::credentials::CredentialCache;
use crate::events::{Command, View};
use crate::notify::Notifier;
use crate::policy::{
    balloon_for, password_changed_balloon, session_ended_balloon, sign_in_failed_balloon,
    signed_in_balloon, Balloon, Finding, SignInReason, Status,
};
use crate::provider::Provider;
use crate::report;
use crate::state::{BalloonOutcome, SavedState, StateFile};

/// How often the wall clock is compared with the schedule.
const TICK: Duration = Duration::from_secs(60);
/// Checks due to a new local day are spread over this long.
const MIDNIGHT_SPREAD: Duration = Duration::from_secs(600);
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

/// How "Sign in…" from the tray ended, reported back by its task.
#[derive(Debug)]
enum SignInOutcome {
    /// The person closed the dialog: nothing changes.
    Cancelled,
    /// The endpoint accepted the password (it is in the keyring now).
    Accepted(Finding),
    /// Why it did not work, in words for the person.
    Failed(String),
}

/// Scheduling state of the loop (not persisted: a restart checks at once).
struct Schedule {
    next_check: DateTime<Utc>,
    failures: u32,
    day: NaiveDate,
}

/// What the loop keeps between events.
struct Running {
    saved: SavedState,
    schedule: Schedule,
    /// The daily balloon is on screen (no second one until it ends).
    balloon_showing: bool,
    /// The "Sign in…" dialog and attempt, while it runs.
    sign_in: Option<JoinHandle<()>>,
    /// Becomes true when the agent is asked to stop.
    stop: watch::Receiver<bool>,
    /// A long operation gave way to a stop request: leave the loop.
    stopping: bool,
}

/// The ends the loop's tasks report back on.
struct Reports {
    balloons: mpsc::UnboundedSender<Finished>,
    sign_ins: mpsc::UnboundedSender<SignInOutcome>,
}

impl Agent {
    /// Runs until `shutdown` resolves, a `Command::Quit` arrives or (demo) the first balloon ends.
    pub async fn run(
        self,
        commands: mpsc::UnboundedReceiver<Command>,
        views: watch::Sender<View>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let (stop_tx, stop) = watch::channel(false);
        let stopper = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        Arc::new(self).run_shared(commands, views, stop).await;
        stopper.abort();
    }

    /// The loop; the agent is shared with the "Sign in…" task, which outlives one event.
    async fn run_shared(
        self: Arc<Self>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        views: watch::Sender<View>,
        stop: watch::Receiver<bool>,
    ) {
        let mut stop_requested = stop.clone();
        let (balloons, mut finished_rx) = mpsc::unbounded_channel();
        let (sign_ins, mut signed_rx) = mpsc::unbounded_channel();
        let reports = Reports { balloons, sign_ins };
        let mut run = Running {
            saved: self.state_file.load(),
            schedule: Schedule {
                next_check: Utc::now(),
                failures: 0,
                day: Local::now().date_naive(),
            },
            balloon_showing: false,
            sign_in: None,
            stop,
            stopping: false,
        };
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(account = ?self.account, "agent started");
        let _ = views.send(self.view(&run.saved).await);
        loop {
            // Idle ticks change nothing a front end shows; everything else may.
            let mut changed = true;
            tokio::select! {
                _ = ticker.tick() => changed = self.on_tick(&mut run, &reports).await,
                Some(command) = commands.recv() => {
                    if command == Command::Quit {
                        break;
                    }
                    self.on_command(command, &mut run, &reports).await;
                }
                Some(finished) = finished_rx.recv() => {
                    if self.on_balloon_finished(finished, &mut run) {
                        break;
                    }
                }
                Some(outcome) = signed_rx.recv() => self.on_signed_in(outcome, &mut run, &reports),
                _ = stop_requested.wait_for(|stopping| *stopping) => break,
            }
            if run.stopping {
                break;
            }
            if changed {
                let _ = views.send(self.view(&run.saved).await);
            }
        }
        if let Some(dialog) = run.sign_in.take() {
            // Dropping the task kills the dialog program with it.
            dialog.abort();
        }
        tracing::info!("agent stopped");
    }

    /// The clock moved on: checks when due or on a new day, then the daily balloon if due.
    /// Returns whether anything a front end shows may have changed.
    async fn on_tick(&self, run: &mut Running, reports: &Reports) -> bool {
        let today = Local::now().date_naive();
        let new_day = today != run.schedule.day;
        if new_day {
            run.schedule.day = today;
            // Yesterday's balloon, even if still on screen, does not hold back today's.
            run.balloon_showing = false;
            // Desktops that were awake at midnight spread their checks over the first minutes.
            let soon =
                Utc::now() + Duration::from_secs(fastrand::u64(0..=MIDNIGHT_SPREAD.as_secs()));
            run.schedule.next_check = run.schedule.next_check.min(soon);
        }
        let due = Utc::now() >= run.schedule.next_check;
        if due {
            if self.recheck_spends_grace_login(&run.saved) {
                tracing::info!("the password has expired and every sign-in spends one of the last grace logins: not checking by itself until you sign in again or choose Check now");
                run.schedule.next_check = Utc::now() + self.interval();
            } else {
                self.check_unless_stopped(run).await;
            }
        }
        self.balloon_if_due(run, reports);
        due || new_day
    }

    /// A check that gives way when the agent is asked to stop (a slow endpoint must not hold up
    /// a logout).
    async fn check_unless_stopped(&self, run: &mut Running) {
        let mut stop = run.stop.clone();
        tokio::select! {
            _ = self.check(&mut run.saved, &mut run.schedule) => {}
            _ = stop.wait_for(|stopping| *stopping) => run.stopping = true,
        }
    }

    async fn on_command(self: &Arc<Self>, command: Command, run: &mut Running, reports: &Reports) {
        match command {
            Command::Quit => {}
            Command::CheckNow => {
                self.check_unless_stopped(run).await;
                self.balloon_if_due(run, reports);
            }
            Command::ShowStatus => self.show_status(&run.saved, reports),
            Command::OpenPortal => crate::portal::open(&self.portal_url(&run.saved)),
            Command::SignOut => self.sign_out(&mut run.saved).await,
            Command::SignIn if run.sign_in.is_some() => {
                tracing::info!("the sign-in dialog is already open");
            }
            Command::SignIn => run.sign_in = self.spawn_sign_in(reports.sign_ins.clone()),
            Command::SetAutostart(_) => {
                tracing::info!(?command, "not available in this front end");
            }
        }
    }

    /// Keeps how the daily balloon ended; returns whether the agent should stop (demo).
    fn on_balloon_finished(&self, finished: Finished, run: &mut Running) -> bool {
        if !finished.daily {
            return false;
        }
        run.balloon_showing = false;
        self.update(&mut run.saved, |s| {
            s.record_balloon_outcome(finished.outcome)
        });
        self.stop_after_first_balloon
    }

    async fn sign_out(&self, saved: &mut SavedState) {
        let Some(account) = &self.account else {
            return;
        };
        if let Err(e) = account::sign_out(&self.cache, account).await {
            tracing::warn!(error = %e, "sign-out failed");
        }
        self.update(saved, |s| {
            s.finding = Some(Finding::SignInRequired {
                reason: SignInReason::NoCredentials,
            })
        });
    }

    /// One check; on failure the last known status is kept and the next try backs off.
    async fn check(&self, saved: &mut SavedState, schedule: &mut Schedule) {
        let now = Utc::now();
        let Some(account) = self.account.as_deref() else {
            tracing::warn!("no account configured: run `signin-assistant sign-in --user NAME`");
            schedule.next_check = now + self.interval();
            return;
        };
        *saved = self.state_file.load();
        let previous = saved.finding_for(account).cloned();
        match account::check(&self.provider, &self.cache, account, previous.as_ref()).await {
            Ok(finding) => {
                tracing::info!(state = ?crate::policy::evaluate(now, &finding, &self.config.policy()).state, "checked");
                self.update(saved, |s| s.record_finding(account, finding, now));
                schedule.failures = 0;
                schedule.next_check = now + jittered(self.interval());
            }
            Err(e) => {
                schedule.failures += 1;
                let wait = backoff(schedule.failures, self.interval());
                tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "check failed; keeping the last known status");
                self.update(saved, |s| s.record_failure(&e.to_string(), now));
                schedule.next_check = now + wait;
            }
        }
        let ended = match saved.finding_for(account) {
            Some(Finding::SignInRequired { reason }) if reason.ends_session() => Some(*reason),
            _ => None,
        };
        if let Some(reason) = ended.filter(|_| previous.as_ref() != saved.finding_for(account)) {
            let balloon = match reason {
                SignInReason::SessionEnded => session_ended_balloon(),
                _ => password_changed_balloon(),
            };
            let notifier = self.notifier.clone();
            let portal = self.portal_url(saved);
            tokio::spawn(async move {
                notifier.show(&balloon, &portal).await;
            });
        }
    }

    /// "Sign in…" from the tray, as a task: the desktop's password dialog, then one
    /// authentication attempt (an accepted password is kept in the keyring by
    /// `account::sign_in`). The loop goes on while the dialog is open; the outcome comes back on
    /// `report`.
    fn spawn_sign_in(
        self: &Arc<Self>,
        report: mpsc::UnboundedSender<SignInOutcome>,
    ) -> Option<JoinHandle<()>> {
        let Some(account) = self.account.clone() else {
            tracing::warn!("no account configured: run `signin-assistant sign-in --user NAME`");
            return None;
        };
        let agent = Arc::clone(self);
        Some(tokio::spawn(async move {
            let outcome = agent.sign_in_from_desktop(&account).await;
            let _ = report.send(outcome);
        }))
    }

    async fn sign_in_from_desktop(&self, account: &str) -> SignInOutcome {
        let password = match crate::prompt::ask_password(account, &self.config.prompt).await {
            Ok(Some(password)) if !password.is_empty() => password,
            Ok(_) => return SignInOutcome::Cancelled,
            Err(e) => return SignInOutcome::Failed(e.to_string()),
        };
        match account::sign_in(&self.provider, &self.cache, account, &password).await {
            Ok(Finding::SignInRequired { reason }) => {
                SignInOutcome::Failed(reason.explain().to_string())
            }
            Ok(finding) => SignInOutcome::Accepted(finding),
            Err(e) => SignInOutcome::Failed(e.to_string()),
        }
    }

    /// Shows how "Sign in…" ended; an accepted sign-in is kept.
    fn on_signed_in(&self, outcome: SignInOutcome, run: &mut Running, reports: &Reports) {
        run.sign_in = None;
        match outcome {
            SignInOutcome::Cancelled => tracing::info!("sign-in cancelled"),
            SignInOutcome::Failed(reason) => {
                tracing::warn!(reason = %reason, "sign-in failed");
                self.spawn_balloon(sign_in_failed_balloon(&reason), &run.saved, reports, false);
            }
            SignInOutcome::Accepted(finding) => self.keep_sign_in(finding, run, reports),
        }
    }

    /// Records the new determination and shows it: "Signed in" with the status, which counts as
    /// today's balloon when the password is in the warning window.
    fn keep_sign_in(&self, finding: Finding, run: &mut Running, reports: &Reports) {
        let Some(account) = self.account.as_deref() else {
            return;
        };
        tracing::info!("signed in from the desktop");
        self.update(&mut run.saved, |s| {
            s.record_finding(account, finding, Utc::now())
        });
        let status = self.status(&run.saved);
        let balloon = signed_in_balloon(&status, &report::summary(&status, &Local));
        let daily = !run.balloon_showing && self.due_today(&run.saved).is_some();
        if daily {
            self.record_daily(run, &balloon);
        }
        self.spawn_balloon(balloon, &run.saved, reports, daily);
    }

    /// Shows today's balloon if one is due and none is on screen.
    fn balloon_if_due(&self, run: &mut Running, reports: &Reports) {
        if run.balloon_showing {
            return;
        }
        let Some(balloon) = self.due_today(&run.saved) else {
            return;
        };
        self.record_daily(run, &balloon);
        self.spawn_balloon(balloon, &run.saved, reports, true);
    }

    /// Today's balloon, unless one was already shown today.
    fn due_today(&self, saved: &SavedState) -> Option<Balloon> {
        saved.due_balloon(&Local::now(), &self.status(saved))
    }

    /// Notes (and saves) that today's balloon is being shown, before it is, so a crash or a
    /// restart cannot show it twice.
    fn record_daily(&self, run: &mut Running, balloon: &Balloon) {
        self.update(&mut run.saved, |s| {
            s.record_daily_balloon(&Local::now(), balloon)
        });
        run.balloon_showing = true;
    }

    /// The status balloon asked for with a click on the tray icon (not counted as the daily one).
    fn show_status(&self, saved: &SavedState, reports: &Reports) {
        let status = self.status(saved);
        let balloon = balloon_for(&status).unwrap_or_else(|| Balloon {
            title: report::summary(&status, &Local),
            body: status
                .reason
                .clone()
                .unwrap_or_else(|| "Nothing to do for now.".into()),
            urgency: crate::policy::Urgency::Normal,
        });
        self.spawn_balloon(balloon, saved, reports, false);
    }

    fn spawn_balloon(&self, balloon: Balloon, saved: &SavedState, reports: &Reports, daily: bool) {
        let notifier = self.notifier.clone();
        let portal = self.portal_url(saved);
        let finished = reports.balloons.clone();
        tokio::spawn(async move {
            let outcome = notifier.show(&balloon, &portal).await;
            let _ = finished.send(Finished { daily, outcome });
        });
    }

    fn recheck_spends_grace_login(&self, saved: &SavedState) -> bool {
        let finding = self.account.as_deref().and_then(|a| saved.finding_for(a));
        crate::policy::recheck_spends_grace_login(finding)
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
            Some(account) => account::is_signed_in(&self.cache, account)
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

    /// Applies `change` to the state as it is on disk now, and saves it: a `check`, `sign-in` or
    /// `sign-out` from the command line meanwhile is not overwritten by an older copy.
    fn update(&self, saved: &mut SavedState, change: impl FnOnce(&mut SavedState)) {
        *saved = self.state_file.load();
        change(saved);
        self.save(saved);
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
