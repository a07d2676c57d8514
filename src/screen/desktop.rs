//! What the agent shows and asks on the person's screen: balloons (with how they ended) and the
//! password dialogs (sign-in, change). A seam, so agent behaviour is tested without a notification server or a
//! dialog program; the real desktop is [`balloon::Notifier`](crate::screen::balloon::Notifier) plus the platform's dialog.

use std::future::Future;

use crate::rules::expiry::Balloon;
use crate::screen::balloon::Notifier;
use crate::screen::dialog::ask_password_change;
use crate::screen::dialog::change::{ChangeAnswers, ChangeRequest};
use crate::screen::dialog::{self, PromptError};
use crate::system::config::{Config, PromptConfig};
use crate::system::credentials::Secret;
use crate::system::state::BalloonOutcome;

/// The person's screen.
pub trait Desktop: Clone + Send + Sync + 'static {
    /// Shows the balloon and waits until it ends; a click opens `portal_url` when given (else
    /// the caller acts on the click).
    fn show(
        &self,
        balloon: &Balloon,
        portal_url: Option<&str>,
    ) -> impl Future<Output = BalloonOutcome> + Send;

    /// Asks for the account's password; `None` when the person cancelled.
    fn ask_password(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Option<Secret>, PromptError>> + Send;

    /// Asks for the current and the new password (twice); `None` when the person cancelled.
    fn ask_change(
        &self,
        request: &ChangeRequest,
    ) -> impl Future<Output = Result<Option<ChangeAnswers>, PromptError>> + Send;
}

/// The real desktop: the notification server and the platform's password dialog.
#[derive(Debug, Clone)]
pub struct RealDesktop {
    pub notifier: Notifier,
    pub prompt: PromptConfig,
}

/// How long balloons wait for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// The agent: balloons that stay until the person acts do stay.
    Agent,
    /// A one-shot command: every balloon is waited for only the configured timeout.
    OneShot,
}

impl RealDesktop {
    /// The desktop with the configured balloon timeout and dialog program.
    pub fn from_config(config: &Config, patience: Patience) -> RealDesktop {
        RealDesktop {
            notifier: Notifier {
                timeout: std::time::Duration::from_secs(config.policy.balloon_timeout_secs),
                critical_stays: patience == Patience::Agent,
            },
            prompt: config.prompt.clone(),
        }
    }
}

impl Desktop for RealDesktop {
    fn show(
        &self,
        balloon: &Balloon,
        portal_url: Option<&str>,
    ) -> impl Future<Output = BalloonOutcome> + Send {
        self.notifier.show(balloon, portal_url)
    }

    fn ask_password(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Option<Secret>, PromptError>> + Send {
        dialog::ask_password(account, &self.prompt)
    }

    fn ask_change(
        &self,
        request: &ChangeRequest,
    ) -> impl Future<Output = Result<Option<ChangeAnswers>, PromptError>> + Send {
        ask_password_change(request, &self.prompt)
    }
}
