//! The real binary's `run` with its tray in a headless desktop: the item registers with the
//! agent's own summary, "Sign in…" opens the configured pinentry and sends the typed password
//! to the identity endpoint, "Quit" stops the agent and removes the item.
//!
//! The first test's endpoint is a bare loopback listener that counts connections and answers
//! 503: enough to see that a request was made. The others run against the Entra emulator: the
//! tooltip and menu of a warning, "Check now", a password changed elsewhere, and "Sign in…"
//! with its result; one of them saves the screenshot of the tray and a balloon.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use emulator::Scenario;
use support::entra::EntraFixture;
use support::pinentry::FakePinentry;
use support::{Session, SessionBuilder};

const WARNING: &str = "Your password expires in 10 days";
const TOOLTIP_10_DAYS: &str = "Password expires in 10 days (";
const STOP_LIMIT: Duration = Duration::from_secs(3);

/// Counts connections; answers each request with 503.
fn counting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (url, count)
}

#[test]
fn run_shows_the_tray_and_sign_in_uses_the_desktop_prompt() {
    let desktop = SessionBuilder::desktop().start();
    let (endpoint, requests) = counting_endpoint();

    // A scripted pinentry that answers with a password.
    let pinentry = FakePinentry::in_dir(&desktop.path("pinentry"), Some("typed%20secret"));
    desktop.write_system_config(&pinentry.config());
    let config = desktop.write_config(
        "config.toml",
        &format!(
            "[account]\nusername = \"adele@contoso.test\"\n\
             [entra]\ntenant = \"contoso.test\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\n\
             authority = \"{endpoint}\"\ngraph = \"{endpoint}\"\ntimeout_secs = 2\n\
             sign_in = \"password\"\n"
        ),
    );
    let mut agent = desktop.start_agent("agent", &config, &[]);

    let item = desktop.wait_for_tray_item();
    desktop.wait_until("the agent's summary in the tooltip", || {
        desktop.tray_tooltip(&item).contains("Sign in required")
    });
    let entries = desktop.menu_layout(&item);
    assert!(
        entries.iter().any(|(_, l, e)| l == "Sign in…" && *e),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|(_, l, _)| l == "Sign out"),
        "{entries:?}"
    );

    let before = requests.load(Ordering::SeqCst);
    desktop.menu_click(&item, "Sign in…");
    desktop.wait_until("the pinentry asked for the PIN", || {
        pinentry.log().contains("GETPIN")
    });
    desktop.wait_until("the password sent to the endpoint", || {
        requests.load(Ordering::SeqCst) > before
    });
    let pin_log = pinentry.log();
    assert!(pin_log.contains("adele@contoso.test"), "{pin_log}");
    agent.wait_for_log("sign-in failed");
    // The password never reaches the log.
    assert!(!agent.log().contains("typed secret"), "{}", agent.log());

    desktop.menu_click(&item, "Quit");
    let status = agent.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}\n{}", agent.log());
    assert!(desktop.tray_items().is_empty());
}

/// The emulator and a config for it in a full desktop (X, keyring, dunst, tray host).
fn on_desktop(scenario: Scenario, extra: &str) -> EntraFixture {
    EntraFixture::on(SessionBuilder::desktop().start(), scenario, extra)
}

/// Waits until the tooltip contains `text`.
fn wait_tooltip(d: &Session, item: &str, text: &str) {
    d.wait_until(&format!("{text:?} in the tooltip"), || {
        d.tray_tooltip(item).contains(text)
    });
}

/// Waits until the menu offers `label`.
fn wait_menu_entry(d: &Session, item: &str, label: &str) {
    d.wait_until(&format!("{label:?} in the menu"), || {
        d.menu_labels(item).iter().any(|l| l == label)
    });
}

/// How many checks the agent has finished.
fn checks_done(agent: &support::agent::AgentProcess) -> usize {
    agent.log().matches(" checked").count()
}

#[test]
fn tray_shows_the_warning_and_check_now_asks_the_endpoint() {
    // The balloon stays long enough for the screenshot.
    let f = on_desktop(
        Scenario::expires_in_days(10),
        "[policy]\nballoon_timeout_secs = 30\n",
    );
    f.must_sign_in();
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &[]);
    let item = d.wait_for_tray_item();
    wait_tooltip(d, &item, TOOLTIP_10_DAYS);
    // The saved status shows at once; "Sign out" once the keyring said the credentials are there.
    let expected = [
        "Change password…",
        "Check now",
        "Sign out",
        "Start at login",
        "Quit",
    ];
    d.wait_until("the menu once the keyring answered", || {
        d.menu_labels(&item).get(1..) == Some(&expected.map(String::from)[..])
    });
    let labels = d.menu_labels(&item);
    assert!(labels[0].starts_with(TOOLTIP_10_DAYS), "{labels:?}");

    d.wait_displayed(1);
    // Let the tray host paint the icon before the picture is taken.
    std::thread::sleep(Duration::from_millis(300));
    let shot = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tray-and-balloon.png");
    d.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    let before = f.token_requests();
    d.menu_click(&item, "Check now");
    d.wait_until("a new token request", || f.token_requests() > before);

    // X on the daily balloon, then a left click on the icon: the status balloon, which does not
    // count as the daily one.
    d.dunst_close();
    d.wait_until("the dismissal saved", || {
        d.saved_state()["last_balloon"]["outcome"] == "dismissed"
    });
    d.tray_activate(&item);
    d.wait_displayed(1);
    d.dunst_close();
    d.wait_until("both balloons in the history", || {
        d.dunst_balloons().len() == 2
    });
    let shown: Vec<String> = d.dunst_balloons().into_iter().map(|b| b.summary).collect();
    assert!(
        shown
            .iter()
            .all(|s| s == "Your password expires in 10 days"),
        "{shown:?}"
    );
    assert_eq!(d.saved_state()["last_balloon"]["outcome"], "dismissed");

    d.menu_click(&item, "Change password…");
    d.wait_until("the portal opened", || !d.opened_urls().is_empty());
    assert_eq!(
        d.opened_urls(),
        ["https://portal.microsoftonline.com/ChangePassword.aspx"]
    );
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

