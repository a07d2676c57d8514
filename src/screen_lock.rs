//! Learning that the screen was locked and unlocked, so that the day's balloon is not shown to
//! an empty desk: a desktop left on overnight reaches the new local day with its screen locked,
//! and a balloon shown then would go away unseen (the agent closes it after its timeout) and
//! still count as the day's. While the screen is locked the day's balloon waits; it comes when
//! the screen is unlocked.
//!
//! Linux: the screen lockers' `ActiveChanged(bool)` signal on the session bus
//! (`org.freedesktop.ScreenSaver` as KDE sends it, and the GNOME, MATE, Cinnamon and Xfce names
//! of the same interface). Only changes are heard: the screen counts as
//! unlocked when the agent starts, which is a login. Without a session bus nothing is watched
//! and the balloon comes as before. Other systems: not watched.

use tokio::sync::mpsc;

use crate::events::Command;

/// Sends [`Command::ScreenLocked`] to the agent each time the screen is locked or unlocked,
/// until the agent's end of the channel is gone. Runs as a task of the agent's runtime.
pub fn watch(commands: mpsc::UnboundedSender<Command>) {
    #[cfg(target_os = "linux")]
    tokio::spawn(async move {
        if let Err(e) = lockers::forward_changes(&commands).await {
            tracing::debug!(error = %e, "not told when the screen is locked (no session bus)");
        }
    });
    #[cfg(not(target_os = "linux"))]
    drop(commands);
}

/// The interfaces whose `ActiveChanged` says the screen locker came or went.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const LOCKER_INTERFACES: [&str; 5] = [
    "org.freedesktop.ScreenSaver",
    "org.gnome.ScreenSaver",
    "org.mate.ScreenSaver",
    "org.cinnamon.ScreenSaver",
    "org.xfce.ScreenSaver",
];

#[cfg(target_os = "linux")]
mod lockers {
    use futures_lite::StreamExt;

    use super::*;

    /// Forwards every `ActiveChanged` of a screen locker until the agent stops listening.
    pub async fn forward_changes(commands: &mpsc::UnboundedSender<Command>) -> zbus::Result<()> {
        let bus = zbus::Connection::session().await?;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .member("ActiveChanged")?
            .build();
        let mut signals = zbus::MessageStream::for_match_rule(rule, &bus, Some(8)).await?;
        while let Some(signal) = signals.next().await {
            let signal = signal?;
            let header = signal.header();
            let from_a_locker = header
                .interface()
                .is_some_and(|i| LOCKER_INTERFACES.contains(&i.as_str()));
            let Ok(locked) = signal.body().deserialize::<bool>() else {
                continue;
            };
            if !from_a_locker {
                continue;
            }
            tracing::info!(locked, "the screen locker changed");
            if commands.send(Command::ScreenLocked(locked)).is_err() {
                break;
            }
        }
        Ok(())
    }
}
