//! Asks the person at the desk for their password, with the desktop's own dialog.
//!
//! "Sign in…" in the tray has no terminal to read from, so each OS gets the dialog its users
//! trust: pinentry on Linux (the program GnuPG uses; the `[prompt] pinentry` key picks one), an
//! `osascript` dialog with a hidden answer on macOS, and the Windows credential dialog. The
//! password only ever travels over a pipe or a Win32 buffer, straight into a [`Secret`]: never
//! argv, the environment, a file or a log line.

pub(crate) mod assuan;
pub mod change;
pub mod pinentry;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

use crate::system::config::PromptConfig;
use crate::system::credentials::Secret;
use change::{ChangeAnswers, ChangeRequest};
#[cfg(any(windows, target_os = "macos"))]
use change::{MAX_MISMATCHES, MISMATCH};

/// Why no password could be asked for. No variant ever holds what was typed.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("no password dialog program was found: install pinentry-gnome3 (or pinentry-qt), or set `[prompt] pinentry` in the configuration")]
    NoProgram,
    #[error("could not run the password dialog `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the password dialog failed: {0}")]
    Failed(String),
}

/// Shows the OS password dialog for `account`: `Ok(None)` when the person cancels.
pub async fn ask_password(
    account: &str,
    config: &PromptConfig,
) -> Result<Option<Secret>, PromptError> {
    let request = Request::for_account(account);
    #[cfg(target_os = "macos")]
    {
        let _ = config;
        macos::ask(&request).await
    }
    #[cfg(windows)]
    {
        let _ = config;
        windows::ask(&request).await
    }
    #[cfg(freedesktop)]
    {
        let program = pinentry::choose_program(config.pinentry.as_deref())?;
        pinentry::ask(&program, &request).await
    }
}

/// Shows the change-password dialog for `request`: `Ok(None)` when the person cancels.
///
/// On Linux one pinentry run asks both passwords, and its own repeat field and quality bar are
/// used where the pinentry has them (the repetition is checked when it has not). On macOS and
/// Windows the sign-in dialog is shown three times with different words.
pub async fn ask_password_change(
    request: &ChangeRequest,
    config: &PromptConfig,
) -> Result<Option<ChangeAnswers>, PromptError> {
    #[cfg(target_os = "macos")]
    {
        let _ = config;
        in_steps(request).await
    }
    #[cfg(windows)]
    {
        let _ = config;
        in_steps(request).await
    }
    #[cfg(freedesktop)]
    {
        let program = pinentry::choose_program(config.pinentry.as_deref())?;
        pinentry::ask_change(&program, request).await
    }
}

/// One dialog of the sign-in kind (osascript on macOS, the credential dialog on Windows).
#[cfg(any(windows, target_os = "macos"))]
async fn ask_once(request: &Request) -> Result<Option<Secret>, PromptError> {
    #[cfg(target_os = "macos")]
    {
        macos::ask(request).await
    }
    #[cfg(windows)]
    {
        windows::ask(request).await
    }
}

/// The change as three dialogs of the sign-in kind: current, new, new again.
#[cfg(any(windows, target_os = "macos"))]
async fn in_steps(request: &ChangeRequest) -> Result<Option<ChangeAnswers>, PromptError> {
    let mut first = request.current();
    if let Some(problem) = &request.problem {
        first.description = format!("{problem}\n\n{}", first.description);
    }
    let Some(current) = ask_once(&first).await? else {
        return Ok(None);
    };
    let mut new_request = request.new_password();
    for _ in 0..MAX_MISMATCHES {
        let Some(new) = ask_once(&new_request).await? else {
            return Ok(None);
        };
        let Some(again) = ask_once(&request.repeat()).await? else {
            return Ok(None);
        };
        if again == new {
            return Ok(Some(ChangeAnswers { current, new }));
        }
        new_request.description = format!("{MISMATCH}\n\n{}", request.new_password().description);
    }
    Err(PromptError::Failed(
        "the two entries of the new password differed too often".into(),
    ))
}

/// The words of the dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Who signs in (shown pre-filled where the dialog has a user field).
    pub account: String,
    pub title: String,
    pub description: String,
    pub prompt: String,
    pub ok: String,
}

impl Request {
    /// The sign-in dialog for one account.
    pub fn for_account(account: &str) -> Request {
        Request {
            account: account.to_string(),
            title: "Sign-in Assistant".into(),
            description: format!(
                "Enter the password of {account}.\nIt is kept in your keyring and used only to check when it expires."
            ),
            prompt: "Password:".into(),
            ok: "Sign in".into(),
        }
    }
}
