//! Requests from the command line over the control channel: answered from the loop, so the
//! agent stays the one writer of the state file and the tray changes at once.

use super::{Agent, Running};
use crate::agent::control::{Answer, Call, Request};
use crate::providers::IdentityProvider;
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;

impl<P: IdentityProvider, D: Desktop, C: Clock> Agent<P, D, C> {
    /// Handles one request; returns whether the agent should stop.
    pub(super) fn on_call(&self, call: Call, run: &mut Running) -> bool {
        let Call { request, reply } = call;
        tracing::debug!(?request, "control request");
        match request {
            Request::Status => {
                let _ = reply.send(Answer::with_report(self.report(run)));
            }
            Request::Check => {
                run.check_waiters.push(reply);
                self.start_check(run);
            }
            Request::SignedIn { account, finding } => {
                self.keep_sign_in(account, finding, run, false);
                let _ = reply.send(Answer::with_report(self.report(run)));
            }
            Request::SignOut => self.start_sign_out(run, Some(reply)),
            Request::Reload => {
                self.look_at_login_item(None, run);
                // Another process (a `check`, `sign-in` or `sign-out` on the command line)
                // wrote the state file and says so: the one place the agent reads it again.
                run.saved = self.routine.state_file.load();
                run.account = run
                    .saved
                    .account
                    .clone()
                    .or_else(|| self.routine.config.account.username.clone());
                let _ = reply.send(Answer::with_report(self.report(run)));
            }
            Request::Quit => {
                let _ = reply.send(Answer::with_report(self.report(run)));
                return true;
            }
        }
        false
    }
}
