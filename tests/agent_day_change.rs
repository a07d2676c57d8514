//! A running agent shows the next day's balloon as soon as the local date changes, even though
//! the person dismissed the previous day's, and checks again within the midnight spread (one
//! check interval, 10 minutes here). The agent's clock is faked with libfaketime (30 times
//! faster, starting a minute before midnight UTC: 2 s to see and close the first day's
//! balloon), so its wall-clock sleep crosses midnight within seconds; dunst and the emulator
//! keep the real clock.

mod support;

use std::time::Duration;

use chrono::{Duration as Days, NaiveTime, Utc};
use signin_assistant::emulator::Scenario;
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

    d.wait_displayed(1);
    d.dunst_close();
    d.wait_until("the first day's dismissal saved", || {
        d.saved_state()["last_balloon"]["outcome"] == "dismissed"
    });
    assert_eq!(
        d.saved_state()["last_balloon"]["date"],
        today.to_string(),
        "the first balloon belongs to the faked day"
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
    d.wait_until("both balloons in the history", || {
        d.dunst_balloons().len() >= 2
    });
    let balloons = d.dunst_balloons();
    assert_eq!(balloons.len(), 2, "one balloon a day: {balloons:?}");
    for balloon in &balloons {
        assert!(
            balloon.summary.starts_with("Your password expires in"),
            "{balloon:?}"
        );
    }
    // The new day's check comes within the midnight spread (10 faked minutes: 20 s here).
    d.wait_until_for("the new day's check", Duration::from_secs(40), &mut || {
        agent
            .log()
            .lines()
            .any(|line| line.contains(&tomorrow) && line.contains(" checked"))
    });
    assert_eq!(agent.terminate(Duration::from_secs(5)).code(), Some(0));
}
