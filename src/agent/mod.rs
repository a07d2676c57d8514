//! The running agent: a loop that sleeps until the schedule's next wake-up or an event, asks the
//! pure [`schedule`] what to do, and performs it. Checks, balloons, the sign-in dialog and
//! sign-out run as tasks that report back, so the loop always answers the tray ("Change
//! password…", "Quit") however slow the endpoint or the keyring is.
//!
//! The loop sleeps on the wall clock until the schedule's next event (a check, a new local day;
//! at most an hour): a laptop that slept through the night still gets the morning's check and
//! balloon as soon as it resumes, and an idle agent is not woken in between.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Local, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::agent::control::{Answer, Calls};
use crate::providers::IdentityProvider;
use crate::report;
use crate::report::view::{Command, View};
use crate::rules::expiry::{
    balloon_for, password_changed_balloon, session_ended_balloon, Balloon, Finding, SignInReason,
    Urgency,
};
use crate::rules::schedule::{self, Cadence, CheckNow, Dice, Timetable};
use crate::screen::balloon::NotShown;
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;
use crate::system::state::{BalloonOutcome, SavedState};
use crate::work::account;
use crate::work::entra_sign_in::InteractiveMethod;
use crate::work::password_change::Route;
use crate::work::routine::{Checked, DailyMark, Routine};

mod accounts;
mod calls;
mod change;
pub mod control;
pub mod front;
pub mod instance;
mod login_item;
pub mod resume;
pub mod shutdown;
#[cfg(test)]
mod tests;
pub mod unconfigured;

/// The agent: the routine it performs, the account it starts with and its timings.
pub struct Agent<P, D, C> {
    routine: Arc<Routine<P, D, C>>,
    first_account: Option<String>,
    cadence: Cadence,
    /// Stop after the first daily balloon has finished (the demo's `--once`).
    pub stop_after_first_balloon: bool,
    /// The login item the tray's "Start at login" shows and changes; none: greyed out.
    login_item: Option<login_item::SharedLoginItem>,
}

/// What a task reports back to the loop.
#[derive(Debug)]
enum Done {
    Check {
        checked: Box<Checked>,
        /// Whether credentials are cached; `None` when the keyring did not say (locked, stuck):
        /// the menu then keeps what it showed.
        signed_in: Option<bool>,
    },
    Balloon {
        /// The instant that names it as the daily balloon; `None` for other balloons.
        daily: Option<DateTime<Utc>>,
        /// How it ended; `NotShown` when the screen did not take it (a daily balloon is then
        /// not recorded, and shown at a later wake-up).
        outcome: Result<BalloonOutcome, NotShown>,
        /// The balloon was clicked and the click leads here (decided when it was shown).
        follow: Option<Route>,
        /// The state saved with a daily balloon's outcome; other balloons save nothing.
        saved: Option<SavedState>,
    },
    /// How the change-password dialog ended.
    Change(Box<crate::work::password_change::Interaction>),
    SignIn(SignInOutcome),
    SignOut {
        /// A command that asked for the sign-out waits for this answer.
        reply: Option<oneshot::Sender<Answer>>,
        /// The state saved without the account.
        saved: SavedState,
    },
    /// Whether credentials are cached, as the keyring said at the start (`None`: it did not).
    Keyring {
        signed_in: Option<bool>,
    },
    /// Whether the program starts at login, as learned by request number `asked`; `failure`
    /// says why a change asked for did not happen.
    Autostart {
        asked: u64,
        enabled: Option<bool>,
        failure: Option<String>,
    },
}

/// Whether `account`'s credentials are cached; `None` when the keyring did not say (locked,
/// stuck), which is logged.
async fn credentials_cached<P: IdentityProvider, D: Desktop, C: Clock>(
    routine: &Routine<P, D, C>,
    account: &str,
) -> Option<bool> {
    match account::is_signed_in(&routine.cache, account).await {
        Ok(signed_in) => Some(signed_in),
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether credentials are cached");
            None
        }
    }
}

