//! The desktop's services the agent shows itself through: the notification server (balloons,
//! and whether a click on one can open the portal) and the tray host. On Linux and the BSDs
//! both are D-Bus services of the session, asked here directly; Windows and macOS build them
//! into the OS, so there is nothing to look for. This is the doctor's one platform-specific
//! file.

use super::Item;

const NOTIFICATIONS: &str = "notifications";
const TRAY: &str = "tray";

pub async fn check() -> Vec<Item> {
    match tokio::task::spawn_blocking(platform::check).await {
        Ok(items) => items,
        Err(e) => vec![Item::problem(
            NOTIFICATIONS,
            format!("the check stopped: {e}"),
            "run `signin-assistant doctor -v` and report what it says",
        )],
    }
}

#[cfg(freedesktop)]
mod platform {
    use zbus::blocking::{fdo::DBusProxy, Connection, Proxy};

    use super::{Item, NOTIFICATIONS, TRAY};

    const SERVER: &str = "org.freedesktop.Notifications";
    const WATCHER: &str = "org.kde.StatusNotifierWatcher";

    pub fn check() -> Vec<Item> {
        let bus = match Connection::session() {
            Ok(bus) => bus,
            Err(e) => {
                let why = format!("the desktop's session bus is not reachable ({e})");
                return vec![
                    Item::problem(NOTIFICATIONS, format!("{why}: no balloons"), LOG_IN),
                    Item::warning(TRAY, format!("{why}: no tray icon"), LOG_IN),
                ];
            }
        };
        vec![notifications(&bus), tray(&bus)]
    }

    const LOG_IN: &str =
        "run signin-assistant inside a desktop session (not over SSH or from cron)";

    fn notifications(bus: &Connection) -> Item {
        match server(bus) {
            Ok((name, version, actions)) if actions => Item::ok(
                NOTIFICATIONS,
                format!("{name} {version} shows balloons, and a click on one opens the portal"),
            ),
            Ok((name, version, _)) => Item::warning(
                NOTIFICATIONS,
                format!("{name} {version} shows balloons but cannot report clicks on them"),
                "use \"Change password…\" in the tray menu to open the portal",
            ),
            Err(e) => Item::problem(
                NOTIFICATIONS,
                format!("no notification server answers on the session bus ({e}): warnings go nowhere a person sees them"),
                "use a desktop with notifications (GNOME, KDE, XFCE with xfce4-notifyd, or dunst)",
            ),
        }
    }

    /// The server's name, version and whether it supports actions (clicks).
    fn server(bus: &Connection) -> zbus::Result<(String, String, bool)> {
        let proxy = Proxy::new(bus, SERVER, "/org/freedesktop/Notifications", SERVER)?;
        let (name, _vendor, version, _spec): (String, String, String, String) =
            proxy.call("GetServerInformation", &())?;
        let capabilities: Vec<String> = proxy.call("GetCapabilities", &())?;
        Ok((name, version, capabilities.iter().any(|c| c == "actions")))
    }

    fn tray(bus: &Connection) -> Item {
        let owned = DBusProxy::new(bus).and_then(|dbus| {
            let name = zbus::names::BusName::try_from(WATCHER)?;
            dbus.name_has_owner(name).map_err(zbus::Error::from)
        });
        match owned {
            Ok(true) => Item::ok(TRAY, format!("a tray host runs ({WATCHER})")),
            Ok(false) => Item::warning(
                TRAY,
                format!("no tray host runs ({WATCHER} is not on the session bus): balloons only, no tray icon"),
                "GNOME needs the AppIndicator extension; KDE, XFCE, Cinnamon and waybar have a tray",
            ),
            Err(e) => Item::warning(
                TRAY,
                format!("cannot ask the session bus for a tray host ({e})"),
                "run `signin-assistant doctor -v` and report what it says",
            ),
        }
    }
}

#[cfg(not(freedesktop))]
mod platform {
    use super::{Item, NOTIFICATIONS, TRAY};

    pub fn check() -> Vec<Item> {
        vec![
            Item::ok(NOTIFICATIONS, "built into the OS (not checked)"),
            Item::ok(TRAY, "built into the OS (not checked)"),
        ]
    }
}
