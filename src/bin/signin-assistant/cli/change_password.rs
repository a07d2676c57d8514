//! `signin-assistant change-password`: the command-line face of
//! [`signin_assistant::work::password_change`]. The passwords come from three lines of stdin
//! (`--password-stdin`), no-echo prompts on a terminal, or else the desktop's dialog (the same
//! one the tray uses). Entra ID accounts, and LDAP accounts set to the portal, get the portal.

use std::io::{BufRead, IsTerminal};

use anyhow::{anyhow, Context};
use zeroize::Zeroizing;

use signin_assistant::providers::ldap::change::ChangeError;
use signin_assistant::providers::{Provider, ProviderError};
use signin_assistant::screen::desktop::{Desktop, Patience, RealDesktop};
use signin_assistant::system::config::Config;
use signin_assistant::system::credentials::{CredentialCache, Secret};
use signin_assistant::system::state::StateFile;
use signin_assistant::work::password_change::{self, ChangeFailure, Interaction, Route};

use crate::exit::{NotDetermined, UsageError};

#[derive(clap::Args)]
pub struct Args {
    /// The account; default: the last one signed in, then [account] username.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Read three lines from standard input: the current password, the new one, the new one again.
    #[arg(long)]
    password_stdin: bool,
}

/// Runs the command; exit 0 only when the directory has the new password and the keyring too.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let state_file = StateFile::default_location()
        .ok_or_else(|| anyhow!("cannot find the home directory to keep the state in"))?;
    let saved = state_file.load();
    let account = args
        .user
        .or(saved.account.clone())
        .or_else(|| config.account.username.clone())
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| {
            UsageError(
                "which account? use `change-password --user NAME` or set [account] username".into(),
            )
        })?;
    if let Route::Portal(url) = password_change::route(config, saved.offered_portal_url()) {
        println!(
            "The password of {account} is changed on the web: {url} (opening it in the browser)"
        );
        RealDesktop::from_config(config, Patience::OneShot).open_page(&url);
        return Ok(());
    }
    let provider = Provider::from_config(config)?;
    let cache = CredentialCache::os();
    let outcome = if args.password_stdin || std::io::stdin().is_terminal() {
        let (current, new) = if args.password_stdin {
            read_stdin()?
        } else {
            read_terminal(&account)?
        };
        let changed = password_change::change(
            config,
            &provider,
            &cache,
            &state_file,
            &account,
            &current,
            &new,
        )
        .await;
        match changed {
            Ok(changed) => Interaction::Changed(changed),
            Err(e) => Interaction::Failed(e),
        }
    } else {
        let desktop = RealDesktop::from_config(config, Patience::OneShot);
        password_change::change_interactively(
            config,
            &provider,
            &cache,
            &state_file,
            &desktop,
            &account,
        )
        .await
    };
    report(outcome)
}

/// Prints how it ended, in words.
fn report(outcome: Interaction) -> anyhow::Result<()> {
    match outcome {
        Interaction::Changed(changed) => {
            println!("{}", changed.summary());
            println!("The new password is in the OS keyring.");
            if let Some(e) = &changed.recheck_error {
                println!("Note: the new deadline could not be read yet ({e}); `signin-assistant check` will read it.");
            }
            Ok(())
        }
        Interaction::Cancelled => {
            eprintln!("Cancelled: nothing was changed.");
            Err(NotDetermined.into())
        }
        Interaction::Failed(ChangeFailure::NotChanged(ChangeError::Provider(
            e @ ProviderError::Config(_),
        ))) => Err(e.into()),
        Interaction::Failed(
            e @ (ChangeFailure::Unconfirmed(_) | ChangeFailure::KeyringNotUpdated { .. }),
        ) => {
            eprintln!("signin-assistant: {e}");
            Err(NotDetermined.into())
        }
        Interaction::Failed(e @ ChangeFailure::Dialog(_)) => {
            eprintln!("The password was not changed: {e}. Without a dialog, run the command in a terminal or use --password-stdin.");
            Err(NotDetermined.into())
        }
        Interaction::Failed(e) => {
            eprintln!("The password was not changed: {e}.");
            Err(NotDetermined.into())
        }
    }
}

/// Three lines: the current password, the new one, the new one again.
fn read_stdin() -> anyhow::Result<(Secret, Secret)> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = || -> anyhow::Result<Secret> {
        let mut text = Zeroizing::new(String::new());
        let read = input
            .read_line(&mut text)
            .context("cannot read the passwords from standard input")?;
        if read == 0 {
            return Err(UsageError(
                "--password-stdin takes three lines: the current password, the new one, and the new one again".into(),
            )
            .into());
        }
        Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
    };
    let (current, new, again) = (line()?, line()?, line()?);
    checked(current, new, again)
}

/// No-echo prompts on the terminal.
fn read_terminal(account: &str) -> anyhow::Result<(Secret, Secret)> {
    let ask = |prompt: String| -> anyhow::Result<Secret> {
        Ok(Secret::new(
            rpassword::prompt_password(prompt)
                .context("cannot read the password from the terminal")?,
        ))
    };
    let current = ask(format!("Current password of {account}: "))?;
    let new = ask("New password: ".into())?;
    let again = ask("New password again: ".into())?;
    checked(current, new, again)
}

fn checked(current: Secret, new: Secret, again: Secret) -> anyhow::Result<(Secret, Secret)> {
    if current.is_empty() {
        return Err(UsageError("the current password is empty".into()).into());
    }
    if new.is_empty() {
        return Err(UsageError("the new password is empty".into()).into());
    }
    if new != again {
        return Err(UsageError(
            "the two entries of the new password differ: nothing was changed".into(),
        )
        .into());
    }
    Ok((current, new))
}