/// How "Sign in…" from the tray ended.
#[derive(Debug)]
enum SignInOutcome {
    /// The person closed the dialog: nothing changes.
    Cancelled,
    /// The endpoint accepted the sign-in of `account` (its credentials are in the keyring now).
    Accepted { account: String, finding: Finding },
    /// The credentials of `account` are kept, but the deadline could not be learned now.
    AcceptedWithoutFacts { account: String, error: String },
    /// Why it did not work, in words for the person.
    Failed(String),
}

/// What the loop keeps between events.
struct Running {
    /// The account watched: the last one signed in, else `[account] username`.
    account: Option<String>,
    saved: SavedState,
    timetable: Timetable,
    /// The instant that names the daily balloon now being shown (no second one until it ends).
    daily_showing: Option<DateTime<Utc>>,
    /// Credentials are cached (the menu offers "Sign out").
    signed_in: bool,
    /// `signed_in` was learned from a check, a sign-in, a sign-out or a change (the keyring's
    /// answer at the start is older then).
    signed_in_learned: bool,
    check: Option<JoinHandle<()>>,
    /// Commands waiting for the check in flight.
    check_waiters: Vec<oneshot::Sender<Answer>>,
    sign_in: Option<JoinHandle<()>>,
    /// The change-password dialog, while open.
    change: Option<JoinHandle<()>>,
    /// A scheduled check came due while the dialog was open: it runs when the dialog ends.
    check_held: bool,
    /// Starts at login (None: not known, or no login item).
    autostart: Option<bool>,
    /// The number of the latest look at the login item; older answers are stale.
    autostart_asked: u64,
    /// Where tasks report back.
    done: mpsc::UnboundedSender<Done>,
}

impl Running {
    /// Whether credentials are cached, as a check, a sign-in, a sign-out or a change found.
    fn learn_signed_in(&mut self, signed_in: bool) {
        self.signed_in = signed_in;
        self.signed_in_learned = true;
    }
}

impl<P: IdentityProvider, D: Desktop, C: Clock> Agent<P, D, C> {
    /// The agent for `account` (none yet: it waits for a sign-in).
    pub fn new(routine: Routine<P, D, C>, account: Option<String>) -> Agent<P, D, C> {
        let interval = routine
            .config
            .agent
            .check_interval_minutes
            .saturating_mul(60);
        Agent {
            cadence: Cadence::for_fleet(std::time::Duration::from_secs(interval)),
            routine: Arc::new(routine),
            first_account: account,
            stop_after_first_balloon: false,
            login_item: None,
        }
    }

    /// The agent with a "Start at login" switch over `item`.
    pub fn with_login_item(mut self, item: crate::system::autostart::LoginItem) -> Self {
        self.login_item = Some(Arc::new(item));
        self
    }

