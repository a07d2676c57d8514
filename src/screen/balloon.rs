//! The balloon: shows it through the desktop's notification service and reports how it ended
//! (clicked, dismissed with X, timed out); the caller acts on a click. Without a notification
//! service (e.g. over SSH) the text goes to stderr and the agent carries on. A service that does
//! not take the balloon within [`SERVER_DEADLINE`] (hung, or stuck behind a hung bus) is not
//! waited for: the balloon counts as not shown ([`NotShown`]), so the caller can show it later,
//! and the caller is told when a balloon was taken, so it can note it as shown then and not
//! before.
//!
//! Platform-specific:
//! - Linux and the BSDs: freedesktop notifications over D-Bus; actions and close reasons arrive
//!   as signals. Where the server renders markup in bodies (it says `body-markup`), the body is
//!   escaped, so text from outside in it cannot add a link or markup.
//! - Windows: a notification-area balloon (`Shell_NotifyIconW`, `NIF_INFO`) whose click,
//!   timeout or removal the shell reports to its icon's window (`windows` module; what each
//!   report means is in `shell_balloon`). Closing it with X is reported like the timeout.
//! - macOS: a Notification Center notification that reports its click, its close button and
//!   its going away, when the agent runs from its app bundle (`macos` module).

use std::time::Duration;

use notify_rust::{CloseReason, NotificationResponse};
use tokio::sync::oneshot;

use crate::rules::expiry::{Balloon, Urgency};
use crate::system::state::BalloonOutcome;

#[cfg(target_os = "macos")]
mod macos;
#[cfg_attr(not(windows), allow(dead_code))]
mod shell_balloon;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(windows)]
use windows as platform;

const APP_NAME: &str = "signin-assistant";
/// The longest a balloon that stays until the person acts is waited for.
const LONGEST_STAY: Duration = Duration::from_secs(12 * 3600);
/// How long the notification service may take to take a balloon (a local service answers in
/// milliseconds).
pub const SERVER_DEADLINE: Duration = Duration::from_secs(5);

/// The notification service did not take the balloon: it is not on screen (nor on stderr).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the notification service did not take the balloon within {} s", SERVER_DEADLINE.as_secs())]
pub struct NotShown;

/// Told by the platform's code once the notification service has taken the balloon.
type Taken = oneshot::Sender<()>;

/// How to show balloons.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// How long a normal balloon stays.
    pub timeout: Duration,
    /// Wait for critical balloons until the person acts (the agent); a one-shot command uses the timeout.
    pub critical_stays: bool,
}

impl Notifier {
    /// Shows a password balloon ("Change password") and waits for its outcome; the caller acts
    /// on a click. `link`, the page the click leads to, is only printed when the balloon goes
    /// to stderr. `on_screen` is called once the balloon is shown (or went to stderr), before
    /// its outcome is waited for.
    pub async fn show(
        &self,
        balloon: &Balloon,
        link: Option<&str>,
        on_screen: impl FnOnce() + Send,
    ) -> Result<BalloonOutcome, NotShown> {
        self.show_with_action(
            balloon,
            "Change password",
            link.unwrap_or_default(),
            on_screen,
        )
        .await
    }

    /// Shows a balloon whose click (`action` names it) the caller acts on, e.g. the device code
    /// balloon, whose click opens the sign-in page. Without a notification server the balloon
    /// and `link` go to stderr. `on_screen` as in [`show`](Self::show).
    pub async fn show_with_action(
        &self,
        balloon: &Balloon,
        action: &str,
        link: &str,
        on_screen: impl FnOnce() + Send,
    ) -> Result<BalloonOutcome, NotShown> {
        let (taken, taken_rx) = oneshot::channel();
        let showing = platform::show(balloon, action, self, taken);
        tokio::pin!(showing);
        let mut on_screen = Some(on_screen);
        let shown = tokio::select! {
            shown = &mut showing => shown,
            taken = tokio::time::timeout(SERVER_DEADLINE, taken_rx) => match taken {
                Ok(Ok(())) => {
                    if let Some(on_screen) = on_screen.take() {
                        on_screen();
                    }
                    showing.await
                }
                // Dropped untold: the platform's code is ending with an error.
                Ok(Err(_)) => showing.await,
                Err(_) => {
                    tracing::warn!(title = %balloon.title, reason = %NotShown, "balloon not shown");
                    return Err(NotShown);
                }
            },
        };
        let outcome = match shown {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(error = %e, "no notification server; showing the balloon on stderr");
                eprintln!("\n*** {} ***\n{}\n{link}", balloon.title, balloon.body);
                BalloonOutcome::Console
            }
        };
        if let Some(on_screen) = on_screen {
            on_screen();
        }
        tracing::info!(title = %balloon.title, outcome = ?outcome, "balloon finished");
        Ok(outcome)
    }

    /// How long this balloon stays, or None for "until the person acts".
    fn timeout_for(&self, balloon: &Balloon) -> Option<Duration> {
        (balloon.urgency == Urgency::Normal || !self.critical_stays).then_some(self.timeout)
    }
}

