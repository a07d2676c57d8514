//! What the agent shows and asks on the person's screen: balloons (with how they ended), the
//! password dialogs (sign-in, change) and web pages opened in the browser. A seam, so agent
//! behaviour is tested without a notification server, a dialog program or a browser; the real
//! desktop is [`Notifier`] plus the platform's dialog and the person's browser.
//!
//! The screen only shows and reports: what a click on a balloon leads to is decided by the
//! caller (see `work::password_change::Route`), which then asks for it here.

use std::future::Future;

use crate::rules::expiry::Balloon;
use crate::screen::balloon::{NotShown, Notifier};
use crate::screen::dialog::ask_password_change;
use crate::screen::dialog::change::{ChangeAnswers, ChangeRequest};
use crate::screen::dialog::{self, PromptError};
use crate::system::config::{Config, PromptConfig};
use crate::system::credentials::Secret;
use crate::system::portal;
use crate::system::state::BalloonOutcome;

/// The person's screen.
pub trait Desktop: Clone + Send + Sync + 'static {
    /// Shows the balloon and waits until it ends; the caller acts on a click. `link` is the web
    /// address the click leads to, if any: printed with the balloon where it falls back to
    /// text (no notification server), never opened here. `on_screen` is called once the
    /// balloon is shown (or went to stderr), before its end is waited for; a balloon the screen
    /// did not take ([`NotShown`]) never calls it.
    fn show(
        &self,
        balloon: &Balloon,
        link: Option<&str>,
        on_screen: impl FnOnce() + Send,
    ) -> impl Future<Output = Result<BalloonOutcome, NotShown>> + Send;

    /// Opens `url` in the person's browser, without waiting for it. The caller has already
    /// checked that the page may be opened (the allow-list of [`crate::system::portal`]).
    fn open_page(&self, url: &str);

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
        link: Option<&str>,
        on_screen: impl FnOnce() + Send,
    ) -> impl Future<Output = Result<BalloonOutcome, NotShown>> + Send {
        self.notifier.show(balloon, link, on_screen)
    }

    fn open_page(&self, url: &str) {
        portal::open(url);
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