    /// Runs until `shutdown` resolves, a `Command::Quit` arrives or (demo) the first balloon ends.
    pub async fn run(
        self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut calls: Calls,
        views: watch::Sender<View>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let (done, mut reports) = mpsc::unbounded_channel();
        let clock = &self.routine.clock;
        // The file as this process finds it at the start; from then on the agent keeps the state
        // each save returns (tasks report theirs back), and reads the file again only when the
        // command line says another process wrote it (`Request::Reload`).
        let saved = self.routine.state_file.load();
        let last_check = self
            .first_account
            .as_deref()
            .and_then(|a| saved.checked_for(a));
        let mut run = Running {
            account: self.first_account.clone(),
            timetable: Timetable::resume(clock.now(), clock.today(), last_check, &self.cadence),
            saved,
            daily_showing: None,
            signed_in: false,
            signed_in_learned: false,
            check: None,
            check_waiters: Vec::new(),
            sign_in: None,
            change: None,
            check_held: false,
            autostart: None,
            autostart_asked: 0,
            done,
        };
        tracing::info!(account = ?run.account, "agent started");
        // The start is a wake-up: a check if one is due, else today's balloon from what is saved.
        self.on_wake(&mut run);
        if run.check.is_none() {
            // No check to tell: the menu offers "Sign out" as soon as the keyring says so.
            self.look_at_keyring(&run);
        }
        loop {
            views.send_if_modified(|shown| replace_if_changed(shown, self.view(&run)));
            let now = clock.now();
            let next_day = clock.next_day_starts();
            let wake = schedule::wake_at(&run.timetable, now, next_day, &self.cadence);
            tokio::select! {
                () = clock.sleep_until(wake) => self.on_wake(&mut run),
                Some(command) = commands.recv() => {
                    if command == Command::Quit {
                        break;
                    }
                    self.on_command(command, &mut run);
                }
                Some(call) = calls.recv() => {
                    if self.on_call(call, &mut run) {
                        break;
                    }
                }
                Some(done) = reports.recv() => {
                    if self.on_done(done, &mut run) {
                        break;
                    }
                }
                _ = &mut shutdown => break,
            }
        }
        let tasks = [run.check.take(), run.sign_in.take(), run.change.take()];
        for task in tasks.into_iter().flatten() {
            // Dropping a dialog's task kills the dialog program with it.
            task.abort();
        }
        tracing::info!("agent stopped");
    }

    /// The schedule's wake-up: a check when due, and today's balloon if due and no check is
    /// about to change the status.
    fn on_wake(&self, run: &mut Running) {
        let clock = &self.routine.clock;
        let finding = run
            .account
            .as_deref()
            .and_then(|a| run.saved.finding_for(a));
        let wake = schedule::on_wake(
            &mut run.timetable,
            clock.now(),
            clock.today(),
            finding,
            &self.cadence,
            dice(),
        );
        // Changed elsewhere without telling (an admin's entry, a file edited by hand).
        self.look_at_login_item(None, run);
        if wake.new_day {
            // Yesterday's balloon, even if still on screen, does not hold back today's.
            run.daily_showing = None;
        }
        match wake.check {
            CheckNow::Yes if run.change.is_some() => run.check_held = true,
            CheckNow::Yes => self.start_check(run),
            CheckNow::SkippedToSaveGraceLogin => tracing::info!("the password has expired and every sign-in spends one of the last grace logins: not checking by itself until you sign in again or choose Check now"),
            CheckNow::No => {}
        }
        if run.check.is_none() {
            self.balloon_if_due(run);
        }
    }

    fn on_command(&self, command: Command, run: &mut Running) {
        match command {
            Command::Quit => {}
            Command::CheckNow => self.start_check(run),
            Command::ShowStatus => self.show_status(run),
            Command::ChangePassword => self.change_password(run),
            Command::SignOut => self.start_sign_out(run, None),
            Command::SignIn if run.sign_in.is_some() => {
                tracing::info!("the sign-in dialog is already open");
            }
            Command::SignIn => self.start_sign_in(None, run),
            Command::SignInWithBrowser if run.sign_in.is_some() => {
                tracing::info!("a sign-in is already under way");
            }
            Command::SignInWithBrowser => self.start_sign_in(Some(InteractiveMethod::Browser), run),
            Command::SetAutostart(on) => self.look_at_login_item(Some(on), run),
            // Only offered before the agent starts (see `setup`).
            Command::SetUp => {}
            Command::Resumed => {
                schedule::on_resume(&mut run.timetable, self.routine.clock.now());
                self.on_wake(run);
            }
        }
    }

