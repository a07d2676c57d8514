//! The agent's behaviour over the fakes of [`crate::testing`] (endpoint, desktop, clock;
//! keyring-core's in-memory store): days pass in milliseconds on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::{mpsc, oneshot, watch};

use super::*;
use crate::agent::control::{Answer, Call, Request};
use crate::providers::ProviderError;
use crate::rules::expiry::{Deadline, Facts, PasswordState, Source};
use crate::system::autostart::LoginItem;
use crate::system::config::Config;
use crate::system::credentials::{CredentialCache, Secret};
use crate::system::state::StateFile;
use crate::testing::{keyring_holding, FakeClock, FakeDesktop, FakeEndpoint};

const ACCOUNT: &str = "adele@contoso.com";

/// A running agent over the fakes.
struct Harness {
    endpoint: FakeEndpoint,
    desktop: FakeDesktop,
    cache: CredentialCache,
    state_file: StateFile,
    commands: mpsc::UnboundedSender<Command>,
    calls: mpsc::UnboundedSender<Call>,
    views: watch::Receiver<View>,
    stop: Option<oneshot::Sender<()>>,
    agent: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Starts the agent at `start` with the password cached (when `signed_in`).
    fn start(start: DateTime<Utc>, desktop: FakeDesktop, signed_in: bool) -> Harness {
        Harness::start_with(start, desktop, signed_in, None)
    }

    /// [`start`](Self::start), with a "Start at login" switch over `login_item`.
    fn start_with(
        start: DateTime<Utc>,
        desktop: FakeDesktop,
        signed_in: bool,
        login_item: Option<LoginItem>,
    ) -> Harness {
        let cache = keyring_holding(ACCOUNT, None);
        Harness::launch(start, desktop, signed_in, login_item, entra_config(), cache)
    }

    /// [`start`](Self::start) over the keyring `cache`.
    fn start_on(start: DateTime<Utc>, desktop: FakeDesktop, cache: CredentialCache) -> Harness {
        Harness::launch(start, desktop, true, None, entra_config(), cache)
    }

    /// [`start`](Self::start) for a directory account whose password is changed here.
    fn start_directory(start: DateTime<Utc>, desktop: FakeDesktop) -> Harness {
        let mut config = Config::default();
        config.provider.kind = crate::system::config::ProviderKind::Ldap;
        config.ldap.change = Some(crate::system::config::ChangeMode::Here);
        let cache = keyring_holding(ACCOUNT, None);
        Harness::launch(start, desktop, true, None, config, cache)
    }

    fn launch(
        start: DateTime<Utc>,
        desktop: FakeDesktop,
        signed_in: bool,
        login_item: Option<LoginItem>,
        config: Config,
        cache: CredentialCache,
    ) -> Harness {
        let clock = FakeClock::at(start);
        desktop.record_days_on(&clock);
        let endpoint = FakeEndpoint::on(clock.clone());
        let dir = tempfile::tempdir().unwrap();
        if signed_in {
            cache
                .store_password(ACCOUNT, &endpoint.endpoint(), &Secret::new("pw"))
                .unwrap();
        }
        let state_file = StateFile::at(dir.path().join("state.json"));
        let routine = Routine {
            config,
            provider: endpoint.clone(),
            cache: cache.clone(),
            state_file: state_file.clone(),
            desktop: desktop.clone(),
            clock,
        };
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (calls, calls_rx) = mpsc::unbounded_channel();
        let (views_tx, views) = watch::channel(View::initial());
        let (stop, stopped) = oneshot::channel::<()>();
        let mut agent = Agent::new(routine, Some(ACCOUNT.to_string()));
        if let Some(item) = login_item {
            agent = agent.with_login_item(item);
        }
        let agent = tokio::spawn(agent.run(commands_rx, calls_rx, views_tx, async {
            let _ = stopped.await;
        }));
        Harness {
            endpoint,
            desktop,
            cache,
            state_file,
            commands,
            calls,
            views,
            stop: Some(stop),
            agent,
            _dir: dir,
        }
    }

    fn send(&self, command: Command) {
        self.commands.send(command).unwrap();
    }

