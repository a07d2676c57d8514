//! The tray icon: the agent's face on the desktop, and the only module that knows a GUI event
//! loop.
//!
//! The tray never calls into the agent. It watches [`View`]s (icon, tooltip and menu follow the
//! latest one) and sends [`Command`]s (menu items, left click), so the GUI thread and the async
//! agent stay apart. [`run_tray`] blocks until the agent drops its `View` sender:
//! - Linux and the BSDs: a StatusNotifierItem over D-Bus (tray-icon's `ksni` backend, default)
//!   or libappindicator (feature `gtk-tray`). Runs on any thread. With no tray host on the
//!   session bus (plain GNOME, or a panel not started yet) it says so once and waits for one;
//!   the agent carries on with balloons meanwhile, and [`TrayExit::NoHost`] is returned when the
//!   agent stops before a host appeared.
//! - Windows and macOS: the OS requires the tray on the main thread's event loop (tao), so the
//!   binary hands `run_tray` the main thread and runs tokio on worker threads
//!   ([`NEEDS_MAIN_THREAD`]).

mod icons;
mod menu;
mod widgets;

#[cfg(any(windows, target_os = "macos"))]
mod event_loop;
#[cfg(freedesktop)]
mod linux;

use tokio::sync::{mpsc, watch};

use crate::report::view::{Command, View};

pub use icons::{rgba as icon_rgba, IconKind, Rgba, SIZES as ICON_SIZES, TRAY_ICON_SIZE};
pub use menu::{MenuEntry, MenuModel};

/// Whether [`run_tray`] must run on the process's main thread (Windows and macOS).
pub const NEEDS_MAIN_THREAD: bool = cfg!(any(windows, target_os = "macos"));

/// How the tray ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayExit {
    /// The agent stopped (it dropped its `View` sender).
    Closed,
    /// No tray host ran (no `org.kde.StatusNotifierWatcher` on the session bus) until the agent
    /// stopped: it ran with balloons only.
    NoHost,
}

/// Why the tray could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    #[error("cannot create the tray icon: {0}")]
    Create(String),
    #[error("a tray icon image is broken: {0}")]
    Icon(String),
}

/// Shows the tray icon until the agent stops; see the module documentation for threads.
pub fn run_tray(
    views: watch::Receiver<View>,
    commands: mpsc::UnboundedSender<Command>,
) -> Result<TrayExit, TrayError> {
    #[cfg(freedesktop)]
    {
        linux::run(views, commands)
    }
    #[cfg(any(windows, target_os = "macos"))]
    {
        event_loop::run(views, commands)
    }
}
