//! What the tray menu says and what each entry does, as pure functions of the [`View`].
//!
//! Kept apart from the widgets so the rules ("Sign in…" or "Sign out", "Start at login" greyed
//! out until autostart exists) are unit-tested without a desktop.

use crate::report::view::{Command, View};

/// The entries of the menu, top to bottom (a separator follows the status line and precedes
/// "Quit").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuEntry {
    /// Disabled: the summary, e.g. "Password expires in 10 days (Thu 4 Dec)".
    Status,
    ChangePassword,
    CheckNow,
    /// "Sign in…", "Sign in with browser…" (when only that helps) or "Sign out" ("Set up…"
    /// until the product is set up).
    Account,
    /// Checkbox.
    StartAtLogin,
    Quit,
}

impl MenuEntry {
    pub const ALL: [MenuEntry; 6] = [
        MenuEntry::Status,
        MenuEntry::ChangePassword,
        MenuEntry::CheckNow,
        MenuEntry::Account,
        MenuEntry::StartAtLogin,
        MenuEntry::Quit,
    ];

    /// A stable id for the widget toolkit.
    pub fn id(self) -> &'static str {
        match self {
            MenuEntry::Status => "status",
            MenuEntry::ChangePassword => "change-password",
            MenuEntry::CheckNow => "check-now",
            MenuEntry::Account => "account",
            MenuEntry::StartAtLogin => "start-at-login",
            MenuEntry::Quit => "quit",
        }
    }

    pub fn from_id(id: &str) -> Option<MenuEntry> {
        MenuEntry::ALL.into_iter().find(|e| e.id() == id)
    }

    /// What choosing this entry asks of the agent, given what the menu showed.
    pub fn command(self, view: &View) -> Option<Command> {
        match self {
            MenuEntry::Status => None,
            MenuEntry::ChangePassword => Some(Command::ChangePassword),
            MenuEntry::CheckNow => Some(Command::CheckNow),
            MenuEntry::Account if view.not_set_up.is_some() => Some(Command::SetUp),
            MenuEntry::Account if view.needs_browser => Some(Command::SignInWithBrowser),
            MenuEntry::Account if view.signed_in => Some(Command::SignOut),
            MenuEntry::Account => Some(Command::SignIn),
            MenuEntry::StartAtLogin => view.autostart.map(|on| Command::SetAutostart(!on)),
            MenuEntry::Quit => Some(Command::Quit),
        }
    }
}

/// The changing parts of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuModel {
    pub status: String,
    pub account: &'static str,
    pub start_at_login_enabled: bool,
    pub start_at_login_checked: bool,
}

/// Labels of the entries that never change.
pub const CHANGE_PASSWORD: &str = "Change password…";
pub const CHECK_NOW: &str = "Check now";
pub const SIGN_IN: &str = "Sign in…";
pub const SIGN_IN_WITH_BROWSER: &str = "Sign in with browser…";
pub const SIGN_OUT: &str = "Sign out";
pub const SET_UP: &str = "Set up…";
pub const START_AT_LOGIN: &str = "Start at login";
pub const QUIT: &str = "Quit";

impl MenuModel {
    pub fn from_view(view: &View) -> MenuModel {
        MenuModel {
            status: view.summary.clone(),
            account: match (&view.not_set_up, view.signed_in) {
                (Some(_), _) => SET_UP,
                (None, _) if view.needs_browser => SIGN_IN_WITH_BROWSER,
                (None, true) => SIGN_OUT,
                (None, false) => SIGN_IN,
            },
            start_at_login_enabled: view.autostart.is_some(),
            start_at_login_checked: view.autostart == Some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expiry::PasswordState;

    fn view(signed_in: bool, autostart: Option<bool>) -> View {
        View {
            state: PasswordState::Ok,
            urgent: false,
            expires_at: None,
            days_left: Some(40),
            summary: "Password expires in 40 days (Mon 12 Jan)".into(),
            signed_in,
            autostart,
            stale: false,
            needs_browser: false,
            not_set_up: None,
        }
    }

    #[test]
    fn account_entry_follows_sign_in_state() {
        let out = view(false, None);
        assert_eq!(MenuModel::from_view(&out).account, "Sign in…");
        assert_eq!(MenuEntry::Account.command(&out), Some(Command::SignIn));
        let signed = view(true, None);
        assert_eq!(MenuModel::from_view(&signed).account, "Sign out");
        assert_eq!(MenuEntry::Account.command(&signed), Some(Command::SignOut));
    }

    #[test]
    fn not_set_up_offers_set_up() {
        let v = View::not_set_up("the Entra application (client) id");
        let model = MenuModel::from_view(&v);
        assert_eq!(model.account, "Set up…");
        assert_eq!(
            model.status,
            "Not set up yet: needs the Entra application (client) id"
        );
        assert_eq!(MenuEntry::Account.command(&v), Some(Command::SetUp));
    }

    #[test]
    fn when_only_the_browser_helps_the_account_entry_offers_it() {
        for signed_in in [false, true] {
            let v = View {
                needs_browser: true,
                ..view(signed_in, None)
            };
            assert_eq!(MenuModel::from_view(&v).account, "Sign in with browser…");
            assert_eq!(
                MenuEntry::Account.command(&v),
                Some(Command::SignInWithBrowser)
            );
        }
    }

    #[test]
    fn start_at_login_is_greyed_out_until_autostart_exists() {
        let none = MenuModel::from_view(&view(true, None));
        assert!(!none.start_at_login_enabled && !none.start_at_login_checked);
        assert_eq!(MenuEntry::StartAtLogin.command(&view(true, None)), None);
        let on = MenuModel::from_view(&view(true, Some(true)));
        assert!(on.start_at_login_enabled && on.start_at_login_checked);
        assert_eq!(
            MenuEntry::StartAtLogin.command(&view(true, Some(true))),
            Some(Command::SetAutostart(false))
        );
        assert_eq!(
            MenuEntry::StartAtLogin.command(&view(true, Some(false))),
            Some(Command::SetAutostart(true))
        );
    }

    #[test]
    fn the_other_entries() {
        let v = view(true, None);
        assert_eq!(MenuModel::from_view(&v).status, v.summary);
        assert_eq!(MenuEntry::Status.command(&v), None);
        assert_eq!(
            MenuEntry::ChangePassword.command(&v),
            Some(Command::ChangePassword)
        );
        assert_eq!(MenuEntry::CheckNow.command(&v), Some(Command::CheckNow));
        assert_eq!(MenuEntry::Quit.command(&v), Some(Command::Quit));
        for entry in MenuEntry::ALL {
            assert_eq!(MenuEntry::from_id(entry.id()), Some(entry));
        }
    }
}