#[test]
fn password_changed_elsewhere_is_said_once_and_the_tray_offers_sign_in() {
    let f = on_desktop(Scenario::expires_in_days(10), "");
    f.must_sign_in();
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &[]);
    let item = d.wait_for_tray_item();
    wait_tooltip(d, &item, TOOLTIP_10_DAYS);
    d.wait_displayed(1);
    d.dunst_close();

    f.emulator.change_password("N3w-Horse-Battery-8");
    d.menu_click(&item, "Check now");
    d.wait_displayed(1);
    d.dunst_close();
    d.wait_until("two balloons in the history", || {
        d.dunst_balloons().len() == 2
    });
    let balloons = d.dunst_balloons();
    assert_eq!(balloons[0].summary, "Your password was changed");
    assert_eq!(balloons[0].body, "Sign in with the new one.");
    assert_eq!(balloons[1].summary, WARNING);
    wait_menu_entry(d, &item, "Sign in…");
    wait_tooltip(d, &item, "Sign in required");
    assert_eq!(f.cached_password(), None);

    // Warnings stop: one more check brings no balloon, not even the same one again.
    let checks = checks_done(&agent);
    d.menu_click(&item, "Check now");
    d.wait_until("one more check", || checks_done(&agent) > checks);
    d.assert_stays("no balloon on screen", Duration::from_secs(1), || {
        d.dunst_displayed() == 0
    });
    assert_eq!(d.dunst_balloons().len(), 2);
    assert_eq!(
        f.session.saved_state()["finding"]["reason"],
        "password_changed_elsewhere"
    );
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

#[test]
fn sign_in_from_the_tray_caches_the_password_and_shows_the_result() {
    let session = SessionBuilder::desktop().start();
    let pinentry = FakePinentry::in_dir(&session.path("pinentry"), Some("cancel"));
    session.write_system_config(&pinentry.config());
    // The tray's "Sign in…" asks for the password (`sign_in` continues the [entra] table).
    let f = EntraFixture::on(
        session,
        Scenario::expires_in_days(10),
        "sign_in = \"password\"\n",
    );
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &[]);
    let item = d.wait_for_tray_item();
    wait_tooltip(d, &item, "Sign in required");

    // Cancel changes nothing.
    d.menu_click(&item, "Sign in…");
    agent.wait_for_log("sign-in cancelled");
    assert_eq!(d.dunst_displayed(), 0);
    assert_eq!(f.token_requests(), 0);

    // A wrong password: the reason in a balloon, nothing cached.
    pinentry.set_reply("not-my-password");
    d.menu_click(&item, "Sign in…");
    d.wait_displayed(1);
    d.dunst_close();
    d.wait_until("the result in the history", || {
        d.dunst_balloons().len() == 1
    });
    assert_eq!(
        d.dunst_balloons()[0].summary,
        "Sign-in failed: the password was not accepted; sign in again with your current password"
    );
    assert_eq!(f.cached_password(), None);

    // While the dialog is open, the agent goes on: "Check now" is answered.
    pinentry.hold();
    pinentry.set_reply(&f.scenario.password);
    d.menu_click(&item, "Sign in…");
    d.wait_until("the dialog open", || {
        pinentry.log().matches("GETPIN").count() == 3
    });
    let checks = checks_done(&agent);
    d.menu_click(&item, "Check now");
    d.wait_until("a check while the dialog is open", || {
        checks_done(&agent) > checks
    });
    pinentry.release();

    d.wait_displayed(1);
    assert_eq!(
        f.cached_password().as_deref(),
        Some(f.scenario.password.as_str())
    );
    wait_tooltip(d, &item, TOOLTIP_10_DAYS);
    wait_menu_entry(d, &item, "Sign out");
    d.dunst_close();
    d.wait_until("the result in the history", || {
        d.dunst_balloons().len() == 2
    });
    let signed_in = &d.dunst_balloons()[0];
    assert_eq!(signed_in.summary, "Signed in");
    assert_eq!(
        signed_in.body,
        format!("{WARNING}. Click here to change it.")
    );
    // The password reached neither the dialog's log nor the agent's.
    assert!(!pinentry.log().contains(&f.scenario.password));
    assert!(!agent.log().contains(&f.scenario.password));
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}
