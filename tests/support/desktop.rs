//! The desktop part of a [`Session`]: an X display (Xvfb), the notification server (dunst) and
//! a StatusNotifierItem host (status-notifier-watcher + gtk-sni-tray-standalone), and the
//! helpers that drive them the way a person would: read and click balloons, read the tray
//! item's tooltip and menu, click a menu item, take a screenshot.
//!
//! Tests of the tray and the balloons must talk to the same services a person's desktop runs,
//! never to the developer's own session; the core of the session (bus, keyring, environment,
//! process plumbing) is in the parent module.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use super::Session;

pub const NOTIFICATIONS_NAME: &str = "org.freedesktop.Notifications";
pub const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";

/// The dunstrc of notes/headless-desktop.md (a left click runs the default action), with a
/// readable font, a frame and plain colours, so screenshots show what a person would read.
/// dunst 1.9 keeps no urgency in its history: the `mark_*` rules write it into the category.
const DUNSTRC: &str = "[global]
    width = 340
    height = 120
    origin = top-right
    offset = 10x10
    idle_threshold = 0
    history_length = 50
    font = DejaVu Sans 10
    markup = full
    format = \"<b>%s</b>\\n%b\"
    padding = 10
    horizontal_padding = 12
    frame_width = 2
    frame_color = \"#4c566a\"
    separator_color = frame
    icon_position = off
    show_indicators = no
    mouse_left_click = do_action, close_current
    mouse_right_click = close_current
[urgency_low]
    background = \"#ffffff\"
    foreground = \"#1d1d1d\"
    timeout = 10
[urgency_normal]
    background = \"#ffffff\"
    foreground = \"#1d1d1d\"
    timeout = 10
[urgency_critical]
    background = \"#fff4f2\"
    foreground = \"#1d1d1d\"
    frame_color = \"#c0392b\"
    timeout = 0
[mark_low]
    msg_urgency = low
    set_category = urgency:LOW
[mark_normal]
    msg_urgency = normal
    set_category = urgency:NORMAL
[mark_critical]
    msg_urgency = critical
    set_category = urgency:CRITICAL
";

/// The (program, Debian package) pairs the desktop components need.
pub(super) fn programs(x: bool, dunst: bool, tray: bool) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    if x {
        wanted.extend([
            ("Xvfb", "xvfb"),
            ("xauth", "xauth"),
            ("xdpyinfo", "x11-utils"),
            ("import", "imagemagick"),
            ("xdotool", "xdotool"),
        ]);
    }
    if dunst {
        wanted.extend([
            ("dunst", "dunst"),
            ("dunstctl", "dunst"),
            ("notify-send", "libnotify-bin"),
        ]);
    }
    if tray {
        wanted.extend([
            ("gtk-sni-tray-standalone", "haskell-gtk-sni-tray-utils"),
            (
                "status-notifier-watcher",
                "haskell-status-notifier-item-utils",
            ),
        ]);
    }
    wanted
}

