//! The running agent's balloons in a real headless desktop (dunst on a private bus), against the
//! Entra emulator: the warning at start and what a click does, a clean stop on SIGTERM, the
//! "once a day" rule surviving a restart, the critical balloons that stay until the person
//! acts, and a notification server that hangs (the day's balloon is neither lost nor counted).
//! The tray's side of the agent is in tray_agent.rs.

mod support;

use std::time::{Duration, Instant};

use emulator::{Misbehaviour, Scenario, DEFAULT_PASSWORD_CHANGE_URL};
use serde_json::Value;
use support::entra::EntraFixture;
#[cfg(all(unix, not(target_os = "macos")))]
use support::notifications::Notifications;
use support::SessionBuilder;

const WARNING: &str = "Your password expires in 10 days";
const CLICK_HERE: &str = "Click here to change it.";
/// SIGTERM must stop the agent this fast.
const STOP_LIMIT: Duration = Duration::from_secs(3);

/// Signed in against the emulator, in a desktop with dunst but no tray host.
fn signed_in(scenario: Scenario, extra: &str) -> EntraFixture {
    let desktop = SessionBuilder::desktop().tray(false).start();
    let f = EntraFixture::on(desktop, scenario, extra);
    f.must_sign_in();
    f
}

/// How the last balloon ended, as the state file records it.
fn saved_outcome(f: &EntraFixture) -> Value {
    f.session.saved_state()["last_balloon"]["outcome"].clone()
}

#[test]
fn headless_agent_warns_at_start_and_a_click_opens_the_portal() {
    let f = signed_in(Scenario::expires_in_days(10), "");
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &["--no-tray"]);

    d.wait_displayed(1);
    d.dunst_action();
    d.wait_until("the portal opened", || !d.opened_urls().is_empty());
    let balloons = d.dunst_balloons();
    assert_eq!(balloons.len(), 1, "{balloons:?}");
    assert_eq!(balloons[0].summary, WARNING);
    assert_eq!(balloons[0].body, CLICK_HERE);
    assert_eq!(balloons[0].urgency, "NORMAL");
    d.wait_until("the click saved", || saved_outcome(&f) == "clicked");

    let asked = Instant::now();
    let status = agent.terminate(STOP_LIMIT);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(asked.elapsed() < STOP_LIMIT);
    assert_eq!(d.opened_urls(), [DEFAULT_PASSWORD_CHANGE_URL]);
    assert_eq!(saved_outcome(&f), "clicked");
}

