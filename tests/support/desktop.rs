//! A real, isolated desktop session without a screen, for ONE test.
//!
//! Tests of the tray, the balloons and the keyring must talk to the same services a person's
//! desktop runs (a Secret Service, a notification server, a StatusNotifierItem host), never to
//! the developer's own session. [`Desktop`] starts them from Debian's packages in a temporary
//! HOME with its own XDG directories, its own D-Bus session bus (no service activation, so a
//! component left out is really absent) and its own X display, waits until each one owns its
//! bus name, and kills them all when dropped. [`Desktop::command`] gives a `Command` that sees
//! only this session; the helpers drive the session the way a person would (click a balloon,
//! click a tray menu item, take a screenshot) and read back what happened.
//!
//! Self-contained on purpose (std + serde_json + tempfile): include it from any test crate with
//! `mod support;` and `support::desktop::Desktop::builder()`.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one service may take to come up (they all take well under a second here).
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The password of the session's login keyring.
pub const DEFAULT_KEYRING_PASSWORD: &str = "desktop-test-keyring";
/// The bus names the harness waits for.
pub const SECRETS_NAME: &str = "org.freedesktop.secrets";
pub const NOTIFICATIONS_NAME: &str = "org.freedesktop.Notifications";
pub const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";

/// The dunstrc of notes/headless-desktop.md: a left click runs the default action.
const DUNSTRC: &str = "[global]
    width = 300
    height = 100
    origin = top-right
    offset = 10x10
    idle_threshold = 0
    history_length = 50
    mouse_left_click = do_action, close_current
    mouse_right_click = close_current
[urgency_normal]
    timeout = 10
";

/// Chooses the components of a [`Desktop`]; everything is on by default.
#[derive(Debug, Clone)]
pub struct DesktopBuilder {
    x: bool,
    keyring: Option<String>,
    dunst: bool,
    tray: bool,
    screen: (u32, u32),
}

impl Default for DesktopBuilder {
    fn default() -> Self {
        DesktopBuilder {
            x: true,
            keyring: Some(DEFAULT_KEYRING_PASSWORD.to_string()),
            dunst: true,
            tray: true,
            screen: (800, 600),
        }
    }
}

impl DesktopBuilder {
    /// Only the D-Bus session bus and the temporary HOME; add components with the setters.
    pub fn bare() -> Self {
        DesktopBuilder {
            x: false,
            keyring: None,
            dunst: false,
            tray: false,
            screen: (800, 600),
        }
    }

    /// An X display (Xvfb). Forced on by `dunst` and `tray`, which need one.
    pub fn x(mut self, on: bool) -> Self {
        self.x = on;
        self
    }

    /// gnome-keyring (secrets component), its login keyring unlocked with `password`; `None`
    /// leaves the session without a Secret Service.
    pub fn keyring(mut self, password: Option<&str>) -> Self {
        self.keyring = password.map(str::to_string);
        self
    }

    /// dunst, the notification server.
    pub fn dunst(mut self, on: bool) -> Self {
        self.dunst = on;
        self
    }

    /// status-notifier-watcher plus gtk-sni-tray-standalone (the tray host).
    pub fn tray(mut self, on: bool) -> Self {
        self.tray = on;
        self
    }

    /// The size of the virtual screen.
    pub fn screen(mut self, width: u32, height: u32) -> Self {
        self.screen = (width, height);
        self
    }

    /// Starts the session; panics with what to install or what failed.
    pub fn start(self) -> Desktop {
        Desktop::start(self)
    }
}

/// One running component: killed (with its process group) on drop.
struct Component {
    name: &'static str,
    child: Child,
}

/// A running headless session. Dropping it ends every process it started.
pub struct Desktop {
    dir: tempfile::TempDir,
    env: Vec<(String, OsString)>,
    /// In start order; killed in reverse order.
    components: Vec<Component>,
    display: Option<u32>,
    keyring_password: Option<String>,
}

impl Desktop {
    /// Everything on: X, unlocked keyring, dunst, tray host.
    pub fn builder() -> DesktopBuilder {
        DesktopBuilder::default()
    }

