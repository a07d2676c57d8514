//! Changing the password right here, as one step for the person: ask (the desktop's dialog or
//! the command line), change it in the directory, put the new password in the keyring at once,
//! and read the status again, so that one balloon can say "Password changed — good until …" and
//! the warnings stop.
//!
//! Keyring rules (the same spirit as [`crate::work::account`]): the keyring must answer before anything
//! is sent, so a locked keyring changes nothing; the moment the directory has the new password,
//! it replaces the old one in the keyring; if that write fails, the old one is removed (it no
//! longer works) and the person is told plainly that the directory has the new password but the
//! keyring does not. The new status is saved as the baseline of later checks, so that the change
//! is not mistaken for a change made elsewhere.
//!
//! Entra ID accounts, and LDAP accounts whose admin chose the portal, change it on the web:
//! [`route`] says which. The tray and the balloon call [`change_interactively`].

use std::time::Duration;

use chrono::{Local, TimeZone, Utc};

use crate::providers::capabilities::{ChangeError, ChangedVia};
use crate::providers::{IdentityProvider, ProviderError};
use crate::rules::expiry::{evaluate, Balloon, Finding, PasswordState, Status, Urgency};
use crate::screen::desktop::Desktop;
use crate::screen::dialog::change::ChangeRequest;
use crate::screen::dialog::PromptError;
use crate::system::config::Config;
use crate::system::credentials::{CredentialCache, EndpointIdentity, KeyringError, Secret};
use crate::system::portal;
use crate::system::state::{SavedState, StateFile};

/// How long a keyring call may take before the keyring counts as unavailable.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts in one dialog session: each wrong current password is a failed sign-in that counts
/// towards the directory's lockout, so the dialog does not insist.
const MAX_ATTEMPTS: usize = 3;

/// Where the person changes the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// In this program's dialog ([`change_interactively`], `change-password`).
    Here,
    /// On this web page (Entra ID, or `[ldap] change = "portal"`).
    Portal(String),
}

impl Route {
    /// The web page a click opens; `None` when the click opens this program's dialog.
    pub fn portal(&self) -> Option<&str> {
        match self {
            Route::Here => None,
            Route::Portal(url) => Some(url),
        }
    }
}

/// The route for this configuration: Entra ID always uses the portal (changing the password
/// needs admin-consented permissions); LDAP/AD use `[ldap] change`, and when that is not set,
/// here unless `[portal] url` names a page other than the built-in default (Microsoft's, which
/// cannot change an on-premises password). `offered_portal` is the page the endpoint named with
/// the last status (used when trusted, see [`portal::choose`]).
pub fn route(config: &Config, offered_portal: Option<&str>) -> Route {
    let portal = || Route::Portal(portal::choose(config, offered_portal));
    let provider = crate::providers::registration(config.provider.kind);
    if (provider.changes_password_here)(config) {
        Route::Here
    } else {
        portal()
    }
}

/// Why the password was not changed, or what went wrong after it was. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum ChangeFailure {
    /// The directory did not take the new password; the keyring is as it was.
    #[error("{0}")]
    NotChanged(ChangeError),
    /// The keyring did not answer before the change: nothing was sent.
    #[error("{0}; nothing was changed")]
    Keyring(KeyringError),
    #[error("the password dialog failed: {0}")]
    Dialog(PromptError),
    #[error("this account's password is changed on the web: {0}")]
    UsePortal(String),
    /// The request went out but its result is unknown; the keyring keeps the old password.
    #[error("it is not known whether the password was changed ({0}); if the new password does not work, the old one still does: try `signin-assistant sign-in` with the new one")]
    Unconfirmed(String),
    /// The directory has the new password, the keyring does not.
    #[error("{}", keyring_not_updated(.error, *.old_removed))]
    KeyringNotUpdated {
        error: KeyringError,
        /// Whether the old (no longer valid) password could at least be removed.
        old_removed: bool,
    },
}

fn keyring_not_updated(error: &KeyringError, old_removed: bool) -> String {
    let state = if old_removed {
        "the old password was removed from it"
    } else {
        "it still holds the OLD password, which no longer works"
    };
    format!(
        "your password WAS changed in the directory, but the keyring could not be updated ({error}); \
         {state}: run `signin-assistant sign-in` with the NEW password"
    )
}

