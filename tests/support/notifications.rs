//! A notification server of the test's own on a [`Session`]'s bus
//! (org.freedesktop.Notifications), for what dunst will not do: never answer `Notify` (a hung
//! server), then answer again; it keeps what it was asked to show and ends balloons on the
//! test's word (the signals a real server sends).

use std::sync::{Arc, Mutex};

use super::Session;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// One `Notify` that was answered: its id, summary and body as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    pub id: u32,
    pub summary: String,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    hung: bool,
    /// `Notify` calls received (answered or not).
    asked: usize,
    shown: Vec<Notified>,
}

struct Server(Arc<Mutex<Shared>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    fn get_capabilities(&self) -> Vec<String> {
        ["actions", "body", "body-markup"]
            .map(str::to_string)
            .to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        let text = |s: &str| s.to_string();
        (text("test-server"), text("tests"), text("1"), text("1.2"))
    }

    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let hung = {
            let mut shared = self.0.lock().unwrap();
            shared.asked += 1;
            shared.hung
        };
        if hung {
            std::future::pending::<()>().await;
        }
        let mut shared = self.0.lock().unwrap();
        let id = shared.shown.len() as u32 + 1;
        shared.shown.push(Notified { id, summary, body });
        id
    }

    fn close_notification(&self, _id: u32) {}
}

/// The server, running until dropped.
pub struct Notifications {
    shared: Arc<Mutex<Shared>>,
    connection: zbus::blocking::Connection,
}

impl Notifications {
    /// Takes the notification name on the session's bus; `hung`: `Notify` is never answered.
    pub fn start(session: &Session, hung: bool) -> Notifications {
        let address = session
            .var("DBUS_SESSION_BUS_ADDRESS")
            .and_then(|a| a.to_str())
            .expect("the session's bus address")
            .to_string();
        let shared = Arc::new(Mutex::new(Shared {
            hung,
            ..Shared::default()
        }));
        let connection = zbus::blocking::connection::Builder::address(address.as_str())
            .and_then(|b| b.serve_at(PATH, Server(Arc::clone(&shared))))
            .and_then(|b| b.name(NAME))
            .and_then(|b| b.build())
            .expect("serve org.freedesktop.Notifications on the session's bus");
        Notifications { shared, connection }
    }

    /// From now on `Notify` is answered (calls already waiting stay unanswered).
    pub fn answer(&self) {
        self.shared.lock().unwrap().hung = false;
    }

    /// How many `Notify` calls came, answered or not.
    pub fn asked(&self) -> usize {
        self.shared.lock().unwrap().asked
    }

    /// The balloons shown (answered), oldest first.
    pub fn shown(&self) -> Vec<Notified> {
        self.shared.lock().unwrap().shown.clone()
    }

    /// Ends balloon `id` as the X of a real server does (reason 2: dismissed by the user).
    pub fn dismiss(&self, id: u32) {
        self.connection
            .emit_signal(None::<&str>, PATH, NAME, "NotificationClosed", &(id, 2u32))
            .expect("emit NotificationClosed");
    }
}