    /// Sends a control request as a command line would, and waits for the answer.
    async fn ask(&self, request: Request) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.calls.send(Call { request, reply }).unwrap();
        answer.await.expect("the agent answers")
    }

    fn view(&self) -> View {
        self.views.borrow().clone()
    }

    fn saved(&self) -> SavedState {
        self.state_file.load()
    }

    /// Waits (a second at most) for the agent to have stopped by itself; `why` says what should
    /// have stopped it.
    async fn has_ended(self, why: &str) {
        tokio::time::timeout(Duration::from_secs(1), self.agent)
            .await
            .expect(why)
            .unwrap();
    }

    /// Stops the agent and waits until it has.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), &mut self.agent)
            .await
            .expect("the agent stops at once")
            .unwrap();
    }
}

/// The configuration of the Entra tests: the tray's "Sign in…" asks for the password (the
/// browser needs a real Entra ID).
fn entra_config() -> Config {
    let mut config = Config::default();
    config.entra.sign_in = crate::system::config::SignInMethod::Password;
    config
}

fn expires_in(days: i64) -> Finding {
    // Half a day more, so "in N days" does not slip while a test runs.
    let expires_at = at(24, 21, 0) + chrono::Duration::days(days);
    Finding::Facts(Facts::new(Deadline::At { expires_at }, Source::TokenClaim))
}

/// The endpoint is asked once more between `after` and `by` seconds of paused time from now,
/// and not before; returns when it was (the checks after it may come at any time).
async fn next_check_between(h: &Harness, after: u64, by: u64) {
    let calls = h.endpoint.calls();
    pass(after).await;
    assert_eq!(h.endpoint.calls(), calls, "asked before {after} s");
    for _ in after..by {
        if h.endpoint.calls() > calls {
            break;
        }
        pass(1).await;
    }
    assert_eq!(h.endpoint.calls(), calls + 1, "not asked by {by} s");
}

