//! macOS: the balloon as a Notification Center notification (notify-rust's NSUserNotification
//! backend, i.e. mac-notification-sys), which reports a click on it or its button, its close
//! button, and its going away by itself.
//!
//! macOS delivers those reports only to an application it knows: the agent has to run from an
//! app bundle whose `CFBundleIdentifier` is [`MACOS_BUNDLE_ID`] and that Launch Services has
//! registered (it is in /Applications or ~/Applications); assets/macos/Info.plist is that
//! bundle's property list. Without the bundle the notification is still shown, on behalf of
//! another application, and its click is not reported.
//!
//! The reports arrive through the main thread's run loop, which runs while the tray has the
//! main thread (`run`, `demo`). Without it (`check`, `run --no-tray`) nothing arrives and the
//! balloon counts as expired after its timeout, as with a silent notification server.
//!
//! Compiled in CI for aarch64-apple-darwin; never run.

use std::sync::Once;
use std::time::Duration;

use notify_rust::{Notification, NotificationResponse};

use super::shell_balloon::outcome_when_unreported;
use super::{outcome_of_response, Notifier, Taken, APP_NAME, LONGEST_STAY};
use crate::rules::expiry::Balloon;
use crate::system::paths::MACOS_BUNDLE_ID;
use crate::system::state::BalloonOutcome;

/// How long after the timeout a silent notification is waited for.
const GRACE: Duration = Duration::from_secs(2);

/// Shows the notification, says so through `taken`, and waits (on a thread of its own) for how
/// it ended.
pub async fn show(
    balloon: &Balloon,
    action: &str,
    notifier: &Notifier,
    taken: Taken,
) -> Result<BalloonOutcome, String> {
    claim_bundle_identity();
    let mut notification = Notification::new();
    notification
        .appname(APP_NAME)
        .summary(&balloon.title)
        .body(&balloon.body)
        .action("default", action);
    let handle = notification.show().map_err(|e| e.to_string())?;
    let _ = taken.send(());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    // A plain thread, not the blocking pool: without a main run loop the wait never returns,
    // and such a thread must not hold up the runtime's shutdown.
    std::thread::Builder::new()
        .name("balloon".into())
        .spawn(move || {
            let mut outcome = BalloonOutcome::Closed;
            let waited = handle.wait_for_response(|response: &NotificationResponse| {
                outcome = outcome_of_response(response);
            });
            let _ = done_tx.send(waited.map(|()| outcome).map_err(|e| e.to_string()));
        })
        .map_err(|e| e.to_string())?;
    let timeout = notifier.timeout_for(balloon);
    let wait = timeout.map_or(LONGEST_STAY, |t| t + GRACE);
    match tokio::time::timeout(wait, done_rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err("the notification's thread stopped".into()),
        Err(_) => Ok(outcome_when_unreported(timeout.is_some())),
    }
}

/// Sends notifications as the app bundle, so that macOS reports back to this process; once.
fn claim_bundle_identity() {
    static CLAIMED: Once = Once::new();
    CLAIMED.call_once(|| {
        if let Err(e) = notify_rust::set_application(MACOS_BUNDLE_ID) {
            tracing::warn!(
                error = %e,
                bundle = MACOS_BUNDLE_ID,
                "the app bundle is not installed: notifications are shown, their clicks not reported"
            );
        }
    });
}
