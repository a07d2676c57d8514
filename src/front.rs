//! The agent's front ends, wired up: the channels between the agent and its tray, the thread the
//! tray runs on, and the one way an agent is started and stopped. Used by `run` and by `demo`.
//!
//! Linux: the tray runs on a thread of its own. Windows and macOS: the OS wants the tray on the
//! main thread, so [`run_on_threads`] gives it the main thread and runs the agent's runtime on
//! another; the agent then receives its ends of the channels as [`AgentChannels`].

use std::thread::JoinHandle;

use tokio::sync::{mpsc, watch};

use crate::agent::Agent;
use crate::clock::Clock;
use crate::desktop::Desktop;
use crate::events::{Command, View};
use crate::provider::IdentityProvider;
use crate::shutdown;
use crate::tray::{self, TrayError, TrayExit};

/// The agent's ends of the channels to a tray that runs on the main thread.
pub struct AgentChannels {
    views: watch::Sender<View>,
    commands: mpsc::UnboundedReceiver<Command>,
}

/// What the agent talks to: its ends of the channels, and the tray's thread when it has one.
struct Front {
    views: watch::Sender<View>,
    commands: mpsc::UnboundedReceiver<Command>,
    tray: Option<JoinHandle<()>>,
}

/// Runs `agent` with its front end until it stops: the main thread's tray (`channels`), a tray
/// on a thread of its own, or none (`no_tray`).
pub async fn run_agent<P: IdentityProvider, D: Desktop, C: Clock>(
    agent: Agent<P, D, C>,
    no_tray: bool,
    channels: Option<AgentChannels>,
) -> std::io::Result<()> {
    let front = start(no_tray, channels)?;
    agent
        .run(front.commands, front.views, shutdown::requested())
        .await;
    // The agent has dropped its `View` sender: the tray unregisters its icon and ends.
    if let Some(thread) = front.tray {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    Ok(())
}

fn start(no_tray: bool, channels: Option<AgentChannels>) -> std::io::Result<Front> {
    if let Some(AgentChannels { views, commands }) = channels {
        return Ok(Front {
            views,
            commands,
            tray: None,
        });
    }
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (views, views_rx) = watch::channel(View::initial());
    let tray = (!no_tray)
        .then(|| {
            std::thread::Builder::new()
                .name("tray".into())
                .spawn(move || log_tray_exit(tray::run_tray(views_rx, commands_tx)))
        })
        .transpose()?;
    Ok(Front {
        views,
        commands,
        tray,
    })
}

/// Where the OS wants the tray on the main thread (Windows, macOS) and `with_tray` is set: runs
/// the tray here and `agent_side` (given the agent's channels) on a thread of its own, and
/// returns its result. Elsewhere runs `agent_side` right here, without channels.
pub fn run_on_threads<T: Send + 'static>(
    with_tray: bool,
    agent_side: impl FnOnce(Option<AgentChannels>) -> T + Send + 'static,
) -> std::thread::Result<T> {
    if !(tray::NEEDS_MAIN_THREAD && with_tray) {
        return Ok(agent_side(None));
    }
    let (views, views_rx) = watch::channel(View::initial());
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let channels = AgentChannels { views, commands };
    let agent = std::thread::spawn(move || agent_side(Some(channels)));
    log_tray_exit(tray::run_tray(views_rx, commands_tx));
    agent.join()
}

fn log_tray_exit(exit: Result<TrayExit, TrayError>) {
    match exit {
        Ok(TrayExit::Closed) => {}
        // run_tray has already said why.
        Ok(TrayExit::NoHost) => {}
        Err(e) => tracing::warn!(error = %e, "no tray icon; notifications only"),
    }
}
