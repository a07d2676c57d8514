//! The tray-icon and muda objects that show a [`View`], and the handlers that turn clicks into
//! [`Command`]s. Shared by every platform's event loop.

use tokio::sync::{mpsc, watch};
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

use super::icons::{self, IconKind, TRAY_ICON_SIZE};
use super::menu::{self, MenuEntry, MenuModel};
use super::TrayError;
use crate::report::view::{Command, View};

/// The name hosts show for the item (tooltip title, accessibility).
const TITLE: &str = "Sign-in Assistant";

/// The live tray icon and the menu items that change.
pub struct Widgets {
    tray: TrayIcon,
    status: MenuItem,
    account: MenuItem,
    start_at_login: CheckMenuItem,
    icon: IconKind,
    model: MenuModel,
}

impl Widgets {
    /// Creates the tray icon showing `view`.
    pub fn new(view: &View) -> Result<Widgets, TrayError> {
        let model = MenuModel::from_view(view);
        let item = |entry: MenuEntry, label: &str, enabled: bool| {
            MenuItem::with_id(MenuId::new(entry.id()), label, enabled, None)
        };
        let status = item(MenuEntry::Status, &model.status, false);
        let account = item(MenuEntry::Account, model.account, true);
        let start_at_login = CheckMenuItem::with_id(
            MenuId::new(MenuEntry::StartAtLogin.id()),
            menu::START_AT_LOGIN,
            model.start_at_login_enabled,
            model.start_at_login_checked,
            None,
        );
        let menu = Menu::new();
        menu.append_items(&[
            &status,
            &PredefinedMenuItem::separator(),
            &item(MenuEntry::ChangePassword, menu::CHANGE_PASSWORD, true),
            &item(MenuEntry::CheckNow, menu::CHECK_NOW, true),
            &account,
            &start_at_login,
            &PredefinedMenuItem::separator(),
            &item(MenuEntry::Quit, menu::QUIT, true),
        ])
        .map_err(|e| TrayError::Create(e.to_string()))?;
        let icon = IconKind::for_view(view);
        let tray = TrayIconBuilder::new()
            .with_id("signin-assistant")
            .with_title(TITLE)
            .with_tooltip(&view.summary)
            .with_icon(tray_icon(icon)?)
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(false)
            .build()
            .map_err(|e| TrayError::Create(e.to_string()))?;
        Ok(Widgets {
            tray,
            status,
            account,
            start_at_login,
            icon,
            model,
        })
    }

    /// Shows a new view; only what changed is touched.
    pub fn update(&mut self, view: &View) -> Result<(), TrayError> {
        let icon = IconKind::for_view(view);
        if icon != self.icon {
            self.tray
                .set_icon(Some(tray_icon(icon)?))
                .map_err(|e| TrayError::Create(e.to_string()))?;
            self.icon = icon;
        }
        let model = MenuModel::from_view(view);
        if model.status != self.model.status {
            self.tray
                .set_tooltip(Some(&model.status))
                .map_err(|e| TrayError::Create(e.to_string()))?;
            self.status.set_text(&model.status);
        }
        if model.account != self.model.account {
            self.account.set_text(model.account);
        }
        // Always re-assert the checkbox: some toolkits toggle it on click before the agent
        // has agreed.
        self.start_at_login
            .set_enabled(model.start_at_login_enabled);
        self.start_at_login
            .set_checked(model.start_at_login_checked);
        self.model = model;
        Ok(())
    }
}

fn tray_icon(kind: IconKind) -> Result<Icon, TrayError> {
    let pixels = icons::rgba(kind, TRAY_ICON_SIZE).map_err(TrayError::Icon)?;
    Icon::from_rgba(pixels.data, pixels.width, pixels.height)
        .map_err(|e| TrayError::Icon(e.to_string()))
}

/// Routes menu clicks and the left click on the icon to `commands`. The handlers run on the
/// toolkit's thread; they read the latest view to know what the menu showed.
pub fn install_handlers(views: watch::Receiver<View>, commands: mpsc::UnboundedSender<Command>) {
    let menu_commands = commands.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        let Some(entry) = MenuEntry::from_id(event.id().as_ref()) else {
            return;
        };
        let command = entry.command(&views.borrow());
        if let Some(command) = command {
            tracing::debug!(?command, "tray menu");
            let _ = menu_commands.send(command);
        }
    }));
    TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
        if let TrayIconEvent::Click {
            button: MouseButton::Left,
            button_state: MouseButtonState::Up,
            ..
        } = event
        {
            let _ = commands.send(Command::ShowStatus);
        }
    }));
}

/// Detaches the handlers (they hold the command sender).
pub fn remove_handlers() {
    MenuEvent::set_event_handler(None::<fn(MenuEvent)>);
    TrayIconEvent::set_event_handler(None::<fn(TrayIconEvent)>);
}
