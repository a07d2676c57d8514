//! Signing in and out while the agent runs: from the tray (the desktop's dialog, or the browser
//! or a device code for Entra ID) and from the command line (which tells the agent over the
//! control channel). Each runs as a task; the loop records the outcome.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Agent, Done, Running, SignInOutcome};
use crate::agent::control::Answer;
use crate::providers::IdentityProvider;
use crate::report;
use crate::rules::expiry::{sign_in_failed_balloon, signed_in_balloon, Finding};
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;
use crate::system::state::SavedState;
use crate::work::account;
use crate::work::entra_sign_in::{
    self, AccountHint, DesktopInteraction, InteractiveMethod, SignInError,
};
use crate::work::routine::Routine;

impl<P: IdentityProvider, D: Desktop, C: Clock> Agent<P, D, C> {
    /// Sign-out as a task: a check in flight is stopped first, so it cannot store a fresh token
    /// after the credentials were removed. The account is forgotten with its credentials.
    pub(super) fn start_sign_out(&self, run: &mut Running, reply: Option<oneshot::Sender<Answer>>) {
        let account = run.account.clone();
        let check = run.check.take();
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        tokio::spawn(async move {
            if let Some(check) = check {
                check.abort();
                let _ = check.await;
            }
            if let Some(account) = &account {
                if let Err(e) = account::sign_out(&routine.cache, account).await {
                    tracing::warn!(error = %e, "sign-out failed");
                }
            }
            let saved = routine.update(|s| {
                s.account = None;
                s.finding = None;
                s.checked_at = None;
            });
            let _ = done.send(Done::SignOut { reply, saved });
        });
    }

    /// The credentials are gone: the account falls back to `[account] username`.
    pub(super) fn on_signed_out(
        &self,
        reply: Option<oneshot::Sender<Answer>>,
        saved: SavedState,
        run: &mut Running,
    ) {
        tracing::info!("signed out");
        run.learn_signed_in(false);
        run.account = self.routine.config.account.username.clone();
        run.saved = saved;
        for waiter in std::mem::take(&mut run.check_waiters) {
            let _ = waiter.send(Answer::failed("signed out meanwhile".into(), None));
        }
        if let Some(reply) = reply {
            let _ = reply.send(Answer::with_report(self.report(run)));
        }
    }

    /// "Sign in…" from the tray, as a task: the browser or a device code where configured (the
    /// account comes from the sign-in), else the desktop's password dialog for the known account
    /// (or, for a directory account, the local login name). `method` overrides the configured
    /// one (the menu's "Sign in with browser…"). The loop goes on meanwhile.
    pub(super) fn start_sign_in(&self, method: Option<InteractiveMethod>, run: &mut Running) {
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        let known = run.account.clone();
        run.sign_in = Some(tokio::spawn(async move {
            let method = method.or_else(|| InteractiveMethod::configured(&routine.config));
            let outcome = match method {
                Some(method) => sign_in_interactively(&routine, method, known.as_deref()).await,
                None => match known.or_else(|| local_login_name(&routine)) {
                    Some(account) => sign_in_with_password(&routine, &account).await,
                    None => SignInOutcome::Failed(
                        "no account is known yet; run `signin-assistant sign-in --user NAME` once"
                            .into(),
                    ),
                },
            };
            let _ = done.send(Done::SignIn(outcome));
        }));
    }

    /// Shows how "Sign in…" ended; an accepted sign-in is kept.
    pub(super) fn on_signed_in(&self, outcome: SignInOutcome, run: &mut Running) {
        run.sign_in = None;
        match outcome {
            SignInOutcome::Cancelled => tracing::info!("sign-in cancelled"),
            SignInOutcome::Failed(reason) => {
                tracing::warn!(reason = %reason, "sign-in failed");
                self.spawn_notice(sign_in_failed_balloon(&reason), run);
            }
            SignInOutcome::Accepted { account, finding } => {
                self.keep_sign_in(account, finding, run, true)
            }
            SignInOutcome::AcceptedWithoutFacts { account, error } => {
                let now = self.routine.clock.now();
                run.saved = self.routine.update(|s| {
                    if s.account.as_deref() != Some(account.as_str()) {
                        s.account = Some(account.clone());
                        s.finding = None;
                        s.checked_at = None;
                    }
                    s.record_failure(&error, now);
                });
                run.account = Some(account);
                run.learn_signed_in(true);
                self.spawn_notice(sign_in_failed_balloon(&error), run);
            }
        }
    }