impl ChangeFailure {
    /// Whether asking again may help (a typo, a password the policy refused).
    pub fn worth_asking_again(&self) -> bool {
        matches!(
            self,
            ChangeFailure::NotChanged(
                ChangeError::WrongCurrent
                    | ChangeError::Refused(_)
                    | ChangeError::SameAsCurrent
                    | ChangeError::EmptyNew
            )
        )
    }

    /// Whether the directory may hold the new password although this failed: worth saying loudly.
    pub fn directory_may_have_changed(&self) -> bool {
        matches!(
            self,
            ChangeFailure::Unconfirmed(_) | ChangeFailure::KeyringNotUpdated { .. }
        )
    }

    /// The failure as a sentence for the person.
    pub fn in_words(&self) -> String {
        if self.directory_may_have_changed() {
            sentence(&self.to_string())
        } else {
            format!("The password was not changed: {self}.")
        }
    }

    /// Whether the configuration is at fault (the command exits with 2).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ChangeFailure::NotChanged(ChangeError::Provider(ProviderError::Config(_)))
        )
    }
}

/// A changed password and the status read with it.
#[derive(Debug, Clone)]
pub struct Changed {
    pub via: ChangedVia,
    /// The status with the new password (unknown when it could not be read).
    pub status: Status,
    /// Why the status could not be read again, when so; the new password is kept all the same.
    pub recheck_error: Option<String>,
    /// The state saved with the new status (or with why it could not be read).
    pub saved: Box<SavedState>,
}

impl Changed {
    /// "Password changed — good until Fri 4 Dec 2026", in local time.
    pub fn summary(&self) -> String {
        changed_summary(&self.status, &Local)
    }

    /// The one balloon that ends the warnings.
    pub fn balloon(&self) -> Balloon {
        let body = match &self.recheck_error {
            None => "Your keyring holds the new password; the warnings stop.".to_string(),
            Some(e) => format!(
                "Your keyring holds the new password. The new deadline could not be read yet ({e}); the next check will."
            ),
        };
        Balloon {
            title: self.summary(),
            body,
            urgency: Urgency::Normal,
        }
    }
}

/// The words of the balloon's title for a status read after a change.
pub fn changed_summary<Tz: TimeZone>(status: &Status, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    match (status.state, status.expires_at) {
        (PasswordState::Ok | PasswordState::Warning, Some(at)) => format!(
            "Password changed — good until {}",
            at.with_timezone(tz).format("%a %-d %b %Y")
        ),
        (PasswordState::NeverExpires, _) => "Password changed — it does not expire".to_string(),
        _ => "Password changed".to_string(),
    }
}

/// How a dialog session ended.
#[derive(Debug)]
pub enum Interaction {
    /// The person closed the dialog: nothing changed.
    Cancelled,
    Changed(Changed),
    Failed(ChangeFailure),
}

/// The whole change from the desktop: the dialog (asked again with the directory's reason when
/// it refuses, at most three times), the change, the keyring and the new status. For the tray's
/// "Change password…" and a click on the balloon when [`route`] says [`Route::Here`]; the dialog
/// is the desktop's.
pub async fn change_interactively(
    config: &Config,
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    state_file: &StateFile,
    desktop: &impl Desktop,
    account: &str,
) -> Interaction {
    let mut problem = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let request = ChangeRequest {
            account: account.to_string(),
            problem: problem.take(),
        };
        let answers = match desktop.ask_change(&request).await {
            Ok(Some(answers)) => answers,
            Ok(None) => return Interaction::Cancelled,
            Err(e) => return Interaction::Failed(ChangeFailure::Dialog(e)),
        };
        let result = change(
            config,
            provider,
            cache,
            state_file,
            account,
            &answers.current,
            &answers.new,
        )
        .await;
        match result {
            Ok(changed) => return Interaction::Changed(changed),
            Err(e) if e.worth_asking_again() && attempt < MAX_ATTEMPTS => {
                tracing::info!(error = %e, "the password was not changed; asking again");
                problem = Some(sentence(&e.to_string()));
            }
            Err(e) => return Interaction::Failed(e),
        }
    }
    unreachable!("the last attempt returns")
}