/// Whether a desktop session is there to show balloons (an SSH session has none): on Linux and
/// BSD an X or Wayland display; Windows and macOS always have one.
pub fn desktop_present() -> bool {
    #[cfg(freedesktop)]
    {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    }
    #[cfg(any(windows, target_os = "macos"))]
    {
        true
    }
}

#[cfg(freedesktop)]
mod platform {
    //! Freedesktop notifications over D-Bus: actions and close reasons arrive as signals.
    use super::*;
    use crate::rules::untrusted::escape_markup;
    use notify_rust::{Hint, Notification, Timeout};

    const SERVICE: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";

    pub async fn show(
        balloon: &Balloon,
        action: &str,
        notifier: &Notifier,
        taken: Taken,
    ) -> Result<BalloonOutcome, notify_rust::error::Error> {
        let timeout = notifier.timeout_for(balloon);
        let body = match renders_body_markup().await {
            Ok(false) => balloon.body.clone(),
            Ok(true) => escape_markup(&balloon.body),
            Err(e) => {
                tracing::debug!(error = %e, "the notification server's capabilities are unknown; escaping the body");
                escape_markup(&balloon.body)
            }
        };
        let mut notification = Notification::new();
        notification
            .appname(APP_NAME)
            .summary(&balloon.title)
            .body(&body)
            .icon("dialog-password")
            .action("default", action)
            .hint(Hint::Category("im".into()))
            .urgency(match balloon.urgency {
                Urgency::Normal => notify_rust::Urgency::Normal,
                Urgency::Critical => notify_rust::Urgency::Critical,
            })
            .timeout(match timeout {
                Some(t) => Timeout::Milliseconds(t.as_millis().min(u32::MAX as u128) as u32),
                None => Timeout::Never,
            });
        let handle = notification.show_async().await?;
        let _ = taken.send(());
        let mut outcome = BalloonOutcome::Closed;
        let wait = handle.wait_for_action_async(|response| {
            outcome = outcome_of_response(response);
        });
        match timeout {
            // Some servers never report expiry: stop waiting shortly after the timeout.
            Some(t) => {
                if tokio::time::timeout(t + Duration::from_secs(2), wait)
                    .await
                    .is_err()
                {
                    handle.close_async().await;
                    return Ok(BalloonOutcome::TimedOut);
                }
            }
            // A balloon that stays is still not waited for forever: a server that restarts or drops
            // it silently must not hold the outcome (and the demo's `--once`) for good.
            None => {
                if tokio::time::timeout(LONGEST_STAY, wait).await.is_err() {
                    handle.close_async().await;
                    return Ok(BalloonOutcome::Closed);
                }
            }
        }
        // Servers that do not close a clicked balloon themselves would leave it on screen.
        if outcome == BalloonOutcome::Clicked {
            handle.close_async().await;
        }
        Ok(outcome)
    }

    /// Whether the notification server renders markup in bodies (its `body-markup` capability):
    /// then a body is escaped to be shown as written. The summary is plain text everywhere.
    async fn renders_body_markup() -> zbus::Result<bool> {
        let bus = zbus::Connection::session().await?;
        let reply = bus
            .call_method(Some(SERVICE), PATH, Some(SERVICE), "GetCapabilities", &())
            .await?;
        let capabilities: Vec<String> = reply.body().deserialize()?;
        Ok(capabilities.iter().any(|c| c == "body-markup"))
    }
}

/// How a notification ended, from what notify-rust reports (Linux and macOS): the default
/// action or a button is a click; the close reasons keep their meaning.
#[cfg_attr(windows, allow(dead_code))]
fn outcome_of_response(response: &NotificationResponse) -> BalloonOutcome {
    match response {
        NotificationResponse::Default | NotificationResponse::Action(_) => BalloonOutcome::Clicked,
        NotificationResponse::Closed(CloseReason::Dismissed) => BalloonOutcome::Dismissed,
        NotificationResponse::Closed(CloseReason::Expired) => BalloonOutcome::TimedOut,
        _ => BalloonOutcome::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_responses_map_to_outcomes() {
        let cases = [
            (NotificationResponse::Default, BalloonOutcome::Clicked),
            (
                NotificationResponse::Action("default".into()),
                BalloonOutcome::Clicked,
            ),
            (
                NotificationResponse::Closed(CloseReason::Dismissed),
                BalloonOutcome::Dismissed,
            ),
            (
                NotificationResponse::Closed(CloseReason::Expired),
                BalloonOutcome::TimedOut,
            ),
            (
                NotificationResponse::Closed(CloseReason::CloseAction),
                BalloonOutcome::Closed,
            ),
            (
                NotificationResponse::Reply("text".into()),
                BalloonOutcome::Closed,
            ),
        ];
        for (response, outcome) in cases {
            assert_eq!(outcome_of_response(&response), outcome, "{response:?}");
        }
    }
}
