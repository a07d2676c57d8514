//! What a provider can do besides checking a password, asked as a question: "can you sign a
//! person in interactively?", "can you change the password here?", "do you check with the
//! person's Kerberos ticket?". The work layer asks
//! [`IdentityProvider::interactive_sign_in`](super::IdentityProvider::interactive_sign_in),
//! [`IdentityProvider::changes_password_here`](super::IdentityProvider::changes_password_here)
//! and [`IdentityProvider::checks_with_ticket`](super::IdentityProvider::checks_with_ticket)
//! and never names a concrete provider; a provider without the capability answers `None` (the
//! default, which the test fakes keep).
//!
//! The traits are object safe (their futures are boxed): each is used once per person's action,
//! so the allocation does not matter, and a provider hands out `&dyn` without naming its type.
//! The values they carry (the OAuth tokens an interactive sign-in brings back, the device code
//! prompt, why a change failed) are defined by the provider that has them today and named here,
//! so that callers find them in one place.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use url::Url;

use super::{Attempt, ProviderError};
use crate::system::credentials::Secret;

pub use super::entra::device_code::DeviceCodePrompt;
pub use super::entra::{InteractiveError, IssuedTokens};
pub use super::ldap::change::{ChangeError, ChangedVia};

/// A boxed future, so that capability traits stay object safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Signing a person in on a page of the endpoint (browser or device code) instead of with a
/// password this program sees: for tenants with MFA, passwordless sign-in or federation.
pub trait InteractiveSignIn: Send + Sync {
    /// Starts a browser sign-in (authorization code with PKCE, RFC 8252); `login_hint`
    /// pre-fills the account on the sign-in page.
    fn start_browser<'a>(
        &'a self,
        login_hint: Option<&'a str>,
    ) -> Pending<'a, Result<Box<dyn BrowserSignIn<'a> + 'a>, InteractiveError>>;

    /// Starts a device code sign-in (RFC 8628).
    fn start_device_code(
        &self,
    ) -> Pending<'_, Result<Box<dyn DeviceCodeSignIn<'_> + '_>, InteractiveError>>;

    /// Learns the facts about the account the tokens belong to (the tokens are kept in the
    /// returned [`Attempt`]'s refresh token).
    fn accept(&self, issued: IssuedTokens) -> Pending<'_, Result<Attempt, ProviderError>>;
}

/// A browser sign-in under way: the page to open, then the wait for the browser to come back.
pub trait BrowserSignIn<'a>: Send {
    /// The page to open in the browser.
    fn url(&self) -> &Url;
    /// Waits up to `timeout` for the browser to come back, then redeems what it brought.
    fn finish(
        self: Box<Self>,
        timeout: Duration,
    ) -> Pending<'a, Result<IssuedTokens, InteractiveError>>;
}

/// A device code sign-in under way: what to show, then the wait for the person.
pub trait DeviceCodeSignIn<'a>: Send {
    /// Where to go and which code to enter.
    fn prompt(&self) -> &DeviceCodePrompt;
    /// Waits until the person has entered the code (or the code expired).
    fn finish(self: Box<Self>) -> Pending<'a, Result<IssuedTokens, InteractiveError>>;
}

/// Changing the password in the directory itself, from this program's dialog.
pub trait ChangesPasswordHere: Send + Sync {
    /// Changes `username`'s password from `current` to `new`, and says how.
    fn change_password<'a>(
        &'a self,
        username: &'a str,
        current: &'a Secret,
        new: &'a Secret,
    ) -> Pending<'a, Result<ChangedVia, ChangeError>>;
}

/// Checking with what this computer already holds for the person (a Kerberos ticket) instead of
/// a password: nothing is asked, nothing is kept in the keyring.
pub trait ChecksWithTicket: Send + Sync {
    /// The account of the person's ticket (its principal), when there is a valid one.
    fn ticket_account(&self) -> Option<String>;

    /// One check of `account` with its ticket; a missing or expired ticket is a reason to
    /// sign in, not an error.
    fn check_with_ticket<'a>(
        &'a self,
        account: &'a str,
    ) -> Pending<'a, Result<Attempt, ProviderError>>;
}