    /// A task finished; returns whether the agent should stop (the demo's `--once`).
    fn on_done(&self, done: Done, run: &mut Running) -> bool {
        match done {
            Done::Check { checked, signed_in } => self.on_checked(*checked, signed_in, run),
            Done::Balloon {
                daily,
                outcome,
                follow,
                saved,
            } => {
                tracing::debug!(?outcome, "balloon ended");
                if daily.is_some() && run.daily_showing == daily {
                    run.daily_showing = None;
                }
                if let Some(saved) = saved {
                    run.saved = saved;
                }
                if let Some(route) = follow {
                    self.follow(route, run);
                }
                return daily.is_some() && self.stop_after_first_balloon;
            }
            Done::Keyring { signed_in } => {
                // A check, sign-in or sign-out that ended meanwhile knows better.
                if let Some(signed_in) = signed_in.filter(|_| !run.signed_in_learned) {
                    run.signed_in = signed_in;
                }
            }
            Done::Change(interaction) => self.on_changed(*interaction, run),
            Done::SignIn(outcome) => self.on_signed_in(outcome, run),
            Done::SignOut { reply, saved } => self.on_signed_out(reply, saved, run),
            Done::Autostart {
                asked,
                enabled,
                failure,
            } => self.on_login_item(asked, enabled, failure, run),
        }
        false
    }

    /// Starts a check unless one runs already.
    fn start_check(&self, run: &mut Running) {
        if run.check.is_some() {
            return;
        }
        let Some(account) = run.account.clone() else {
            tracing::info!("nobody is signed in yet: nothing to check");
            let now = self.routine.clock.now();
            schedule::after_check(&mut run.timetable, now, true, &self.cadence, dice());
            for waiter in std::mem::take(&mut run.check_waiters) {
                let report = self.report(run);
                let _ = waiter.send(Answer::failed("nobody is signed in".into(), Some(report)));
            }
            return;
        };
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        run.check = Some(tokio::spawn(async move {
            let checked = routine.check(&account).await;
            let signed_in = credentials_cached(&routine, &account).await;
            let checked = Box::new(checked);
            let _ = done.send(Done::Check { checked, signed_in });
        }));
    }

    /// Asks the keyring whether the account's credentials are cached (reported as
    /// [`Done::Keyring`]).
    fn look_at_keyring(&self, run: &Running) {
        let Some(account) = run.account.clone() else {
            return;
        };
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        tokio::spawn(async move {
            let signed_in = credentials_cached(&routine, &account).await;
            let _ = done.send(Done::Keyring { signed_in });
        });
    }

    /// A check ended: the schedule plans the next one; a failure keeps the last finding.
    fn on_checked(&self, checked: Checked, signed_in: Option<bool>, run: &mut Running) {
        run.check = None;
        if let Some(signed_in) = signed_in {
            run.learn_signed_in(signed_in);
        }
        let now = self.routine.clock.now();
        let wait = match (&checked.failure, checked.retry_after) {
            (Some(_), Some(asked)) => {
                schedule::after_throttled(&mut run.timetable, now, asked, &self.cadence, dice())
            }
            (failure, _) => {
                let succeeded = failure.is_none();
                schedule::after_check(&mut run.timetable, now, succeeded, &self.cadence, dice())
            }
        };
        match &checked.failure {
            None => {
                tracing::info!(state = ?self.routine.status(&checked.saved, run.account.as_deref()).state, "checked")
            }
            Some(error) => {
                tracing::warn!(error = %error, retry_in_secs = wait.as_secs(), "check failed; keeping the last known status")
            }
        }
        let noticed = run
            .account
            .as_deref()
            .and_then(|a| checked.noticed_session_end(a));
        run.saved = checked.saved;
        for waiter in std::mem::take(&mut run.check_waiters) {
            let report = self.report(run);
            let answer = match &checked.failure {
                None => Answer::with_report(report),
                Some(failure) => Answer::failed(failure.clone(), Some(report)),
            };
            let _ = waiter.send(answer);
        }
        match noticed {
            Some(SignInReason::SessionEnded) => {
                self.spawn_balloon(session_ended_balloon(), None, run)
            }
            Some(_) => self.spawn_balloon(password_changed_balloon(), None, run),
            None => {}
        }
        self.balloon_if_due(run);
    }

