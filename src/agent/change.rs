//! "Change password…" and a click on a password balloon follow the route decided with the status
//! ([`Routine::change_route`](crate::work::routine::Routine::change_route)): the portal opens in
//! the browser through the desktop (and a check follows within minutes, to learn of the new
//! password), or — for a directory account
//! without a portal — this program's own dialog changes the password as a task, and one balloon
//! says how it ended. No scheduled check starts while the dialog is
//! open (the change reads the new status itself).

use std::sync::Arc;

use super::{Agent, Done, Running};
use crate::providers::IdentityProvider;
use crate::rules::expiry::{Balloon, Urgency};
use crate::rules::schedule;
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;
use crate::work::password_change::{Interaction, Route};

impl<P: IdentityProvider, D: Desktop, C: Clock> Agent<P, D, C> {
    /// The person chose "Change password…": the route is decided now, from the saved status.
    pub(super) fn change_password(&self, run: &mut Running) {
        let route = self.routine.change_route(&run.saved);
        self.follow(route, run);
    }

    /// Follows a click (or the menu entry) where `route` leads.
    pub(super) fn follow(&self, route: Route, run: &mut Running) {
        match route {
            Route::Portal(url) => {
                self.routine.desktop.open_page(&url);
                schedule::after_portal_opened(&mut run.timetable, self.routine.clock.now());
            }
            Route::Here => self.start_change(run),
        }
    }

    /// Opens the change dialog as a task, unless it is open already.
    fn start_change(&self, run: &mut Running) {
        if run.change.is_some() {
            tracing::info!("the change-password dialog is already open");
            return;
        }
        let Some(account) = run.account.clone() else {
            let balloon = Balloon {
                title: "Sign in first".into(),
                body:
                    "Choose \"Sign in…\" in the tray menu; then the password can be changed here."
                        .into(),
                urgency: Urgency::Normal,
            };
            self.spawn_notice(balloon, run);
            return;
        };
        let routine = Arc::clone(&self.routine);
        let done = run.done.clone();
        run.change = Some(tokio::spawn(async move {
            let interaction = routine.change_here(&account).await;
            let _ = done.send(Done::Change(Box::new(interaction)));
        }));
    }

    /// The dialog ended: the new status is shown (it was saved by the change), or why not.
    pub(super) fn on_changed(&self, interaction: Interaction, run: &mut Running) {
        run.change = None;
        let balloon = match interaction {
            Interaction::Cancelled => {
                tracing::info!("the password change was cancelled");
                None
            }
            Interaction::Changed(changed) => {
                tracing::info!(via = ?changed.via, "password changed");
                run.saved = (*changed.saved).clone();
                run.learn_signed_in(true);
                Some(changed.balloon())
            }
            Interaction::Failed(failure) => {
                // Nothing was saved: a failed change ends before the new status is recorded.
                tracing::warn!(error = %failure, "the password was not changed");
                let loud = failure.directory_may_have_changed();
                Some(Balloon {
                    title: if loud {
                        "Check your new password".into()
                    } else {
                        "The password was not changed".into()
                    },
                    body: failure.in_words(),
                    urgency: if loud {
                        Urgency::Critical
                    } else {
                        Urgency::Normal
                    },
                })
            }
        };
        if let Some(balloon) = balloon {
            self.spawn_notice(balloon, run);
        }
        if std::mem::take(&mut run.check_held) {
            self.start_check(run);
        }
    }
}