    fn start(options: DesktopBuilder) -> Desktop {
        let needs_x = options.x || options.dunst || options.tray;
        require_programs(&options, needs_x);

        let dir = tempfile::Builder::new()
            .prefix("desktop-")
            .tempdir()
            .expect("create the session's temporary directory");
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        let run = root.join("run");
        for d in [
            home.join(".config"),
            home.join(".local/share"),
            home.join(".local/state"),
            home.join(".cache"),
            run.clone(),
            root.join("bin"),
            root.join("logs"),
        ] {
            fs::create_dir_all(&d).expect("create a session directory");
        }
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700))
            .expect("chmod XDG_RUNTIME_DIR");

        let browser = root.join("bin/record-url.sh");
        write_executable(
            &browser,
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
                root.join("opened-urls.txt").display()
            ),
        );

        let mut desktop = Desktop {
            env: vec![
                ("HOME".into(), home.clone().into()),
                ("XDG_RUNTIME_DIR".into(), run.clone().into()),
                ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
                ("XDG_DATA_HOME".into(), home.join(".local/share").into()),
                ("XDG_STATE_HOME".into(), home.join(".local/state").into()),
                ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
                ("NO_AT_BRIDGE".into(), "1".into()),
                ("BROWSER".into(), browser.into()),
                ("LANG".into(), "C.UTF-8".into()),
                (
                    "PATH".into(),
                    std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
                ),
            ],
            dir,
            components: Vec::new(),
            display: None,
            keyring_password: None,
        };
        for passthrough in ["RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(passthrough) {
                desktop.env.push((passthrough.into(), v));
            }
        }

        desktop.start_bus();
        if needs_x {
            desktop.start_x(options.screen);
        }
        if let Some(password) = &options.keyring {
            desktop.start_keyring(password);
        }
        if options.dunst {
            desktop.start_dunst();
        }
        if options.tray {
            desktop.start_tray_host();
        }
        desktop
    }

    /// A private session bus with its own config: no activatable services, so nothing outside
    /// this session is started behind the test's back.
    fn start_bus(&mut self) {
        let socket = self.path("run/bus");
        let config = self.path("dbus-session.conf");
        fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write the bus config");
        let mut cmd = self.command("dbus-daemon");
        cmd.arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"]);
        let (child, line) = self.spawn_reading_line("dbus-daemon", cmd);
        self.components.push(Component {
            name: "dbus-daemon",
            child,
        });
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed no address: {address:?}"
        );
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.into()));
    }

    /// Xvfb on a display number it picks itself (-displayfd), so parallel tests never collide.
    fn start_x(&mut self, (width, height): (u32, u32)) {
        let mut cmd = self.command("Xvfb");
        cmd.args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg(format!("{width}x{height}x24"));
        let (child, line) = self.spawn_reading_line("Xvfb", cmd);
        self.components.push(Component {
            name: "Xvfb",
            child,
        });
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

    /// gnome-keyring with only the secrets component; the login keyring is created (first run)
    /// or unlocked with `password`, given on stdin.
    fn start_keyring(&mut self, password: &str) {
        let mut cmd = self.command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"])
            .arg(format!(
                "--control-directory={}",
                self.path("run/keyring").display()
            ))
            .stdin(Stdio::piped());
        let mut child = self.spawn("gnome-keyring-daemon", cmd);
        {
            let mut stdin = child.stdin.take().expect("keyring stdin");
            stdin
                .write_all(password.as_bytes())
                .expect("give the keyring its password");
        } // closing stdin ends the password
        self.components.push(Component {
            name: "gnome-keyring-daemon",
            child,
        });
        self.wait_for_name(SECRETS_NAME);
        self.keyring_password = Some(password.to_string());
    }

    fn start_dunst(&mut self) {
        let rc = self.path("dunstrc");
        fs::write(&rc, DUNSTRC).expect("write dunstrc");
        let mut cmd = self.command("dunst");
        cmd.stdin(Stdio::null()).arg("-config").arg(&rc);
        let child = self.spawn("dunst", cmd);
        self.components.push(Component {
            name: "dunst",
            child,
        });
        self.wait_for_name(NOTIFICATIONS_NAME);
    }

    /// The watcher runs as its own process first, then the host registers with it:
    /// `gtk-sni-tray-standalone --watcher` races its in-process watcher and dies about one
    /// start in three ("UnknownObject", Main.hs:177).
    fn start_tray_host(&mut self) {
        let mut cmd = self.command("status-notifier-watcher");
        cmd.stdin(Stdio::null());
        let child = self.spawn("status-notifier-watcher", cmd);
        self.components.push(Component {
            name: "status-notifier-watcher",
            child,
        });
        self.wait_for_name(WATCHER_NAME);

        let mut cmd = self.command("gtk-sni-tray-standalone");
        cmd.stdin(Stdio::null()).args(["--bottom", "--size", "40"]);
        let child = self.spawn("gtk-sni-tray-standalone", cmd);
        self.components.push(Component {
            name: "gtk-sni-tray-standalone",
            child,
        });
        self.wait_until("the tray host registered with the watcher", || {
            self.watcher_property("IsStatusNotifierHostRegistered") == Value::Bool(true)
        });
    }

    fn watcher_property(&self, property: &str) -> Value {
        let out = self.run(
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

    // ----- what tests use -------------------------------------------------------------------

    /// A command that sees only this session: `env_clear` plus HOME, XDG_*, DISPLAY,
    /// DBUS_SESSION_BUS_ADDRESS, BROWSER, PATH, LANG (and RUST_LOG/RUST_BACKTRACE if set).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// The session's environment, e.g. for `tokio::process::Command`.
    pub fn env(&self) -> &[(String, OsString)] {
        &self.env
    }

    /// The session's value of one variable.
    pub fn var(&self, name: &str) -> Option<&OsString> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A path inside the session's temporary directory.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The temporary HOME.
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The X display number, when X runs.
    pub fn display(&self) -> Option<u32> {
        self.display
    }

    /// The login keyring's password, when the keyring runs.
    pub fn keyring_password(&self) -> Option<&str> {
        self.keyring_password.as_deref()
    }

    /// Runs a program in the session and returns its output; panics if it cannot start.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    /// Like [`run`](Self::run) but panics unless it succeeds; returns stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `done` every 50 ms for up to 15 s; panics with `what` (and the component logs).
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        self.wait_until_for(what, START_TIMEOUT, &mut done);
    }

    /// [`wait_until`](Self::wait_until) with an explicit bound.
    pub fn wait_until_for(&self, what: &str, timeout: Duration, done: &mut dyn FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether a bus name has an owner on the session bus.
    pub fn name_has_owner(&self, name: &str) -> bool {
        self.command("busctl")
            .args(["--user", "status", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits until `name` is owned on the session bus.
    pub fn wait_for_name(&self, name: &str) {
        self.wait_until(&format!("{name} on the session bus"), || {
            self.name_has_owner(name)
        });
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
        self.run_ok(
            "busctl",
            &[
                "--user",
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

    // ----- screen, browser ------------------------------------------------------------------

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

    /// The URLs `$BROWSER` was asked to open, oldest first.
    pub fn opened_urls(&self) -> Vec<String> {
        fs::read_to_string(self.path("opened-urls.txt"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The last lines of every component's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(dir) = fs::read_dir(self.path("logs")) {
            let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                let body = fs::read_to_string(&f).unwrap_or_default();
                let tail: Vec<&str> = body.lines().rev().take(20).collect();
                if tail.is_empty() {
                    continue;
                }
                text.push_str(&format!("--- {} ---\n", f.display()));
                for line in tail.into_iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }

    // ----- process plumbing -----------------------------------------------------------------

    /// Spawns a component in its own process group, its output going to logs/<name>.log
    /// (stdin is the caller's choice; [`command`](Self::command) leaves it inherited).
    fn spawn(&self, name: &str, mut cmd: Command) -> Child {
        let log = fs::File::create(self.path(format!("logs/{name}.log"))).expect("create a log");
        cmd.stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"))
    }

    /// Spawns a component that announces readiness with one line on stdout.
    fn spawn_reading_line(&self, name: &str, mut cmd: Command) -> (Child, String) {
        let log = fs::File::create(self.path(format!("logs/{name}.log"))).expect("create a log");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the component never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => (child, line),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not start:\n{}", self.logs());
            }
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("desktop session logs:\n{}", self.logs());
        }
        // SIGKILL the whole group: gtk-sni-tray-standalone ignores SIGTERM, and nothing here
        // has state worth a clean shutdown.
        for component in self.components.iter_mut().rev() {
            let pid = component.child.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
            let _ = component.child.kill();
            let _ = component.child.wait();
        }
    }
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

fn write_executable(path: &Path, body: &str) {
    fs::write(path, body).expect("write a script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod a script");
}

/// Panics with the apt-get line for every missing program: a test never passes silently.
fn require_programs(options: &DesktopBuilder, needs_x: bool) {
    let mut wanted: Vec<(&str, &str)> = vec![
        ("dbus-daemon", "dbus"),
        ("busctl", "systemd"),
        ("gdbus", "libglib2.0-bin"),
    ];
    if needs_x {
        wanted.extend([
            ("Xvfb", "xvfb"),
            ("xauth", "xauth"),
            ("xdpyinfo", "x11-utils"),
            ("import", "imagemagick"),
            ("xdotool", "xdotool"),
        ]);
    }
    if options.keyring.is_some() {
        wanted.extend([
            ("gnome-keyring-daemon", "gnome-keyring"),
            ("secret-tool", "libsecret-tools"),
        ]);
    }
    if options.dunst {
        wanted.extend([
            ("dunst", "dunst"),
            ("dunstctl", "dunst"),
            ("notify-send", "libnotify-bin"),
        ]);
    }
    if options.tray {
        wanted.extend([
            ("gtk-sni-tray-standalone", "haskell-gtk-sni-tray-utils"),
            (
                "status-notifier-watcher",
                "haskell-status-notifier-item-utils",
            ),
        ]);
    }
    let mut packages: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| find_on_path(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    packages.dedup();
    if !packages.is_empty() {
        panic!(
            "the headless desktop needs programs that are not installed; install with: apt-get install -y {}",
            packages.join(" ")
        );
    }
}

/// The first executable called `program` on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
