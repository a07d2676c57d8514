//! The agent's front ends, wired up: the channels between the agent and its tray, the thread the
//! tray runs on, and the one way an agent is started and stopped. Used by `run` and by `demo`.
//!
//! Linux: the tray runs on a thread of its own. Windows and macOS: the OS wants the tray on the
//! main thread, so [`run_on_threads`] gives it the main thread and runs the agent's runtime on
//! another; the agent then receives its ends of the channels as [`AgentChannels`].

use std::thread::JoinHandle;

use tokio::sync::{mpsc, watch};

use crate::agent::control;
use crate::agent::shutdown;
use crate::agent::unconfigured::{Readiness, SetUp, SetupWait, Waited};
use crate::agent::Agent;
use crate::providers::IdentityProvider;
use crate::report::view::{Command, View};
use crate::screen::desktop::Desktop;
use crate::screen::tray::{self, TrayError, TrayExit};
use crate::system::clock::Clock;

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

/// Whether an agent serves the user's control channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlChannel {
    /// The user's agent (`run`): the user's commands reach it.
    Serve,
    /// Any other agent (the demo's): the user's commands never reach it, and it never takes the
    /// channel from the user's agent. Its tray needs no channel: menu clicks come over
    /// [`AgentChannels`] or the tray thread's own.
    Off,
}

/// Runs `agent` with its front end until it stops: the main thread's tray (`channels`), a tray
/// on a thread of its own, or none (`no_tray`); `control` says whether it serves the user's
/// control channel.
pub async fn run_agent<P: IdentityProvider, D: Desktop, C: Clock>(
    agent: Agent<P, D, C>,
    no_tray: bool,
    channels: Option<AgentChannels>,
    control: ControlChannel,
) -> std::io::Result<()> {
    let front = start(no_tray, channels)?;
    let (calls_tx, calls) = mpsc::unbounded_channel();
    let control = match control {
        ControlChannel::Serve => listen_for_commands(calls_tx).await,
        ControlChannel::Off => None,
    };
    agent
        .run(front.commands, calls, front.views, shutdown::requested())
        .await;
    stop(control, front.tray).await;
    Ok(())
}

/// Runs the agent `start` makes from the configuration, once there is a complete one: until
/// then the front end shows "not set up" and the control channel answers for the waiting agent
/// ([`SetupWait`]). `start` failing (e.g. no home directory for the state file) is logged and
/// tried again a minute later.
pub async fn run_agent_once_set_up<P, D, C, F>(
    waiting: SetupWait,
    mut start_agent: F,
    no_tray: bool,
    channels: Option<AgentChannels>,
) -> std::io::Result<()>
where
    P: IdentityProvider,
    D: Desktop,
    C: Clock,
    F: FnMut(SetUp) -> Result<Agent<P, D, C>, String>,
{
    // Set up already (the usual case): the agent starts before its front end, as without setup.
    if let Readiness::Ready(set_up) = waiting.readiness() {
        match start_agent(*set_up) {
            Ok(agent) => return run_agent(agent, no_tray, channels, ControlChannel::Serve).await,
            Err(e) => tracing::warn!(error = %e, "cannot start the agent"),
        }
    }
    let mut front = start(no_tray, channels)?;
    let (calls_tx, mut calls) = mpsc::unbounded_channel();
    let control = listen_for_commands(calls_tx).await;
    let shutdown = shutdown::requested();
    tokio::pin!(shutdown);
    let agent = loop {
        let waited = waiting
            .wait(
                &mut front.commands,
                &mut calls,
                &front.views,
                shutdown.as_mut(),
            )
            .await;
        match waited {
            Waited::Stopped => break None,
            Waited::Ready(set_up, pending) => match start_agent(*set_up) {
                Ok(agent) => {
                    if let Some(call) = pending {
                        calls = with_first(call, calls);
                    }
                    break Some(agent);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the agent; waiting for a corrected configuration");
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                }
            },
        }
    };
    if let Some(agent) = agent {
        agent
            .run(front.commands, calls, front.views, shutdown)
            .await;
    } else {
        drop(front.views);
    }
    stop(control, front.tray).await;
    Ok(())
}

/// The calls of `rest`, after `first`.
fn with_first(first: control::Call, mut rest: control::Calls) -> control::Calls {
    let (tx, calls) = mpsc::unbounded_channel();
    let _ = tx.send(first);
    tokio::spawn(async move {
        while let Some(call) = rest.recv().await {
            if tx.send(call).is_err() {
                break;
            }
        }
    });
    calls
}

/// Ends the control server (its socket file goes with it) and waits for the tray to go: the
/// agent has dropped its `View` sender, so the tray unregisters its icon and ends.
async fn stop(control: Option<tokio::task::JoinHandle<()>>, tray: Option<JoinHandle<()>>) {
    if let Some(control) = control {
        control.abort();
        let _ = control.await;
    }
    if let Some(thread) = tray {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Opens the control channel for the command line, where this system has one.
async fn listen_for_commands(
    calls: mpsc::UnboundedSender<control::Call>,
) -> Option<tokio::task::JoinHandle<()>> {
    match control::listen(calls).await {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::warn!(error = %e, "no control channel: commands will not reach this agent");
            None
        }
    }
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
    crate::agent::resume::watch(commands_tx.clone());
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