#[test]
fn after_the_click_opened_the_portal_the_new_password_is_learned_within_a_quarter_hour() {
    // The balloon stays 10 s here, long enough to be clicked.
    let f = signed_in(
        Scenario::expires_in_days(10),
        "[policy]\nballoon_timeout_secs = 300\n",
    );
    let d = &f.session;
    // The agent's clock runs 30 times faster: its 15 minutes are 30 s here.
    let lib = support::libfaketime();
    let agent = d.start_agent_with_env(
        "agent",
        &f.config,
        &["--no-tray"],
        &[
            ("LD_PRELOAD", lib.to_str().expect("utf-8 path")),
            ("FAKETIME", "+0 x30"),
        ],
    );
    d.wait_displayed(1);
    d.dunst_action();
    d.wait_until("the portal opened", || !d.opened_urls().is_empty());
    // The person changes the password on the portal: 90 days from now.
    f.emulator.set_scenario(Scenario::expires_in_days(90));
    let before = f.token_requests();
    d.wait_until_for(
        "the check after the portal",
        Duration::from_secs(45),
        &mut || d.saved_state()["finding"]["reason"].is_null() && agent.log().contains("state=Ok"),
    );
    assert!(f.token_requests() > before);
    d.assert_stays("no balloon on screen", Duration::from_secs(1), || {
        d.dunst_displayed() == 0
    });
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

// The hanging server is a freedesktop notification server on the session bus.
#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn a_notification_server_that_never_answers_does_not_swallow_the_days_balloon() {
    let desktop = SessionBuilder::desktop().tray(false).dunst(false).start();
    let f = EntraFixture::on(desktop, Scenario::expires_in_days(10), "");
    f.must_sign_in();
    let d = &f.session;
    let server = Notifications::start(d, true);
    let agent = d.start_agent("agent", &f.config, &["--no-tray"]);
    d.wait_until("the balloon asked for", || server.asked() == 1);
    agent.wait_for_log("balloon not shown");
    assert!(
        d.saved_state()["last_balloon"].is_null(),
        "{}",
        d.saved_state()
    );
    // The server answers again. The agent lives on: a check through it works, and brings the
    // day's balloon, shown now and only now recorded.
    server.answer();
    let out = f.run(&["check", "--json"], "");
    assert_eq!(support::json_of(&out)["state"], "warning");
    d.wait_until("the balloon shown", || server.shown().len() == 1);
    let shown = &server.shown()[0];
    assert_eq!(shown.summary, WARNING);
    assert_eq!(shown.body, CLICK_HERE);
    d.wait_until("the balloon recorded", || {
        d.saved_state()["last_balloon"]["title"] == WARNING
    });
    server.dismiss(shown.id);
    d.wait_until("the dismissal saved", || saved_outcome(&f) == "dismissed");
    assert_eq!(server.asked(), 2);
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

#[test]
fn dismissed_balloon_is_not_shown_again_that_day_even_after_a_restart() {
    let f = signed_in(Scenario::expires_in_days(10), "");
    let d = &f.session;
    let agent = d.start_agent("first-run", &f.config, &["--no-tray"]);
    d.wait_displayed(1);
    d.dunst_close();
    d.wait_until("the dismissal saved", || saved_outcome(&f) == "dismissed");
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));

    // The restart goes on from the check made seconds ago: no request, no balloon.
    let before = f.token_requests();
    let agent = d.start_agent("second-run", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");
    d.assert_stays("no balloon on screen", Duration::from_secs(1), || {
        d.dunst_displayed() == 0
    });
    assert_eq!(f.token_requests(), before);
    // A check through it finds the warning again; the day's balloon was served all the same.
    let out = f.run(&["check", "--json"], "");
    assert_eq!(support::json_of(&out)["state"], "warning");
    assert!(f.token_requests() > before);
    // Had a balloon been due, it would be on screen within milliseconds of the check.
    d.assert_stays("no balloon on screen", Duration::from_secs(1), || {
        d.dunst_displayed() == 0
    });
    let balloons = d.dunst_balloons();
    assert_eq!(balloons.len(), 1, "{balloons:?}");
    assert_eq!(balloons[0].summary, WARNING);
    assert_eq!(saved_outcome(&f), "dismissed");
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

/// The balloon of `scenario` is critical and outlasts `balloon_timeout_secs` (1 s here) plus
/// the notifier's 2 s grace; X then closes it and that is saved.
fn critical_balloon_stays_until_closed(scenario: Scenario, title: &str) {
    let f = signed_in(scenario, "[policy]\nballoon_timeout_secs = 1\n");
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &["--no-tray"]);
    d.wait_displayed(1);
    d.assert_stays("the balloon on screen", Duration::from_secs(3), || {
        d.dunst_displayed() == 1
    });
    d.dunst_close();
    d.wait_until("the balloon in the history", || {
        d.dunst_balloons().len() == 1
    });
    let balloon = &d.dunst_balloons()[0];
    assert_eq!(balloon.summary, title);
    assert_eq!(balloon.urgency, "CRITICAL");
    assert!(balloon.body.contains(CLICK_HERE), "{balloon:?}");
    d.wait_until("the dismissal saved", || saved_outcome(&f) == "dismissed");
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

#[test]
fn urgent_balloon_is_critical_and_stays() {
    critical_balloon_stays_until_closed(
        Scenario::expires_in_days(2),
        "Your password expires in 2 days",
    );
}

#[test]
fn expired_balloon_is_critical_stays_and_says_what_to_do() {
    critical_balloon_stays_until_closed(Scenario::expired(), "Your password has expired");
}

#[test]
fn one_agent_per_user_and_a_check_goes_through_it() {
    let f = signed_in(Scenario::expires_in_days(30), "");
    let d = &f.session;
    let agent = d.start_agent("agent", &f.config, &["--no-tray"]);
    agent.wait_for_log("agent started");

    let second = f.run(&["run", "--no-tray"], "");
    assert_eq!(second.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("already running (pid"), "{stdout}");

    // The deadline moves into the warning window; a check from the command line goes through
    // the running agent, which shows today's balloon: one, not one per process.
    f.emulator.set_scenario(Scenario::expires_in_days(10));
    let out = f.run(&["check", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(support::json_of(&out)["state"], "warning");
    d.wait_until("the agent's balloon", || d.dunst_balloons().len() == 1);
    let out = f.run(&["check", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    d.assert_stays("no second balloon today", Duration::from_secs(1), || {
        d.dunst_balloons().len() == 1
    });
    assert!(agent.log().contains("checked"));
    assert_eq!(agent.terminate(STOP_LIMIT).code(), Some(0));
}

#[test]
fn sigterm_does_not_wait_for_a_slow_endpoint() {
    let f = signed_in(Scenario::expires_in_days(30), "");
    let d = &f.session;
    // Every answer now takes 2.5 s: a check needs three of them.
    f.emulator.set_scenario(
        Scenario::expires_in_days(30)
            .with_misbehaviour(Misbehaviour::Delay(Duration::from_millis(2500))),
    );
    // Nothing saved: a first start, which checks at once.
    std::fs::remove_file(d.state_file()).expect("remove the state file");
    let before = f.token_requests();
    let agent = d.start_agent("agent", &f.config, &["--no-tray"]);
    d.wait_until("the check under way", || f.token_requests() > before);
    let asked = Instant::now();
    let status = agent.terminate(Duration::from_secs(2));
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(asked.elapsed() < Duration::from_secs(2));
}
