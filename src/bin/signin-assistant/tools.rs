//! The commands that look after the installation rather than the password: `autostart`,
//! `doctor` and `config show`, and the agent's "Start at login" switch. Thin on purpose: the
//! work is in the library (`autostart`, `doctor`, `config`); this prints and picks the exit code.

use std::path::Path;

use signin_assistant::agent::control::{self, Request};
use signin_assistant::setup::doctor::{self, Inputs};
use signin_assistant::system::autostart::{AutostartStatus, LoginItem};
use signin_assistant::system::config::Config;

use crate::exit::NotDetermined;

/// `autostart status` (None), `enable` (Some(true)) or `disable` (Some(false)). A running
/// agent is told, so its "Start at login" checkbox follows at once.
pub async fn autostart(change: Option<bool>) -> anyhow::Result<()> {
    let item = LoginItem::for_this_program()?;
    let status = match change {
        Some(on) => item.set(on)?,
        None => item.status()?,
    };
    if change.is_some() {
        if let Err(e) = control::ask(&Request::Reload).await {
            tracing::info!(error = %e, "the running agent was not told");
        }
    }
    println!("Start at login: {status}.");
    if status.program_missing() {
        eprintln!(
            "signin-assistant: {}",
            missing_program_advice(&item, &status)
        );
    }
    Ok(())
}

/// What to do when the login item starts a program that is not there.
pub fn missing_program_advice(item: &LoginItem, status: &AutostartStatus) -> String {
    if status.by_administrator() {
        "the entry your administrator set up starts a program that is not installed: ask them to correct it, or turn it off for you with `signin-assistant autostart disable`".into()
    } else {
        format!(
            "that program is not there any more: run `{} autostart enable` to start this one instead",
            item.program().display()
        )
    }
}

/// `doctor`: every check, printed; exit 1 when something blocks the product.
pub async fn doctor(explicit_config: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let inputs = Inputs::for_this_user(explicit_config);
    let config = inputs.config.as_ref().ok().cloned();
    let diagnosis = doctor::diagnose(inputs).await;
    if json {
        println!("{}", serde_json::to_string(&diagnosis)?);
    } else {
        print!("{}", diagnosis.text(config.as_ref()));
    }
    if diagnosis.ok {
        Ok(())
    } else {
        Err(NotDetermined.into())
    }
}

/// `config show`: every value and where it was set.
pub fn config_show(config: &Config, json: bool) -> anyhow::Result<()> {
    if json {
        let shown = serde_json::json!({
            "files": config.files,
            "settings": config.settings(),
        });
        println!("{shown}");
    } else {
        print!("{}", config.show());
    }
    Ok(())
}
