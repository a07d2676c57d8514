//! Linux and the BSDs: the tray as a StatusNotifierItem on the session bus (ksni backend), or
//! through libappindicator and a GTK main loop (feature `gtk-tray`, for old XEmbed trays).
//!
//! A StatusNotifierItem needs a host: a panel that runs `org.kde.StatusNotifierWatcher` (KDE,
//! XFCE, Cinnamon, waybar, GNOME with the AppIndicator extension). Plain GNOME has none; then
//! the tray says so once and the agent goes on with balloons only. Started at login, the agent
//! may be there before the panel: the tray then waits (for the bus's signal, without polling)
//! and shows its icon as soon as a host appears.

use tokio::sync::{mpsc, watch};

use super::widgets::{install_handlers, remove_handlers, Widgets};
use super::{TrayError, TrayExit};
use crate::report::view::{Command, View};

/// Runs the tray on the calling thread until the agent drops its `View` sender.
pub fn run(
    views: watch::Receiver<View>,
    commands: mpsc::UnboundedSender<Command>,
) -> Result<TrayExit, TrayError> {
    #[cfg(all(feature = "gtk-tray", not(feature = "ksni-tray")))]
    {
        gtk_loop::run(views, commands)
    }
    #[cfg(not(all(feature = "gtk-tray", not(feature = "ksni-tray"))))]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TrayError::Create(e.to_string()))?;
        runtime.block_on(async move {
            let mut views = views;
            if let Err(why) = host_present() {
                tracing::warn!("no tray icon: {why}; notifications only until a tray host starts");
                if !host_appeared(&mut views).await {
                    return Ok(TrayExit::NoHost);
                }
                tracing::info!("a tray host started: showing the tray icon");
            }
            follow_views(views, commands).await
        })
    }
}

/// The name a tray host owns on the session bus.
#[cfg(not(all(feature = "gtk-tray", not(feature = "ksni-tray"))))]
const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Whether a tray host (StatusNotifierWatcher) is on the session bus; `Err` says why not.
#[cfg(not(all(feature = "gtk-tray", not(feature = "ksni-tray"))))]
fn host_present() -> Result<(), String> {
    let bus = zbus::blocking::Connection::session()
        .map_err(|e| format!("the session bus is not reachable ({e})"))?;
    let dbus = zbus::blocking::fdo::DBusProxy::new(&bus).map_err(|e| e.to_string())?;
    let name = zbus::names::BusName::try_from(WATCHER).map_err(|e| e.to_string())?;
    match dbus.name_has_owner(name) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "the desktop has no tray host ({WATCHER} is not on the session bus)"
        )),
        Err(e) => Err(format!("cannot ask the session bus for a tray host ({e})")),
    }
}

/// Waits until a tray host takes its name on the bus (true), or the agent stops first, or the
/// bus cannot tell (false).
#[cfg(not(all(feature = "gtk-tray", not(feature = "ksni-tray"))))]
async fn host_appeared(views: &mut watch::Receiver<View>) -> bool {
    use futures_lite::StreamExt;

    let watched = async {
        let bus = zbus::Connection::session().await?;
        let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
        let mut changes = dbus
            .receive_name_owner_changed_with_args(&[(0, WATCHER)])
            .await?;
        // Subscribed first, then asked: a host that started in between is not missed.
        let name = zbus::names::BusName::try_from(WATCHER)?;
        if dbus.name_has_owner(name).await? {
            return Ok(());
        }
        while let Some(change) = changes.next().await {
            if change.args().is_ok_and(|args| args.new_owner().is_some()) {
                return Ok(());
            }
        }
        Err(zbus::Error::Failure("the session bus went away".into()))
    };
    let agent_stopped = async { while views.changed().await.is_ok() {} };
    tokio::select! {
        watched = watched => match watched {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot wait for a tray host");
                false
            }
        },
        () = agent_stopped => false,
    }
}

/// Shows the first view, then each new one, until the agent stops.
#[cfg(not(all(feature = "gtk-tray", not(feature = "ksni-tray"))))]
async fn follow_views(
    mut views: watch::Receiver<View>,
    commands: mpsc::UnboundedSender<Command>,
) -> Result<TrayExit, TrayError> {
    let first = views.borrow_and_update().clone();
    let mut widgets = Widgets::new(&first)?;
    install_handlers(views.clone(), commands);
    let mut result = Ok(TrayExit::Closed);
    while views.changed().await.is_ok() {
        let view = views.borrow_and_update().clone();
        if let Err(e) = widgets.update(&view) {
            result = Err(e);
            break;
        }
    }
    remove_handlers();
    result
}

/// libappindicator needs GTK initialised and its main loop running on the tray's thread.
#[cfg(all(feature = "gtk-tray", not(feature = "ksni-tray")))]
mod gtk_loop {
    use std::cell::RefCell;
    use std::time::Duration;

    use gtk::glib;

    use super::*;

    /// How often the GTK loop looks for a new view (GTK cannot await a tokio channel).
    const POLL: Duration = Duration::from_millis(200);

    pub fn run(
        mut views: watch::Receiver<View>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Result<TrayExit, TrayError> {
        gtk::init().map_err(|e| TrayError::Create(format!("GTK: {e}")))?;
        let first = views.borrow_and_update().clone();
        let widgets = RefCell::new(Widgets::new(&first)?);
        install_handlers(views.clone(), commands);
        let failure = std::rc::Rc::new(RefCell::new(None));
        let failed = failure.clone();
        glib::timeout_add_local(POLL, move || match views.has_changed() {
            Ok(false) => glib::ControlFlow::Continue,
            Ok(true) => {
                let view = views.borrow_and_update().clone();
                if let Err(e) = widgets.borrow_mut().update(&view) {
                    *failed.borrow_mut() = Some(e);
                    gtk::main_quit();
                    return glib::ControlFlow::Break;
                }
                glib::ControlFlow::Continue
            }
            Err(_) => {
                gtk::main_quit();
                glib::ControlFlow::Break
            }
        });
        gtk::main();
        remove_handlers();
        let failed = failure.borrow_mut().take();
        match failed {
            Some(e) => Err(e),
            None => Ok(TrayExit::Closed),
        }
    }
}
