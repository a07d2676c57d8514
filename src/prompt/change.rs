//! The change-password dialog: the current password, then the new one twice, in the same native
//! dialog the sign-in uses.
//!
//! On Linux one pinentry run asks both, and its own repeat field and quality bar are used where the
//! pinentry has them (the repetition is checked here when it has not). On macOS and Windows the
//! sign-in dialog is shown three times with different words. When the directory refused the
//! previous attempt, its reason is shown in the dialog. Everything typed goes straight into
//! [`Secret`]s; the quality estimate sees the new password only to count its characters.

use crate::config::PromptConfig;
use crate::credentials::Secret;

use super::{PromptError, Request};

/// How often the new password may be typed differently twice before the dialog gives up.
pub const MAX_MISMATCHES: usize = 3;

/// What the person typed: the password they use now and the new one (typed twice, the same).
#[derive(Debug)]
pub struct ChangeAnswers {
    pub current: Secret,
    pub new: Secret,
}

/// The words of the change-password dialog for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub account: String,
    /// Why the last attempt did not work (the directory's reason), shown as the dialog's error.
    pub problem: Option<String>,
}

impl ChangeRequest {
    pub fn title(&self) -> String {
        "Change password".to_string()
    }

    /// The first step: the password in use now.
    pub fn current(&self) -> Request {
        Request {
            account: self.account.clone(),
            title: self.title(),
            description: format!(
                "Change the password of {}.\nFirst, the password you use now.",
                self.account
            ),
            prompt: "Current password:".into(),
            ok: "Next".into(),
        }
    }

    /// The second step: the new password.
    pub fn new_password(&self) -> Request {
        Request {
            account: self.account.clone(),
            title: self.title(),
            description: format!(
                "Choose the new password of {}.\nThe directory checks it against its rules; \
                 your keyring is updated when it is accepted.",
                self.account
            ),
            prompt: "New password:".into(),
            ok: "Change password".into(),
        }
    }

    /// The new password again, when the dialog has no repeat field of its own.
    pub fn repeat(&self) -> Request {
        Request {
            account: self.account.clone(),
            title: self.title(),
            description: "Type the new password again.".into(),
            prompt: "New password again:".into(),
            ok: "Change password".into(),
        }
    }
}

/// The error shown when the two entries of the new password differ.
pub const MISMATCH: &str = "The two entries of the new password differ; type it twice again.";

/// A rough strength estimate (0..=100) for pinentry's quality bar: length and kinds of
/// characters. Only a hint while typing: the directory's rules decide.
pub fn quality(pin: &[u8]) -> i32 {
    let text = String::from_utf8_lossy(pin);
    let length = text.chars().count();
    let kinds = [
        text.chars().any(|c| c.is_lowercase()),
        text.chars().any(|c| c.is_uppercase()),
        text.chars().any(|c| c.is_numeric()),
        text.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    let score = length.saturating_mul(5) + kinds.saturating_sub(1) * 15;
    i32::try_from(score.min(100)).unwrap_or(100)
}

/// Shows the change-password dialog for `request`: `Ok(None)` when the person cancels.
pub async fn ask_password_change(
    request: &ChangeRequest,
    config: &PromptConfig,
) -> Result<Option<ChangeAnswers>, PromptError> {
    #[cfg(target_os = "macos")]
    {
        let _ = config;
        in_steps(request).await
    }
    #[cfg(target_os = "windows")]
    {
        let _ = config;
        in_steps(request).await
    }
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    {
        let program = super::pinentry::choose_program(config.pinentry.as_deref())?;
        super::pinentry::ask_change(&program, request).await
    }
}

/// One dialog of the sign-in kind (osascript on macOS, the credential dialog on Windows).
#[cfg(any(target_os = "macos", target_os = "windows"))]
async fn ask(request: &Request) -> Result<Option<Secret>, PromptError> {
    #[cfg(target_os = "macos")]
    {
        super::macos::ask(request).await
    }
    #[cfg(target_os = "windows")]
    {
        super::windows::ask(request).await
    }
}

/// The change as three dialogs of the sign-in kind: current, new, new again.
#[cfg(any(target_os = "macos", target_os = "windows"))]
async fn in_steps(request: &ChangeRequest) -> Result<Option<ChangeAnswers>, PromptError> {
    let mut first = request.current();
    if let Some(problem) = &request.problem {
        first.description = format!("{problem}\n\n{}", first.description);
    }
    let Some(current) = ask(&first).await? else {
        return Ok(None);
    };
    let mut new_request = request.new_password();
    for _ in 0..MAX_MISMATCHES {
        let Some(new) = ask(&new_request).await? else {
            return Ok(None);
        };
        let Some(again) = ask(&request.repeat()).await? else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_grows_with_length_and_kinds() {
        assert_eq!(quality(b""), 0);
        assert_eq!(quality(b"abc"), 15);
        assert!(quality(b"abcdefgh") < quality(b"abcdEFG1"));
        assert_eq!(quality(b"Correct-Horse-Battery-9"), 100);
        assert_eq!(quality(&[0xff, 0xfe]), 10);
    }

    #[test]
    fn the_steps_say_what_to_type() {
        let request = ChangeRequest {
            account: "alice@example.com".into(),
            problem: None,
        };
        assert!(request.current().description.contains("alice@example.com"));
        assert_eq!(request.current().prompt, "Current password:");
        assert_eq!(request.new_password().prompt, "New password:");
        assert_eq!(request.repeat().prompt, "New password again:");
    }
}
