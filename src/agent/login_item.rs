//! The tray's "Start at login" switch: the agent looks at the login item (a file or a registry
//! value, so a blocking task), changes it when asked, and shows what it found.

use std::sync::Arc;

use super::{Agent, Done, Running};
use crate::providers::IdentityProvider;
use crate::rules::expiry::{Balloon, Urgency};
use crate::screen::desktop::Desktop;
use crate::system::clock::Clock;

impl<P: IdentityProvider, D: Desktop, C: Clock> Agent<P, D, C> {
    /// Learns whether the program starts at login, after switching it to `change` if given.
    pub(super) fn look_at_login_item(&self, change: Option<bool>, run: &mut Running) {
        let Some(item) = self.login_item.clone() else {
            if change.is_some() {
                tracing::info!("starting at login cannot be changed from here");
            }
            return;
        };
        run.autostart_asked += 1;
        let asked = run.autostart_asked;
        let done = run.done.clone();
        tokio::spawn(async move {
            let looked = tokio::task::spawn_blocking(move || {
                let failure = change.and_then(|on| item.set(on).err().map(|e| e.to_string()));
                (item.status(), failure)
            })
            .await;
            let (enabled, failure) = match looked {
                Ok((Ok(status), failure)) => (Some(status.enabled), failure),
                Ok((Err(e), failure)) => {
                    tracing::warn!(error = %e, "cannot tell whether signin-assistant starts at login");
                    (None, failure)
                }
                Err(e) => (None, Some(e.to_string())),
            };
            let _ = done.send(Done::Autostart {
                asked,
                enabled,
                failure,
            });
        });
    }

    /// What the login item said; a change that failed is said in a balloon.
    pub(super) fn on_login_item(
        &self,
        asked: u64,
        enabled: Option<bool>,
        failure: Option<String>,
        run: &mut Running,
    ) {
        if asked == run.autostart_asked && run.autostart != enabled {
            tracing::info!(start_at_login = ?enabled, "start at login");
            run.autostart = enabled;
        }
        if let Some(reason) = failure {
            tracing::warn!(reason = %reason, "start at login could not be changed");
            let balloon = Balloon {
                title: "Start at login could not be changed".into(),
                body: reason,
                urgency: Urgency::Normal,
            };
            self.spawn_notice(balloon, run);
        }
    }
}

/// The login item shared with the blocking tasks that look at it.
pub(super) type SharedLoginItem = Arc<crate::system::autostart::LoginItem>;
