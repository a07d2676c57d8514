//! What the change-password dialog asks and answers: the current password, then the new one
//! twice, with the words of each step, the directory's reason when it refused the previous
//! attempt, and the quality estimate of pinentry's bar. Which dialog shows it is chosen in
//! [`super::ask_password_change`]. Everything typed goes straight into [`Secret`]s; the quality
//! estimate sees the new password only to count its characters.

use crate::system::credentials::Secret;

use super::Request;

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
