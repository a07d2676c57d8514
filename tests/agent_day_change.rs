//! A running agent shows the next day's balloon as soon as the local date changes, even though
//! the person dismissed the previous day's, and checks again within the midnight spread (one
//! check interval, 10 minutes here). The agent's clock is faked with libfaketime (30 times
//! faster, starting a minute before midnight UTC: 2 s to see and close the first day's
//! balloon), so its wall-clock sleep crosses midnight within seconds; dunst and the emulator
//! keep the real clock.

mod support;

use std::time::Duration;

use chrono::{Duration as Days, NaiveTime, Utc};
use emulator::Scenario;
use support::entra::EntraFixture;
use support::SessionBuilder;

#[test]
fn a_new_local_day_brings_a_new_balloon() {
    let desktop = SessionBuilder::desktop().tray(false).start();
    let f = EntraFixture::on(
        desktop,
        Scenario::expires_in_days(10),
        "[agent]\ncheck_interval_minutes = 10\n",
    );
    f.must_sign_in();
    let d = &f.session;
    let today = Utc::now().date_naive();
    let start = today.and_time(NaiveTime::from_hms_opt(23, 59, 0).expect("valid time"));
    // Today's balloon was shown and dismissed before this agent started (an earlier run the
    // same day): the start has nothing to show, and nothing but the keyring to ask.
    let mut state = d.saved_state();
    state["last_balloon"] = serde_json::json!({
        "date": today.to_string(),
        "shown_at": format!("{today}T09:00:00Z"),
        "title": "Your password expires in 10 days",
        "outcome": "dismissed",
    });
    std::fs::write(d.state_file(), state.to_string()).expect("write the state file");
    let lib = support::libfaketime();
    let faketime = format!("@{} x30", start.format("%Y-%m-%d %H:%M:%S"));
    let agent = d.start_agent_with_env(
        "agent",
        &f.config,
        &["--no-tray"],
        &[
            ("LD_PRELOAD", lib.to_str().expect("utf-8 path")),
            ("FAKETIME", &faketime),
            ("TZ", "UTC"),
        ],
    );

    agent.wait_for_log("agent started");
    d.assert_stays(
        "no second balloon on the first day",
        Duration::from_millis(500),
        || d.dunst_displayed() == 0,
    );

    // A faked minute to midnight: 2 s here.
    d.wait_until_for(
        "the next day's balloon",
        Duration::from_secs(20),
        &mut || d.dunst_displayed() == 1,
    );
    let tomorrow = (today + Days::days(1)).to_string();
    d.wait_until("the second balloon recorded", || {
        d.saved_state()["last_balloon"]["date"] == tomorrow.as_str()
    });
    // dunst's history holds the balloons that left the screen.
    d.dunst_close();
    d.wait_until("the balloon in the history", || {
        !d.dunst_balloons().is_empty()
    });
    let balloons = d.dunst_balloons();
    assert_eq!(balloons.len(), 1, "one balloon a day: {balloons:?}");
    assert!(
        balloons[0].summary.starts_with("Your password expires in"),
        "{balloons:?}"
    );
    // The new day's check comes within the midnight spread (10 faked minutes: 20 s here).
    d.wait_until_for("the new day's check", Duration::from_secs(40), &mut || {
        agent
            .log()
            .lines()
            .any(|line| line.contains(&tomorrow) && line.contains(" checked"))
    });
    assert_eq!(agent.terminate(Duration::from_secs(5)).code(), Some(0));
}