/// Changes `account`'s password from `current` to `new`, then keeps the new one in the keyring
/// and saves the status read with it.
pub async fn change(
    config: &Config,
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    state_file: &StateFile,
    account: &str,
    current: &Secret,
    new: &Secret,
) -> Result<Changed, ChangeFailure> {
    let Some(directory) = provider.changes_password_here() else {
        return Err(ChangeFailure::UsePortal(portal::choose(
            config,
            state_file.load().offered_portal_url(),
        )));
    };
    // The keyring must be able to take the new password before the directory gets it.
    keyring(cache, {
        let account = account.to_string();
        move |c| c.has_password(&account).map(drop)
    })
    .await
    .map_err(ChangeFailure::Keyring)?;
    let via = match directory.change_password(account, current, new).await {
        Ok(via) => via,
        Err(ChangeError::Unconfirmed { endpoint, detail }) => {
            confirm(provider, account, new, format!("{endpoint}: {detail}")).await?
        }
        Err(e) => return Err(ChangeFailure::NotChanged(e)),
    };
    tracing::info!(
        ?via,
        "the directory has the new password; updating the keyring"
    );
    keep_new(cache, account, provider.endpoint(), new).await?;
    let (status, recheck_error, saved) = recheck(config, provider, state_file, account, new).await;
    Ok(Changed {
        via,
        status,
        recheck_error,
        saved: Box::new(saved),
    })
}

/// After a request whose answer was lost: the change happened if the new password signs in.
async fn confirm(
    provider: &impl IdentityProvider,
    account: &str,
    new: &Secret,
    detail: String,
) -> Result<ChangedVia, ChangeFailure> {
    tracing::warn!(%detail, "no answer to the change; trying the new password");
    match provider.authenticate(account, new).await {
        Ok(attempt) if attempt.password_accepted => Ok(ChangedVia::Ldap),
        Err(ProviderError::AcceptedWithoutFacts { .. }) => Ok(ChangedVia::Ldap),
        _ => Err(ChangeFailure::Unconfirmed(detail)),
    }
}

/// Replaces the old password in the keyring; when that fails, removes the old one (it no longer
/// works) and says so.
async fn keep_new(
    cache: &CredentialCache,
    account: &str,
    endpoint: EndpointIdentity,
    new: &Secret,
) -> Result<(), ChangeFailure> {
    let stored = keyring(cache, {
        let (account, new) = (account.to_string(), new.clone());
        move |c| c.store_password(&account, &endpoint, &new)
    })
    .await;
    let Err(error) = stored else {
        return Ok(());
    };
    tracing::error!(%error, "the directory has the new password but the keyring could not keep it");
    let removed = keyring(cache, {
        let account = account.to_string();
        move |c| c.forget(&account)
    })
    .await;
    Err(ChangeFailure::KeyringNotUpdated {
        error,
        old_removed: removed.is_ok(),
    })
}

/// Signs in with the new password and saves what the directory says now as the new baseline.
/// When that fails, the old determination is dropped: its older change date must not make the
/// next check think the password was changed elsewhere.
async fn recheck(
    config: &Config,
    provider: &impl IdentityProvider,
    state_file: &StateFile,
    account: &str,
    new: &Secret,
) -> (Status, Option<String>, SavedState) {
    let now = Utc::now();
    let mut saved = state_file.load();
    let (status, error) = match provider.authenticate(account, new).await {
        Ok(attempt) if attempt.password_accepted => {
            let status = evaluate(now, &attempt.finding, &config.policy());
            saved.record_finding(account, attempt.finding, now);
            (status, None)
        }
        Ok(attempt) => {
            let why = match attempt.finding {
                Finding::SignInRequired { reason } => reason.explain().to_string(),
                Finding::Facts(_) => "the directory did not accept the new password yet".into(),
            };
            (Status::unknown(Some(why.clone())), Some(why))
        }
        Err(e) => (Status::unknown(Some(e.to_string())), Some(e.to_string())),
    };
    if let Some(error) = &error {
        tracing::warn!(%error, "the password was changed, but its new status could not be read");
        if saved.account.as_deref() == Some(account) {
            saved.finding = None;
            saved.checked_at = None;
        }
        saved.record_failure(
            &format!("the password was changed; its new deadline is not known yet ({error})"),
            now,
        );
    }
    if let Err(e) = state_file.save(&saved) {
        tracing::warn!(error = %e, "could not save the state");
    }
    (status, error, saved)
}

/// Runs a blocking keyring call off the async threads, bounded in time.
async fn keyring<T: Send + 'static>(
    cache: &CredentialCache,
    call: impl FnOnce(&CredentialCache) -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    let cache = cache.clone();
    let task = tokio::task::spawn_blocking(move || call(&cache));
    match tokio::time::timeout(KEYRING_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(KeyringError::Failed(format!("keyring task failed: {e}"))),
        Err(_) => Err(KeyringError::Unavailable(format!(
            "it did not answer within {} s",
            KEYRING_TIMEOUT.as_secs()
        ))),
    }
}