impl Session {
    /// Xvfb on a display number it picks itself (-displayfd), so parallel tests never collide.
    pub(super) fn start_x(&mut self, (width, height): (u32, u32)) {
        let mut cmd = self.command("Xvfb");
        cmd.args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg(format!("{width}x{height}x24"));
        let line = self.start_announcing("Xvfb", cmd);
        let display: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb printed no display number: {line:?}"));
        self.display = Some(display);
        self.env
            .push(("DISPLAY".into(), format!(":{display}").into()));
        self.wait_until("the X display", || {
            self.command("xdpyinfo")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    }

    pub(super) fn start_dunst(&mut self) {
        let rc = self.path("dunstrc");
        fs::write(&rc, DUNSTRC).expect("write dunstrc");
        let mut cmd = self.command("dunst");
        cmd.arg("-config").arg(&rc);
        self.start_component("dunst", cmd);
        self.wait_for_name(NOTIFICATIONS_NAME);
    }

    /// The watcher runs as its own process first, then the host registers with it:
    /// `gtk-sni-tray-standalone --watcher` races its in-process watcher and dies about one
    /// start in three ("UnknownObject", Main.hs:177).
    /// Starts the tray host (a panel): at the start of the session, or later in a test.
    pub fn start_tray_host(&mut self) {
        let cmd = self.command("status-notifier-watcher");
        self.start_component("status-notifier-watcher", cmd);
        self.wait_for_name(WATCHER_NAME);
        let mut cmd = self.command("gtk-sni-tray-standalone");
        cmd.args(["--bottom", "--size", "40"]);
        self.start_component("gtk-sni-tray-standalone", cmd);
        self.wait_until("the tray host registered with the watcher", || {
            self.watcher_property("IsStatusNotifierHostRegistered") == Value::Bool(true)
        });
    }

    fn watcher_property(&self, property: &str) -> Value {
        let out = self.output(
            "busctl",
            &[
                "--user",
                "--json=short",
                "get-property",
                WATCHER_NAME,
                "/StatusNotifierWatcher",
                WATCHER_NAME,
                property,
            ],
        );
        if !out.status.success() {
            return Value::Null;
        }
        serde_json::from_slice::<Value>(&out.stdout).map_or(Value::Null, |v| v["data"].clone())
    }

    // ----- balloons (dunst) -----------------------------------------------------------------

    /// `dunstctl history`: `{"type":"aa{sv}","data":[[{"summary":{"data":..},..}]]}`.
    pub fn dunst_history(&self) -> Value {
        serde_json::from_str(&self.run_ok("dunstctl", &["history"]))
            .expect("dunstctl history is JSON")
    }

    /// The summaries (titles) of the balloons in dunst's history, newest first.
    pub fn dunst_summaries(&self) -> Vec<String> {
        let history = self.dunst_history();
        history["data"][0]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|n| n["summary"]["data"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The balloons in dunst's history (closed ones), newest first.
    pub fn dunst_balloons(&self) -> Vec<Shown> {
        let history = self.dunst_history();
        let text = |n: &Value, key: &str| n[key]["data"].as_str().unwrap_or_default().to_string();
        history["data"][0]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|n| Shown {
                        summary: text(n, "summary"),
                        body: text(n, "body"),
                        urgency: text(n, "category")
                            .strip_prefix("urgency:")
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `count` balloons are on screen.
    pub fn wait_displayed(&self, count: usize) {
        self.wait_until(&format!("{count} balloon(s) on screen"), || {
            self.dunst_displayed() == count
        });
    }

    /// How many balloons are on screen now.
    pub fn dunst_displayed(&self) -> usize {
        self.run_ok("dunstctl", &["count", "displayed"])
            .trim()
            .parse()
            .expect("dunstctl count is a number")
    }

    /// What a click on the newest balloon does: its default action.
    pub fn dunst_action(&self) {
        self.run_ok("dunstctl", &["action", "0"]);
    }

    /// What the X on the newest balloon does: the application sees "dismissed".
    pub fn dunst_close(&self) {
        self.run_ok("dunstctl", &["close"]);
    }

    // ----- tray (StatusNotifierItem + com.canonical.dbusmenu) -------------------------------

    /// The items registered with the watcher, as the watcher lists them (a bus name, or
    /// `name/path`).
    pub fn tray_items(&self) -> Vec<String> {
        self.watcher_property("RegisteredStatusNotifierItems")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until exactly one item is registered and returns it.
    pub fn wait_for_tray_item(&self) -> String {
        let mut found = Vec::new();
        self.wait_until("a tray item registered with the watcher", || {
            found = self.tray_items();
            !found.is_empty()
        });
        assert_eq!(found.len(), 1, "expected one tray item, found {found:?}");
        found.remove(0)
    }

    /// One property of a tray item (org.kde.StatusNotifierItem), as busctl's JSON `data`.
    pub fn tray_property(&self, item: &str, property: &str) -> Value {
        let (name, path) = split_item(item);
        let out = self.run_ok(
            "busctl",
            &[
                "--user",
                "--json=short",
                "get-property",
                name,
                path,
                "org.kde.StatusNotifierItem",
                property,
            ],
        );
        let v: Value = serde_json::from_str(&out).expect("busctl JSON");
        v["data"].clone()
    }

    /// The tooltip's title (what a person reads when hovering), with its description on a
    /// second line when there is one.
    pub fn tray_tooltip(&self, item: &str) -> String {
        // ToolTip is (sa(iiay)ss): icon name, icon pixmaps, title, description.
        let v = self.tray_property(item, "ToolTip");
        let title = v[2].as_str().unwrap_or_default();
        let description = v[3].as_str().unwrap_or_default();
        if description.is_empty() {
            title.to_string()
        } else {
            format!("{title}\n{description}")
        }
    }

    /// The sizes (width, height) of the item's IconPixmap renditions.
    pub fn tray_icon_sizes(&self, item: &str) -> Vec<(i64, i64)> {
        let v = self.tray_property(item, "IconPixmap");
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| (p[0].as_i64().unwrap_or(0), p[1].as_i64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A left click on the tray icon.
    pub fn tray_activate(&self, item: &str) {
        let (name, path) = split_item(item);
        self.run_ok(
            "busctl",
            &[
                "--user",
                "call",
                name,
                path,
                "org.kde.StatusNotifierItem",
                "Activate",
                "ii",
                "0",
                "0",
            ],
        );
    }

    fn menu_path(&self, item: &str) -> String {
        self.tray_property(item, "Menu")
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "/MenuBar".to_string())
    }

    /// The labels of the menu, in order, separators left out.
    pub fn menu_labels(&self, item: &str) -> Vec<String> {
        self.menu_entries(item)
            .into_iter()
            .map(|e| e.label)
            .collect()
    }

    /// The menu, flattened in order: (id, label without mnemonic underscores, enabled).
    /// Separators are left out.
    pub fn menu_layout(&self, item: &str) -> Vec<(i32, String, bool)> {
        self.menu_entries(item)
            .into_iter()
            .map(|e| (e.id, e.label, e.enabled))
            .collect()
    }

    /// The menu with toggle states, flattened in order; separators are left out.
    pub fn menu_entries(&self, item: &str) -> Vec<MenuEntry> {
        let (name, _) = split_item(item);
        let menu = self.menu_path(item);
        let out = self.run_ok(
            "busctl",
            &[
                "--user",
                "--json=short",
                "call",
                "--", // "-1" below is an argument, not an option
                name,
                &menu,
                "com.canonical.dbusmenu",
                "GetLayout",
                "iias",
                "0",
                "-1",
                "0",
            ],
        );
        let v: Value = serde_json::from_str(&out).expect("busctl JSON");
        // data = [revision, (id, props, children)]
        let mut entries = Vec::new();
        flatten_menu(&v["data"][1], &mut entries, true);
        entries
    }

    /// Clicks the menu item whose label is `label` (mnemonic underscores ignored); panics if
    /// there is none.
    pub fn menu_click(&self, item: &str, label: &str) {
        let entries = self.menu_entries(item);
        let entry = entries
            .iter()
            .find(|e| e.label == label)
            .unwrap_or_else(|| panic!("no menu item {label:?} in {entries:?}"));
        let (name, _) = split_item(item);
        let menu = self.menu_path(item);
        let id = entry.id.to_string();
        // A click is an event: "Quit" may end the item before it could reply.
        self.run_ok(
            "busctl",
            &[
                "--user",
                "--expect-reply=no",
                "call",
                name,
                &menu,
                "com.canonical.dbusmenu",
                "Event",
                "isvu",
                &id,
                "clicked",
                "i",
                "0",
                "0",
            ],
        );
    }

    // ----- screen ------------------------------------------------------------------

    /// `import -window root`: the whole virtual screen as PNG.
    pub fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the screenshot's directory");
        }
        let path = path.to_str().expect("a UTF-8 screenshot path");
        self.run_ok("import", &["-window", "root", path]);
    }

    /// A part of the screen, e.g. the tray bar at the bottom.
    pub fn screenshot_region(&self, path: impl AsRef<Path>, x: u32, y: u32, w: u32, h: u32) {
        let path = path.as_ref();
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the screenshot's directory");
        }
        let path = path.to_str().expect("a UTF-8 screenshot path");
        let geometry = format!("{w}x{h}+{x}+{y}");
        self.run_ok("import", &["-window", "root", "-crop", &geometry, path]);
    }
}

/// One balloon as dunst kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub summary: String,
    pub body: String,
    /// "LOW", "NORMAL" or "CRITICAL".
    pub urgency: String,
}

/// One entry of a dbusmenu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    /// `Some(true/false)` for checkboxes and radio items.
    pub checked: Option<bool>,
}

/// Walks `(id, props, children)` as busctl prints it; the root itself is not an entry.
fn flatten_menu(node: &Value, out: &mut Vec<MenuEntry>, is_root: bool) {
    let props = &node[1];
    let prop = |key: &str| props.get(key).map(|p| &p["data"]);
    if !is_root {
        let is_separator = prop("type").and_then(Value::as_str) == Some("separator");
        let visible = prop("visible").and_then(Value::as_bool).unwrap_or(true);
        if !is_separator && visible {
            out.push(MenuEntry {
                id: node[0].as_i64().unwrap_or(-1) as i32,
                label: strip_mnemonic(prop("label").and_then(Value::as_str).unwrap_or_default()),
                enabled: prop("enabled").and_then(Value::as_bool).unwrap_or(true),
                checked: prop("toggle-type")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(|_| prop("toggle-state").and_then(Value::as_i64) == Some(1)),
            });
        }
    }
    if let Some(children) = node[2].as_array() {
        for child in children {
            // Each child is a variant: {"type":"(ia{sv}av)","data":[...]}.
            flatten_menu(&child["data"], out, false);
        }
    }
}

/// dbusmenu marks mnemonics with `_`; `__` is a literal underscore.
fn strip_mnemonic(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `name/path` or `name` (path `/StatusNotifierItem`).
fn split_item(item: &str) -> (&str, &str) {
    match item.find('/') {
        Some(i) => (&item[..i], &item[i..]),
        None => (item, "/StatusNotifierItem"),
    }
}
