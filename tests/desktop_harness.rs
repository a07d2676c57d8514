//! Proves the headless desktop harness itself: each service answers, the session is isolated,
//! and a person's actions (click a balloon, open a URL) are observable.

mod support;

use std::time::Duration;

use support::desktop::{NOTIFICATIONS_NAME, WATCHER_NAME};
use support::{SessionBuilder, SECRETS_NAME};

#[test]
fn full_session_runs_every_service_and_records_actions() {
    let desktop = SessionBuilder::desktop().start();
    for name in [SECRETS_NAME, NOTIFICATIONS_NAME, WATCHER_NAME] {
        assert!(desktop.name_has_owner(name), "{name} is not on the bus");
    }
    assert!(desktop.tray_items().is_empty());

    // The keyring is unlocked: a secret goes in and comes back.
    let mut store = desktop
        .command("secret-tool")
        .args([
            "store",
            "--label=harness",
            "service",
            "harness-test",
            "user",
            "me",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool");
    use std::io::Write;
    store
        .stdin
        .take()
        .unwrap()
        .write_all(b"stored-value")
        .unwrap();
    assert!(store.wait().unwrap().success());
    let found = desktop.run_ok(
        "secret-tool",
        &["lookup", "service", "harness-test", "user", "me"],
    );
    assert_eq!(found, "stored-value");

    // A balloon shows, lands in the history, and the "click" closes it.
    desktop.run_ok(
        "notify-send",
        &["-a", "harness", "Hello from the harness", "body"],
    );
    desktop.wait_until("the balloon on screen", || desktop.dunst_displayed() == 1);
    desktop.dunst_close();
    desktop.wait_until("the balloon in the history", || {
        desktop.dunst_summaries() == ["Hello from the harness"]
    });

    // $BROWSER records instead of opening.
    let browser = desktop.var("BROWSER").unwrap().clone();
    let status = desktop
        .command(browser)
        .arg("https://example.test/change")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(desktop.opened_urls(), ["https://example.test/change"]);

    let shot = desktop.path("root.png");
    desktop.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 0);
}

#[test]
fn components_left_out_are_really_absent_and_everything_ends_on_drop() {
    let desktop = SessionBuilder::bare().start();
    assert!(desktop.var("DISPLAY").is_none());
    // No service activation on the private bus: nothing answers for names we did not start.
    assert!(!desktop.name_has_owner(NOTIFICATIONS_NAME));
    assert!(!desktop.name_has_owner(SECRETS_NAME));
    assert!(!desktop.name_has_owner(WATCHER_NAME));
    let address = desktop.var("DBUS_SESSION_BUS_ADDRESS").unwrap().clone();
    assert_ne!(
        Some(&address),
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_ref()
    );
    let socket = desktop.path("run/bus");
    drop(desktop);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!socket.exists(), "the temporary session was not removed");
}