    /// Records a sign-in (from the tray, or the command line's): the account becomes the one
    /// watched. From the tray "Signed in" is shown with the status, and counts as today's
    /// balloon when the password is in the warning window; from the command line, today's
    /// balloon comes as usual.
    pub(super) fn keep_sign_in(
        &self,
        account: String,
        finding: Finding,
        run: &mut Running,
        from_tray: bool,
    ) {
        tracing::info!(account = %account, "signed in");
        let now = self.routine.clock.now();
        run.learn_signed_in(matches!(finding, Finding::Facts(_)));
        run.saved = self
            .routine
            .update(|s| s.record_finding(&account, finding, now));
        run.account = Some(account);
        if !from_tray {
            self.balloon_if_due(run);
            return;
        }
        let status = self.routine.status(&run.saved, run.account.as_deref());
        let balloon = signed_in_balloon(&status, &report::summary(&status, &chrono::Local));
        let due = run.daily_showing.is_none()
            && self
                .routine
                .due_balloon(&run.saved, run.account.as_deref())
                .is_some();
        let daily = due.then(|| self.routine.daily_mark());
        if let Some(mark) = daily {
            run.daily_showing = Some(mark.shown_at);
        }
        self.spawn_balloon(balloon, daily, run);
    }
}

/// The desktop's password dialog, then one authentication attempt.
async fn sign_in_with_password<P: IdentityProvider, D: Desktop, C: Clock>(
    routine: &Routine<P, D, C>,
    account: &str,
) -> SignInOutcome {
    let password = match routine.desktop.ask_password(account).await {
        Ok(Some(password)) if !password.is_empty() => password,
        Ok(_) => return SignInOutcome::Cancelled,
        Err(e) => return SignInOutcome::Failed(e.to_string()),
    };
    match account::sign_in(&routine.provider, &routine.cache, account, &password).await {
        Ok(Finding::SignInRequired { reason }) => {
            SignInOutcome::Failed(reason.explain().to_string())
        }
        Ok(finding) => SignInOutcome::Accepted {
            account: account.to_string(),
            finding,
        },
        Err(e) => SignInOutcome::Failed(e.to_string()),
    }
}

/// The browser or a device code; balloons show the device code where the desktop has them.
async fn sign_in_interactively<P: IdentityProvider, D: Desktop, C: Clock>(
    routine: &Routine<P, D, C>,
    method: InteractiveMethod,
    known: Option<&str>,
) -> SignInOutcome {
    let hint = AccountHint {
        required: routine.config.account.username.as_deref(),
        hint: known,
    };
    let ui = DesktopInteraction(routine.desktop.clone());
    let (config, provider, cache) = (&routine.config, &routine.provider, &routine.cache);
    match entra_sign_in::sign_in_interactively(config, provider, cache, method, hint, &ui).await {
        Ok((account, finding)) => SignInOutcome::Accepted { account, finding },
        Err(SignInError::AcceptedWithoutFacts { account, source }) => {
            SignInOutcome::AcceptedWithoutFacts {
                account,
                error: source.to_string(),
            }
        }
        Err(e) => SignInOutcome::Failed(e.to_string()),
    }
}

/// For a directory account, the person's login name on this machine is a sensible guess.
fn local_login_name<P, D, C>(routine: &Routine<P, D, C>) -> Option<String> {
    if !crate::providers::registration(routine.config.provider.kind).login_name_is_account {
        return None;
    }
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .filter(|name| !name.trim().is_empty())
}