    /// Shows today's balloon if one is due and none is on screen.
    fn balloon_if_due(&self, run: &mut Running) {
        if run.daily_showing.is_some() {
            return;
        }
        let Some(balloon) = self.routine.due_balloon(&run.saved, run.account.as_deref()) else {
            return;
        };
        let mark = self.routine.daily_mark();
        run.daily_showing = Some(mark.shown_at);
        self.spawn_balloon(balloon, Some(mark), run);
    }

    /// The status balloon asked for with a click on the tray icon (not counted as the daily one).
    fn show_status(&self, run: &Running) {
        let status = self.routine.status(&run.saved, run.account.as_deref());
        let balloon = balloon_for(&status).unwrap_or_else(|| Balloon {
            title: report::summary(&status, &Local),
            body: status
                .reason
                .clone()
                .unwrap_or_else(|| "Nothing to do for now.".into()),
            urgency: Urgency::Normal,
        });
        self.spawn_balloon(balloon, None, run);
    }

    /// Shows a balloon about the password as a task: a click changes it, where the route
    /// decided now from the saved status leads (the portal, or this program's dialog). `daily`
    /// names a balloon to record as today's once on screen.
    fn spawn_balloon(&self, balloon: Balloon, daily: Option<DailyMark>, run: &Running) {
        let route = self.routine.change_route(&run.saved);
        self.show_as_task(balloon, daily, Some(route), run);
    }

    /// Shows a balloon that only tells something (how a sign-in or a change ended): a click
    /// does nothing more.
    fn spawn_notice(&self, balloon: Balloon, run: &Running) {
        self.show_as_task(balloon, None, None, run);
    }

    /// Shows `balloon` as a task that reports how it ended; `on_click` is where a click leads.
    fn show_as_task(
        &self,
        balloon: Balloon,
        daily: Option<DailyMark>,
        on_click: Option<Route>,
        run: &Running,
    ) {
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        tokio::spawn(async move {
            let link = on_click.as_ref().and_then(Route::portal);
            let (outcome, saved) = match daily {
                Some(mark) => match routine.show_daily(&balloon, mark, link).await {
                    Ok((outcome, saved)) => (Ok(outcome), Some(saved)),
                    Err(not_shown) => (Err(not_shown), None),
                },
                None => (routine.desktop.show(&balloon, link, || {}).await, None),
            };
            let follow = on_click.filter(|_| outcome == Ok(BalloonOutcome::Clicked));
            let _ = done.send(Done::Balloon {
                daily: daily.map(|mark| mark.shown_at),
                outcome,
                follow,
                saved,
            });
        });
    }

    /// The status as `status --json` prints it, with why the last check failed when it did.
    fn report(&self, run: &Running) -> crate::report::Report {
        let failure = run
            .saved
            .failure_since_last_finding()
            .map(|error| format!("the last check failed ({error})"));
        report::build(
            &self.routine.config,
            &run.saved,
            run.account.as_deref(),
            self.routine.clock.now(),
            failure.as_deref(),
        )
    }

    /// What the front ends show now.
    fn view(&self, run: &Running) -> View {
        let status = self.routine.status(&run.saved, run.account.as_deref());
        let mut view = View::of(
            &status,
            report::summary(&status, &Local),
            run.signed_in,
            run.saved.failure_since_last_finding().is_some(),
        );
        view.autostart = run.autostart;
        view.needs_browser = run
            .account
            .as_deref()
            .and_then(|a| run.saved.finding_for(a))
            .is_some_and(|finding| {
                matches!(finding, Finding::SignInRequired { reason } if reason.needs_browser())
            });
        view
    }
}

/// Fresh random numbers for the schedule.
fn dice() -> Dice {
    Dice {
        spread: fastrand::f64(),
        jitter: fastrand::f64(),
    }
}

/// Replaces `shown` with `new` when they differ; returns whether it did.
fn replace_if_changed(shown: &mut View, new: View) -> bool {
    if *shown == new {
        return false;
    }
    *shown = new;
    true
}
