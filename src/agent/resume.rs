//! Learning that the machine woke from sleep, so that a check that failed before the suspend
//! (the network was going away) is retried at once instead of after its backoff. The schedule's
//! own events need no help: the agent sleeps on the wall clock, which wakes it on resume when a
//! check or a new day came due meanwhile (see [`crate::system::clock`]).
//!
//! Linux: logind's `PrepareForSleep(false)` signal on the system bus; the connection waits on
//! its socket and wakes nobody until a signal comes. Without a system bus or logind (a
//! container, another init system) nothing is watched and nothing is lost but the early retry.
//! Other systems: not watched (the retry comes with the backoff).

use tokio::sync::mpsc;

use crate::report::view::Command;

/// Sends [`Command::Resumed`] to the agent each time the machine resumes, until the agent's
/// end of the channel is gone. Runs as a task of the agent's runtime.
pub fn watch(commands: mpsc::UnboundedSender<Command>) {
    #[cfg(target_os = "linux")]
    tokio::spawn(async move {
        if let Err(e) = logind::forward_resumes(&commands).await {
            tracing::debug!(error = %e, "not told when the machine resumes (no logind on a system bus)");
        }
    });
    #[cfg(not(target_os = "linux"))]
    drop(commands);
}

#[cfg(target_os = "linux")]
mod logind {
    use futures_lite::StreamExt;

    use super::*;

    const INTERFACE: &str = "org.freedesktop.login1.Manager";

    /// Forwards every `PrepareForSleep(false)` (the resume) until the agent stops listening.
    pub async fn forward_resumes(commands: &mpsc::UnboundedSender<Command>) -> zbus::Result<()> {
        let bus = zbus::Connection::system().await?;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(INTERFACE)?
            .member("PrepareForSleep")?
            .path("/org/freedesktop/login1")?
            .build();
        let mut signals = zbus::MessageStream::for_match_rule(rule, &bus, Some(8)).await?;
        while let Some(signal) = signals.next().await {
            let Ok(going_to_sleep) = signal?.body().deserialize::<bool>() else {
                continue;
            };
            if going_to_sleep {
                continue;
            }
            tracing::info!("the machine resumed from sleep");
            if commands.send(Command::Resumed).is_err() {
                break;
            }
        }
        Ok(())
    }
}
