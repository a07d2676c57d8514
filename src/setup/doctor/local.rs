//! This computer: whether the agent starts at login, and whether one runs now.

use std::path::PathBuf;

use super::Item;
use crate::system::autostart::{AutostartError, LoginItem};

const AUTOSTART: &str = "start at login";
const AGENT: &str = "agent";

pub async fn check(
    item: Result<LoginItem, AutostartError>,
    state_dir: Option<PathBuf>,
) -> Vec<Item> {
    let looked = tokio::task::spawn_blocking(move || {
        (
            autostart(item),
            state_dir.map(|d| crate::agent::instance::agent_running(&d)),
        )
    })
    .await;
    let Ok((autostart, running)) = looked else {
        return vec![Item::problem(
            AGENT,
            "the check stopped",
            "run `signin-assistant doctor -v` and report what it says",
        )];
    };
    vec![autostart, agent(running)]
}

fn autostart(item: Result<LoginItem, AutostartError>) -> Item {
    let status = match item.and_then(|item| item.status()) {
        Ok(status) => status,
        Err(e) => {
            return Item::warning(
                AUTOSTART,
                format!("cannot tell: {e}"),
                "start `signin-assistant run` yourself after you log in",
            )
        }
    };
    if status.program_missing() {
        let fix = if status.by_administrator() {
            "ask your administrator to correct the entry; meanwhile start `signin-assistant run` yourself"
        } else {
            "run `signin-assistant autostart enable` with the program you use now"
        };
        return Item::problem(
            AUTOSTART,
            format!("{status}, which is not there: nothing starts at login"),
            fix,
        );
    }
    if status.enabled {
        Item::ok(AUTOSTART, status.to_string())
    } else {
        Item::warning(
            AUTOSTART,
            status.to_string(),
            "run `signin-assistant autostart enable`, or tick \"Start at login\" in the tray menu",
        )
    }
}

fn agent(running: Option<bool>) -> Item {
    match running {
        Some(true) => Item::ok(AGENT, "an agent runs for you (`signin-assistant run`)"),
        Some(false) => Item::warning(
            AGENT,
            "no agent runs for you: nobody warns you before the password expires",
            "run `signin-assistant run &`, or turn on starting at login and log in again",
        ),
        None => Item::warning(
            AGENT,
            "cannot tell: no home directory for the state",
            "set HOME and try again",
        ),
    }
}
