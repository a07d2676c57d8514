//! The tray icon in a real headless desktop (StatusNotifierWatcher + gtk-sni-tray host), driven
//! over D-Bus like a person: registered item, tooltip, menu labels, clicks that become commands,
//! icon per state, and the "no tray host" path. Uses examples/tray_preview.rs as a stand-in agent.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use support::{Session, SessionBuilder};

/// examples/tray_preview, built by `cargo test` next to this test's own binary.
fn preview_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("examples/tray_preview");
    assert!(
        path.exists(),
        "{} is missing: run through `cargo test`",
        path.display()
    );
    path
}

/// The preview process: stdin takes states, stdout lines come back through a channel.
struct Preview {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Preview {
    fn start(desktop: &Session, first_state: &str) -> Preview {
        let mut child = desktop
            .command(preview_binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tray_preview");
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut preview = Preview {
            stdin: child.stdin.take(),
            child,
            lines,
        };
        preview.send(first_state);
        preview.expect_line("started");
        preview
    }

    fn send(&mut self, state: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{state}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits up to 10 s for a line containing `wanted`; returns it.
    fn expect_line(&self, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(wanted) => return line,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no line with {wanted:?}; saw {seen:#?}")
                }
            }
        }
    }

    /// Shows a state and waits until the tray host can see it.
    fn show(&mut self, desktop: &Session, item: &str, state: &str, summary: &str) {
        self.send(state);
        self.expect_line(&format!("shown: {state}"));
        desktop.wait_until(&format!("the tooltip {summary:?}"), || {
            desktop.tray_tooltip(item).contains(summary)
        });
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn labels(desktop: &Session, item: &str) -> Vec<(String, bool)> {
    desktop
        .menu_layout(item)
        .into_iter()
        .map(|(_, label, enabled)| (label, enabled))
        .collect()
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tray-screenshots")
}

#[test]
fn tray_shows_each_state_and_sends_commands() {
    let desktop = SessionBuilder::desktop().keyring(None).dunst(false).start();
    let mut preview = Preview::start(&desktop, "warning");
    let item = desktop.wait_for_tray_item();

    // Tooltip and menu of the warning state.
    desktop.wait_until("the warning tooltip", || {
        desktop.tray_tooltip(&item) == "Sign-in Assistant\nPassword expires in 10 days (Thu 4 Dec)"
    });
    let owned = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
        pairs.iter().map(|(l, e)| (l.to_string(), *e)).collect()
    };
    assert_eq!(
        labels(&desktop, &item),
        owned(&[
            ("Password expires in 10 days (Thu 4 Dec)", false),
            ("Change password…", true),
            ("Check now", true),
            ("Sign out", true),
            ("Start at login", false),
            ("Quit", true),
        ])
    );
    assert_eq!(desktop.tray_icon_sizes(&item), [(48, 48)]);

    // Clicks become commands.
    desktop.menu_click(&item, "Check now");
    preview.expect_line("command: CheckNow");
    desktop.tray_activate(&item);
    preview.expect_line("command: ShowStatus");
    desktop.menu_click(&item, "Change password…");
    preview.expect_line("command: ChangePassword");

    // Each state: tooltip follows, and a screenshot of the tray bar shows its icon.
    let shots = screenshot_dir();
    let states = [
        ("ok", "Password expires in 40 days (Mon 12 Jan)"),
        ("warning", "Password expires in 10 days (Thu 4 Dec)"),
        ("urgent", "Password expires in 2 days (Wed 26 Nov)"),
        ("expired", "Password expired"),
        ("signin", "Sign in required"),
        ("never", "Password never expires"),
    ];
    let mut pixmaps = Vec::new();
    for (state, summary) in states {
        preview.show(&desktop, &item, state, summary);
        // Let the host repaint before the screenshot.
        std::thread::sleep(Duration::from_millis(400));
        desktop.screenshot_region(shots.join(format!("{state}.png")), 0, 560, 120, 40);
        pixmaps.push((state, desktop.tray_property(&item, "IconPixmap")));
        assert_eq!(labels(&desktop, &item)[0], (summary.to_string(), false));
    }
    desktop.screenshot(shots.join("desktop.png"));
    // ok and never share the calm icon; every other state has its own.
    for (i, (a, pa)) in pixmaps.iter().enumerate() {
        for (b, pb) in &pixmaps[i + 1..] {
            let same_kind = matches!((*a, *b), ("ok", "never") | ("never", "ok"));
            assert_eq!(pa == pb, same_kind, "icons of {a} and {b}");
        }
    }

    // Signed out: "Sign in…" asks for a sign-in.
    assert!(labels(&desktop, &item).contains(&("Sign out".to_string(), true)));
    preview.show(&desktop, &item, "signin", "Sign in required");
    desktop.wait_until("the Sign in… entry", || {
        labels(&desktop, &item).contains(&("Sign in…".to_string(), true))
    });
    desktop.menu_click(&item, "Sign in…");
    preview.expect_line("command: SignIn");

    // Multi-factor required: the account entry offers the browser sign-in.
    preview.show(&desktop, &item, "mfa", "Sign in required");
    desktop.wait_until("the Sign in with browser… entry", || {
        labels(&desktop, &item).contains(&("Sign in with browser…".to_string(), true))
    });
    desktop.menu_click(&item, "Sign in with browser…");
    preview.expect_line("command: SignInWithBrowser");

    // Autostart known: the checkbox is enabled, shows the state, and toggles it.
    preview.send("ok autostart=on");
    preview.expect_line("shown: ok autostart=on");
    desktop.wait_until("Start at login enabled and checked", || {
        desktop
            .menu_entries(&item)
            .iter()
            .any(|e| e.label == "Start at login" && e.enabled && e.checked == Some(true))
    });
    desktop.menu_click(&item, "Start at login");
    preview.expect_line("command: SetAutostart(false)");

    desktop.menu_click(&item, "Quit");
    preview.expect_line("command: Quit");

    // The agent going away ends the tray and unregisters the item.
    preview.close_stdin();
    preview.expect_line("exit: Closed");
    desktop.wait_until("the item gone from the watcher", || {
        desktop.tray_items().is_empty()
    });
}

#[test]
fn without_a_tray_host_it_says_so_once_and_returns() {
    let desktop = SessionBuilder::bare().start();
    let mut preview = Preview::start(&desktop, "ok");
    preview.expect_line("no tray icon: the desktop has no tray host");
    preview.close_stdin();
    preview.expect_line("exit: NoHost");
}

/// Started at login before the panel: the icon appears when the tray host starts.
#[test]
fn a_tray_host_that_starts_later_gets_the_icon() {
    let mut desktop = SessionBuilder::bare().x(true).start();
    let mut preview = Preview::start(&desktop, "warning");
    preview.expect_line("no tray icon: the desktop has no tray host");
    desktop.start_tray_host();
    let item = desktop.wait_for_tray_item();
    desktop.wait_until("the warning tooltip", || {
        desktop.tray_tooltip(&item) == "Sign-in Assistant\nPassword expires in 10 days (Thu 4 Dec)"
    });
    desktop.menu_click(&item, "Check now");
    preview.expect_line("command: CheckNow");
    preview.close_stdin();
    preview.expect_line("exit: Closed");
}