/// An error message as a sentence for a dialog: capital first letter, full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out = format!("{}{}", first.to_uppercase(), chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ldap::change::{Refusal, Rule};
    use chrono::TimeZone;
    use std::path::Path;

    fn config(text: &str) -> Config {
        let mut config = Config::default();
        config
            .apply_text(Path::new("/etc/sa.toml"), text)
            .expect("valid toml");
        config
    }

    #[test]
    fn routes_follow_the_provider_and_the_settings() {
        let entra = config("");
        assert_eq!(
            route(&entra, None),
            Route::Portal("https://passwordreset.microsoftonline.com/".into())
        );
        let ldap = config("[provider]\nkind = \"ldap\"\n");
        assert_eq!(route(&ldap, None), Route::Here);
        let with_portal =
            config("[provider]\nkind = \"ldap\"\n[portal]\nurl = \"https://id.example.com/pw\"\n");
        assert_eq!(
            route(&with_portal, None),
            Route::Portal("https://id.example.com/pw".into())
        );
        // Microsoft's page written out (as in the documented example file) is no portal of one's own.
        let default_written = config(
            "[provider]\nkind = \"ldap\"\n[portal]\nurl = \"https://passwordreset.microsoftonline.com/\"\n",
        );
        assert_eq!(route(&default_written, None), Route::Here);
        let here_anyway = config(
            "[provider]\nkind = \"ldap\"\n[ldap]\nchange = \"here\"\n[portal]\nurl = \"https://id.example.com/pw\"\n",
        );
        assert_eq!(route(&here_anyway, None), Route::Here);
        let portal = config("[provider]\nkind = \"ldap\"\n[ldap]\nchange = \"portal\"\n");
        assert_eq!(
            route(&portal, None),
            Route::Portal("https://passwordreset.microsoftonline.com/".into())
        );
        let err = Config::default()
            .apply_text(Path::new("/etc/sa.toml"), "[ldap]\nchange = \"browser\"\n")
            .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.change"));
    }

    #[test]
    fn the_balloon_says_until_when() {
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let status = Status {
            state: PasswordState::Ok,
            expires_at: Some(at),
            days_left: Some(90),
            urgent: false,
            source: None,
            reason: None,
        };
        assert_eq!(
            changed_summary(&status, &Utc),
            "Password changed — good until Fri 4 Dec 2026"
        );
        let never = Status {
            state: PasswordState::NeverExpires,
            expires_at: None,
            ..status.clone()
        };
        assert_eq!(
            changed_summary(&never, &Utc),
            "Password changed — it does not expire"
        );
        assert_eq!(
            changed_summary(&Status::unknown(None), &Utc),
            "Password changed"
        );
    }

    #[test]
    fn only_typos_and_refusals_are_asked_again() {
        let refused = ChangeFailure::NotChanged(ChangeError::Refused(Refusal {
            rule: Rule::TooShort,
            detail: None,
            rules: vec![],
        }));
        assert!(refused.worth_asking_again());
        assert!(ChangeFailure::NotChanged(ChangeError::WrongCurrent).worth_asking_again());
        assert!(!ChangeFailure::Unconfirmed("x".into()).worth_asking_again());
        assert!(!ChangeFailure::KeyringNotUpdated {
            error: KeyringError::Locked,
            old_removed: true
        }
        .worth_asking_again());
        assert_eq!(
            sentence("the new password was refused: it is too short"),
            "The new password was refused: it is too short."
        );
    }

    /// The agent runs the flow in a task of its own: its future must be `Send`.
    #[allow(dead_code)]
    fn the_flow_can_run_in_a_task(
        config: &Config,
        provider: &crate::providers::Provider,
        cache: &CredentialCache,
        state_file: &StateFile,
        desktop: &crate::screen::desktop::RealDesktop,
    ) {
        fn send<T: Send>(_: T) {}
        send(change_interactively(
            config, provider, cache, state_file, desktop, "alice",
        ));
    }

    #[test]
    fn a_keyring_that_lags_behind_is_said_plainly() {
        let text = ChangeFailure::KeyringNotUpdated {
            error: KeyringError::Locked,
            old_removed: false,
        }
        .to_string();
        assert!(text.contains("WAS changed in the directory"), "{text}");
        assert!(text.contains("OLD password"), "{text}");
        assert!(text.contains("sign-in"), "{text}");
    }
}