/// Lets the agent and its tasks run for `secs` of paused time.
async fn pass(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

#[tokio::test(start_paused = true)]
async fn start_at_login_is_shown_and_changed_through_the_login_item() {
    let dir = tempfile::tempdir().unwrap();
    let item = LoginItem::under(dir.path(), std::path::Path::new("/opt/sa/signin-assistant"));
    let h = Harness::start_with(
        at(24, 9, 0),
        FakeDesktop::default(),
        true,
        Some(item.clone()),
    );
    pass(1).await;
    assert_eq!(h.view().autostart, Some(false));
    h.send(Command::SetAutostart(true));
    pass(1).await;
    assert_eq!(h.view().autostart, Some(true));
    assert!(item.status().unwrap().enabled);
    // Changed by the command line, which tells the agent to look again: seen at once.
    item.disable().unwrap();
    h.ask(Request::Reload).await;
    pass(1).await;
    assert_eq!(h.view().autostart, Some(false));
    // Changed without telling: seen at the next wake-up, within the hour after the loop's
    // last event (here the first check, which never answers, ending at its deadline; its
    // retry may be further away than that).
    item.set(true).unwrap();
    pass(crate::work::routine::CHECK_DEADLINE.as_secs() + 3601).await;
    assert_eq!(h.view().autostart, Some(true));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_login_item_start_at_login_stays_greyed_out() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    h.send(Command::SetAutostart(true));
    pass(61).await;
    assert_eq!(h.view().autostart, None);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_new_day_clears_a_balloon_still_showing_from_yesterday() {
    // Balloons stay on screen (nobody acts); the password is in the warning window.
    let h = Harness::start(at(24, 23, 50), FakeDesktop::default(), true);
    for _ in 0..4 {
        h.endpoint.answer(Ok(expires_in(10)));
    }
    pass(5).await;
    assert_eq!(h.desktop.titles().len(), 1, "{:?}", h.desktop.titles());
    // Past midnight: yesterday's balloon is still on screen, today's comes anyway.
    pass(20 * 60).await;
    let titles = h.desktop.titles();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert_eq!(
        h.saved().last_balloon.unwrap().date,
        at(25, 0, 0).date_naive()
    );
    // And only one on the new day.
    pass(3 * 3600).await;
    assert_eq!(h.desktop.titles().len(), 2);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_balloon_a_hung_notification_server_does_not_take_is_not_counted_and_comes_later() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    desktop.hang(true);
    let h = Harness::start(at(24, 9, 0), desktop, true);
    for _ in 0..4 {
        h.endpoint.answer(Ok(expires_in(10)));
    }
    pass(60).await;
    assert!(h.desktop.titles().is_empty());
    assert_eq!(
        h.saved().last_balloon,
        None,
        "recorded as shown while not shown"
    );
    // The agent goes on: it answers, and knows the warning.
    assert_eq!(h.view().state, PasswordState::Warning);
    let answer = h.ask(Request::Status).await;
    assert!(answer.report.is_some());
    // The server answers again: the day's balloon comes at the next wake-up, within the hour
    // (after the loop's last event).
    h.desktop.hang(false);
    pass(3600 + 60).await;
    assert_eq!(h.desktop.titles().len(), 1, "{:?}", h.desktop.titles());
    let record = h.saved().last_balloon.expect("recorded once shown");
    assert_eq!(record.date, at(24, 9, 0).date_naive());
    assert_eq!(record.outcome, Some(BalloonOutcome::Dismissed));
    // And only that one, that day.
    pass(6 * 3600).await;
    assert_eq!(h.desktop.titles().len(), 1, "{:?}", h.desktop.titles());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sign_in_from_the_tray_counts_as_the_days_balloon() {
    let desktop = FakeDesktop {
        password: Some("new-pw"),
        outcome: Some(BalloonOutcome::TimedOut),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop, false);
    pass(5).await;
    assert_eq!(h.view().state, PasswordState::SignInRequired);
    assert!(h.desktop.titles().is_empty());
    h.endpoint.answer(Ok(expires_in(10)));
    h.send(Command::SignIn);
    pass(5).await;
    assert_eq!(h.desktop.titles(), vec!["Signed in".to_string()]);
    let record = h
        .saved()
        .last_balloon
        .expect("recorded as the daily balloon");
    assert_eq!(record.title, "Signed in");
    assert_eq!(record.date, at(24, 9, 0).date_naive());
    assert_eq!(record.outcome, Some(BalloonOutcome::TimedOut));
    assert!(h.cache.has_password(ACCOUNT).unwrap());
    // The regular check later that day brings no second balloon.
    h.endpoint.answer(Ok(expires_in(10)));
    pass(5 * 3600).await;
    assert_eq!(h.desktop.titles().len(), 1, "{:?}", h.desktop.titles());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_check_keeps_the_last_finding_and_marks_it_stale() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop, true);
    h.endpoint.answer(Ok(expires_in(10)));
    pass(5).await;
    let fresh = h.view();
    assert_eq!(fresh.state, PasswordState::Warning);
    assert!(!fresh.stale);
    h.endpoint.answer(Err("connection refused".into()));
    h.send(Command::CheckNow);
    pass(5).await;
    let stale = h.view();
    assert_eq!(stale.state, PasswordState::Warning);
    assert_eq!(stale.days_left, fresh.days_left);
    assert!(stale.stale);
    assert!(
        stale.summary.contains("the last check failed"),
        "{}",
        stale.summary
    );
    let saved = h.saved();
    assert_eq!(saved.finding_for(ACCOUNT), Some(&expires_in(10)));
    assert!(saved
        .failure_since_last_finding()
        .unwrap()
        .contains("connection refused"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_loop_answers_while_a_check_hangs_and_quits_at_once() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    // No scripted answer: the endpoint never answers.
    let h = Harness::start(at(24, 9, 0), desktop, true);
    pass(5).await;
    assert_eq!(h.endpoint.calls(), 1);
    h.send(Command::ShowStatus);
    pass(1).await;
    assert_eq!(
        h.desktop.titles().len(),
        1,
        "the status balloon came during the check"
    );
    h.send(Command::Quit);
    h.has_ended("Quit is answered during a hanging check").await;
}

#[tokio::test(start_paused = true)]
async fn a_hanging_check_ends_at_its_deadline_and_is_retried() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    pass(crate::work::routine::CHECK_DEADLINE.as_secs() + 5).await;
    let saved = h.saved();
    assert!(saved
        .failure_since_last_finding()
        .unwrap()
        .contains("did not finish within"));
    h.endpoint.answer(Ok(expires_in(30)));
    // Retried between a minute and 80 minutes (a third of the interval) after the deadline
    // (5 s of which are gone).
    next_check_between(&h, 50, 80 * 60).await;
    assert_eq!(h.view().state, PasswordState::Ok);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn sign_out_during_a_check_leaves_nothing_in_the_keyring() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 1, "a check is in flight");
    h.send(Command::SignOut);
    pass(1).await;
    assert!(!h.cache.has_password(ACCOUNT).unwrap());
    assert!(!h.view().signed_in);
    // The account is forgotten with its credentials.
    assert_eq!(h.view().state, PasswordState::Unknown);
    assert_eq!(h.saved().account, None);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_and_the_agent_recovers() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop, true);
    for _ in 0..3 {
        h.endpoint.answer(Err("refused".into()));
    }
    // The checks after the success may come within these hours too.
    for _ in 0..4 {
        h.endpoint.answer(Ok(expires_in(30)));
    }
    pass(9 * 3600).await;
    let calls = h.endpoint.call_times();
    assert!(calls.len() >= 4, "{calls:?}");
    // Each retry at a random moment from a minute to the end of a window that doubles from a
    // third of the interval (80 minutes) up to the interval.
    for (gap, window) in calls[..4]
        .windows(2)
        .map(|w| w[1] - w[0])
        .zip([80, 160, 240])
    {
        let secs = gap.num_seconds();
        assert!((60..=window * 60 + 1).contains(&secs), "{calls:?}");
    }
    assert_eq!(h.view().state, PasswordState::Ok);
    assert!(!h.view().stale);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_account_in_its_grace_logins_is_checked_only_when_asked() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop, true);
    let in_grace = Finding::Facts(Facts {
        grace_logins_left: Some(2),
        ..Facts::new(Deadline::ExpiredNow, Source::LdapPpolicyControl)
    });
    h.endpoint.answer(Ok(in_grace.clone()));
    h.endpoint.answer(Ok(in_grace));
    pass(10 * 3600).await;
    assert_eq!(h.endpoint.calls(), 1, "no check by itself");
    h.send(Command::CheckNow);
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 2, "Check now still checks");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_command_line_talks_to_the_running_agent() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop, false);
    pass(1).await;
    let status = h.ask(Request::Status).await;
    assert_eq!(status.report.unwrap().state, PasswordState::SignInRequired);
    // `sign-in` on the command line stored the password itself and tells the agent.
    h.cache
        .store_password("bob", &h.endpoint.endpoint(), &Secret::new("pw"))
        .unwrap();
    let answer = h
        .ask(Request::SignedIn {
            account: "bob".into(),
            finding: expires_in(10),
        })
        .await;
    let report = answer.report.unwrap();
    assert_eq!(report.account.as_deref(), Some("bob"));
    assert_eq!(report.state, PasswordState::Warning);
    pass(1).await;
    assert_eq!(
        h.view().state,
        PasswordState::Warning,
        "the tray changed at once"
    );
    assert_eq!(h.desktop.titles().len(), 1, "today's balloon");
    // `check` is answered when the check has ended; a failure keeps the last status.
    h.endpoint.answer(Err("refused".into()));
    let answer = h.ask(Request::Check).await;
    assert!(!answer.ok);
    assert!(answer.error.unwrap().contains("refused"));
    assert_eq!(answer.report.unwrap().state, PasswordState::Warning);
    h.endpoint.answer(Ok(expires_in(30)));
    let answer = h.ask(Request::Check).await;
    assert!(answer.ok);
    assert_eq!(answer.report.unwrap().state, PasswordState::Ok);
    // `sign-out` removes the credentials and forgets the account.
    let answer = h.ask(Request::SignOut).await;
    assert_eq!(answer.report.unwrap().account, None);
    assert!(!h.cache.has_password("bob").unwrap());
    let answer = h.ask(Request::Quit).await;
    assert!(answer.ok);
    h.has_ended("quit over the control channel stops the agent")
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_rejected_sign_in_from_the_command_line_is_about_that_account() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    h.endpoint.answer(Ok(expires_in(30)));
    pass(1).await;
    let rejected = Finding::SignInRequired {
        reason: SignInReason::Rejected,
    };
    let answer = h
        .ask(Request::SignedIn {
            account: "bob".into(),
            finding: rejected,
        })
        .await;
    let report = answer.report.unwrap();
    assert_eq!(report.account.as_deref(), Some("bob"));
    assert_eq!(report.state, PasswordState::SignInRequired);
    assert!(!h.view().signed_in);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_directory_account_changes_its_password_in_the_dialog_and_checks_wait() {
    let desktop = FakeDesktop {
        change: Some(("old-pw", "New-pw-2")),
        outcome: Some(BalloonOutcome::Dismissed),
        ..FakeDesktop::default()
    };
    let h = Harness::start_directory(at(24, 9, 0), desktop.clone());
    h.endpoint.answer(Ok(expires_in(20)));
    pass(5).await;
    h.send(Command::ChangePassword);
    pass(5).await;
    assert_eq!(desktop.changes_asked(), 1);
    // The fake endpoint is no directory: the change says where it happens instead, plainly.
    let titles = desktop.titles();
    assert_eq!(
        titles.last().unwrap(),
        "The password was not changed",
        "{titles:?}"
    );
    assert_eq!(h.endpoint.calls(), 1, "no check ran for the change");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_click_on_the_warning_opens_the_change_dialog_for_a_directory_account() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Clicked),
        ..FakeDesktop::default()
    };
    let h = Harness::start_directory(at(24, 9, 0), desktop.clone());
    h.endpoint.answer(Ok(expires_in(5)));
    pass(5).await;
    assert_eq!(desktop.titles().len(), 1, "{:?}", desktop.titles());
    assert_eq!(desktop.changes_asked(), 1, "the click opened the dialog");
    assert!(desktop.opened().is_empty(), "{:?}", desktop.opened());
    // Cancelled: nothing more is shown, and the next day's warning still comes.
    pass(24 * 3600).await;
    assert_eq!(desktop.titles().len(), 2, "{:?}", desktop.titles());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_click_on_a_notice_does_not_open_the_change_dialog() {
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Clicked),
        change: Some(("old-pw", "New-pw-2")),
        ..FakeDesktop::default()
    };
    let h = Harness::start_directory(at(24, 9, 0), desktop.clone());
    h.endpoint.answer(Ok(expires_in(20)));
    pass(5).await;
    h.send(Command::ChangePassword);
    pass(5).await;
    // The change's own balloon ("not changed") was clicked: no second dialog.
    assert_eq!(desktop.changes_asked(), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_check_due_during_the_change_dialog_runs_when_it_closes() {
    let desktop = FakeDesktop {
        change_takes: Duration::from_secs(5 * 3600),
        ..FakeDesktop::default()
    };
    let h = Harness::start_directory(at(24, 9, 0), desktop.clone());
    h.endpoint.answer(Ok(expires_in(20)));
    h.endpoint.answer(Ok(expires_in(20)));
    pass(5).await;
    assert_eq!(h.endpoint.calls(), 1);
    h.send(Command::ChangePassword);
    // The next check comes due after about 4 hours, while the dialog is still open.
    pass(4 * 3600 + 1800).await;
    assert_eq!(desktop.changes_asked(), 1);
    assert_eq!(h.endpoint.calls(), 1, "no check while the dialog is open");
    pass(3600).await;
    assert_eq!(
        h.endpoint.calls(),
        2,
        "the held check ran when the dialog closed"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn when_only_the_browser_helps_the_view_says_so() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    h.endpoint.answer(Ok(Finding::SignInRequired {
        reason: SignInReason::MfaRequired,
    }));
    h.endpoint.answer(Ok(expires_in(20)));
    pass(5).await;
    assert!(h.view().needs_browser, "{:?}", h.view());
    h.send(Command::CheckNow);
    pass(5).await;
    assert!(!h.view().needs_browser, "{:?}", h.view());
    h.stop().await;
}

// In real time: paused time cannot pass while a blocking keyring call hangs.
#[tokio::test]
async fn a_stuck_keyring_keeps_the_last_status_and_the_menu_as_it_was() {
    let store = Arc::new(crate::system::credentials::TestStore::default());
    let cache = crate::system::credentials::cache_on_test_store(&store);
    let h = Harness::start_on(at(24, 9, 0), FakeDesktop::default(), cache);
    h.endpoint.answer(Ok(expires_in(20)));
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    settle().await;
    assert!(h.view().signed_in);
    assert_eq!(h.view().state, PasswordState::Ok);
    // A keyring call hangs and is given up on: from then on every call says it is stuck.
    store.hang();
    let given_up = h
        .cache
        .call_bounded(Duration::from_millis(50), |c| c.has_password(ACCOUNT))
        .await;
    assert!(given_up.is_err());
    h.send(Command::CheckNow);
    settle().await;
    let view = h.view();
    assert!(view.signed_in, "the menu still offers Sign out: {view:?}");
    assert_eq!(view.state, PasswordState::Ok, "{view:?}");
    assert!(view.stale, "the failed check is said: {view:?}");
    assert!(
        h.saved().last_error.unwrap_or_default().contains("keyring"),
        "the reason names the keyring"
    );
    assert_eq!(
        h.endpoint.calls(),
        1,
        "nothing was sent without the password"
    );
    store.answer();
    h.stop().await;
}

mod clocks;

#[tokio::test(start_paused = true)]
async fn a_restart_goes_on_from_the_saved_check() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    // Saved before the agent's task first runs: checked at 8:00, 10 days left.
    let mut saved = crate::system::state::SavedState::default();
    saved.record_finding(ACCOUNT, expires_in(10), at(24, 8, 0));
    h.state_file.save(&saved).unwrap();
    h.endpoint.answer(Ok(expires_in(10)));
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 0, "no request at the start");
    assert_eq!(h.desktop.titles(), ["Your password expires in 10 days"]);
    assert!(
        h.view().signed_in,
        "the keyring said the password is cached"
    );
    // The next check is due an interval (4 h) after the saved one: at 12:00, not 13:00.
    next_check_between(&h, 3 * 3600 - 120, 3 * 3600 + 60).await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_check_follows_soon_after_the_balloon_opened_the_portal() {
    let clicking = FakeDesktop {
        outcome: Some(BalloonOutcome::Clicked),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), clicking, true);
    h.endpoint.answer(Ok(expires_in(10)));
    h.endpoint.answer(Ok(expires_in(90)));
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 1);
    assert_eq!(h.desktop.titles(), ["Your password expires in 10 days"]);
    assert_eq!(
        h.desktop.opened(),
        ["https://passwordreset.microsoftonline.com/"]
    );
    // The portal opened with the click: the new password is learned within 15 minutes, not 4 h.
    next_check_between(&h, 14 * 60, 16 * 60).await;
    assert_eq!(h.view().state, PasswordState::Ok);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_throttled_check_waits_as_long_as_the_endpoint_asked() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    h.endpoint.fail_or_answer(Err(ProviderError::Throttled {
        endpoint: "fake".into(),
        status: 429,
        retry_after: Duration::from_secs(1800),
    }));
    h.endpoint.answer(Ok(expires_in(20)));
    // An ordinary failure may be retried after a minute; this one waits the half hour asked,
    // at least (and at most the 80 minutes of the first retry's window).
    pass(1).await;
    next_check_between(&h, 30 * 60 - 2, 80 * 60).await;
    assert_eq!(h.view().state, PasswordState::Ok);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_resume_retries_a_failed_check_at_once() {
    let h = Harness::start(at(24, 9, 0), FakeDesktop::default(), true);
    h.endpoint.answer(Err("the network is down".into()));
    h.endpoint.answer(Err("the network is down".into()));
    h.endpoint.answer(Ok(expires_in(20)));
    // The first retry comes within 80 minutes; after it fails, the next is a minute away at
    // least.
    for _ in 0..81 * 60 {
        if h.endpoint.calls() == 2 {
            break;
        }
        pass(1).await;
    }
    assert_eq!(h.endpoint.calls(), 2);
    h.send(Command::Resumed);
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 3, "retried on resume");
    assert_eq!(h.view().state, PasswordState::Ok);
    // A resume with nothing failed asks nothing.
    h.send(Command::Resumed);
    pass(1).await;
    assert_eq!(h.endpoint.calls(), 3);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_entra_accounts_change_password_opens_the_portal_page_and_no_dialog() {
    // The endpoint names Microsoft's change-password page (on the allow-list) with the status.
    let offered = "https://portal.microsoftonline.com/ChangePassword.aspx";
    let mut finding = expires_in(10);
    if let Finding::Facts(facts) = &mut finding {
        facts.portal_url = Some(offered.into());
    }
    let desktop = FakeDesktop {
        outcome: Some(BalloonOutcome::Clicked),
        change: Some(("old-pw", "New-pw-2")),
        ..FakeDesktop::default()
    };
    let h = Harness::start(at(24, 9, 0), desktop.clone(), true);
    h.endpoint.answer(Ok(finding));
    pass(1).await;
    // The daily warning was clicked: the page opened, through the desktop.
    assert_eq!(desktop.titles(), ["Your password expires in 10 days"]);
    assert_eq!(desktop.opened(), [offered], "the balloon's click");
    // The tray's "Change password…" opens the same page.
    h.send(Command::ChangePassword);
    pass(1).await;
    assert_eq!(desktop.opened(), [offered, offered], "Change password…");
    assert_eq!(desktop.changes_asked(), 0, "no change dialog for Entra ID");
    assert_eq!(desktop.titles().len(), 1, "nothing else was shown");
    h.stop().await;
}
