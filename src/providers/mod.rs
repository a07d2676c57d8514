//! The identity endpoints signin-assistant asks, behind one small interface.
//!
//! A provider makes one authentication attempt with the user's credentials and reports what the
//! endpoint said as a [`Finding`] (facts about an accepted password, or why sign-in is needed).
//! Caching decisions are not made here: [`Attempt::password_accepted`] tells the caller whether the
//! endpoint accepted the password as the user's (success or expired), which is the only case in
//! which it may be cached.

pub mod capabilities;
pub mod entra;
pub(crate) mod http;
pub use http::install_tls_crypto;
pub mod ldap;

use std::future::Future;

use crate::rules::expiry::{Finding, SignInReason};
use crate::system::config::{Config, Missing, ProviderKind, SignInMethod};
use crate::system::credentials::{EndpointIdentity, Secret};
use capabilities::{ChangesPasswordHere, ChecksWithTicket, InteractiveSignIn};

/// The result of one authentication attempt that reached the endpoint.
#[derive(Debug)]
pub struct Attempt {
    pub finding: Finding,
    /// The endpoint accepted the password as the user's (it may have expired): cache it.
    pub password_accepted: bool,
    /// A new refresh token to keep (Entra only).
    pub refresh_token: Option<Secret>,
}

impl Attempt {
    /// An attempt the endpoint refused: nothing to cache.
    pub fn refused(reason: SignInReason) -> Attempt {
        Attempt {
            finding: Finding::SignInRequired { reason },
            password_accepted: false,
            refresh_token: None,
        }
    }
}

/// The result of trying a kept refresh token.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Accepted: here are the facts and the token to keep from now on.
    Accepted(Attempt),
    /// Revoked or expired (e.g. the password was changed elsewhere): fall back to the password.
    Revoked,
}

/// Why a status could not be determined. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    // Transparent: the configuration error is the whole message (printed once, not twice).
    #[error(transparent)]
    Config(#[from] crate::system::config::ConfigError),
    #[error("could not reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("{endpoint} did not answer within {secs} s")]
    Timeout { endpoint: String, secs: u64 },
    #[error("{endpoint} is throttling requests (HTTP {status}); try again later")]
    Throttled {
        endpoint: String,
        status: u16,
        /// How long the endpoint asked to wait (its `Retry-After`, or a short default).
        retry_after: std::time::Duration,
    },
    #[error("{endpoint} answered with something unexpected: {detail}")]
    Protocol { endpoint: String, detail: String },
    /// The password (or refresh token) was accepted, but the deadline could not be learned.
    /// The caller keeps the credentials (and the new refresh token) and reports `source`.
    #[error("the password was accepted, but {source}")]
    AcceptedWithoutFacts {
        refresh_token: Option<Secret>,
        source: Box<ProviderError>,
    },
    #[error("{endpoint} refused the sign-in with error {code}: {error}")]
    Endpoint {
        endpoint: String,
        code: String,
        error: String,
    },
    /// The Kerberos side of a sign-in with the person's ticket failed (not a missing ticket,
    /// which is a reason to sign in): an unknown server, the library's own words.
    #[error("signing in to {endpoint} with Kerberos failed: {detail}")]
    Kerberos { endpoint: String, detail: String },
}

impl ProviderError {
    /// How long a throttling endpoint asked to wait before the next request, also when the
    /// throttling came after the password was accepted.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ProviderError::Throttled { retry_after, .. } => Some(*retry_after),
            ProviderError::AcceptedWithoutFacts { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// What the rest of the program needs from an identity endpoint. A seam: the agent and the
/// account rules are tested against a fake; [`Provider`] is the real one.
pub trait IdentityProvider: Send + Sync + 'static {
    /// One authentication attempt with a password.
    fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> impl Future<Output = Result<Attempt, ProviderError>> + Send;

    /// Tries a kept refresh token; providers without refresh tokens say `Revoked`.
    fn refresh(
        &self,
        username: &str,
        refresh_token: &Secret,
    ) -> impl Future<Output = Result<RefreshOutcome, ProviderError>> + Send;

    /// Whether this provider hands out refresh tokens worth keeping.
    fn uses_refresh_tokens(&self) -> bool;

    /// The endpoint that receives the credentials, as the configuration names it: a kept
    /// secret is sent only to the endpoint that accepted it.
    fn endpoint(&self) -> EndpointIdentity;

    /// Signing a person in on the endpoint's own page (browser, device code), for
    /// [`crate::work::entra_sign_in`]; `None` when the provider cannot (and for fakes).
    fn interactive_sign_in(&self) -> Option<&dyn InteractiveSignIn> {
        None
    }

    /// Changing the password in the directory itself, for [`crate::work::password_change`];
    /// `None` when the provider cannot (and for fakes).
    fn changes_password_here(&self) -> Option<&dyn ChangesPasswordHere> {
        None
    }

    /// Checking with the person's Kerberos ticket instead of a kept password, for
    /// [`crate::work::account`]; `None` when the provider checks with a password (and for fakes).
    fn checks_with_ticket(&self) -> Option<&dyn ChecksWithTicket> {
        None
    }

    /// How far this computer's clock was ahead of the endpoint's at its last answer (negative:
    /// behind), when the endpoint says its time.
    fn clock_offset_secs(&self) -> Option<i64> {
        None
    }
}

/// The configured identity endpoint.
// One per process: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Provider {
    Entra(entra::EntraProvider),
    Ldap(ldap::LdapProvider),
}

impl Provider {
    /// Builds the provider the configuration names.
    pub fn from_config(config: &Config) -> Result<Provider, ProviderError> {
        (registration(config.provider.kind).build)(config)
    }
}

/// What the rest of the program knows about one kind of provider before one is built: the
/// meaning of its configuration table, what it can do, how it is built. Each provider folder
/// defines its own; [`REGISTERED`] lists them.
pub struct Registration {
    /// The `[provider] kind` it answers to.
    pub kind: ProviderKind,
    /// That kind's name in the configuration (`kind = "entra"`), also the name of its table.
    pub name: &'static str,
    /// Builds it from the configuration.
    pub build: fn(&Config) -> Result<Provider, ProviderError>,
    /// The values it cannot work without that no layer sets (empty: set up).
    pub missing: fn(&Config) -> Vec<Missing>,
    /// Every value of its table that can be missing, with the words for a person.
    pub words: &'static [Missing],
    /// How "Sign in" signs in, for providers with an interactive sign-in
    /// ([`IdentityProvider::interactive_sign_in`]); `None`: always with the password.
    pub sign_in: Option<fn(&Config) -> SignInMethod>,
    /// Whether the person changes the password in this program's dialog (else on the portal).
    pub changes_password_here: fn(&Config) -> bool,
    /// Whether its accounts are directory logins, so this computer's login name is a good guess.
    pub login_name_is_account: bool,
}

/// Every provider, one line each.
pub const REGISTERED: &[&Registration] = &[&entra::REGISTRATION, &ldap::REGISTRATION];

/// The registration of `kind`.
pub fn registration(kind: ProviderKind) -> &'static Registration {
    REGISTERED
        .iter()
        .find(|r| r.kind == kind)
        .expect("every ProviderKind is registered")
}

/// The values the configured provider needs that no layer sets (empty: set up).
pub fn missing(config: &Config) -> Vec<Missing> {
    (registration(config.provider.kind).missing)(config)
}

/// The words for the configuration value `key` ("entra.client_id"), whichever provider's it is;
/// a generic line for keys without their own.
pub fn words_for(key: &str) -> Missing {
    REGISTERED
        .iter()
        .flat_map(|r| r.words)
        .find(|m| m.key == key)
        .copied()
        .unwrap_or(Missing::GENERIC)
}

impl IdentityProvider for Provider {
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Attempt, ProviderError> {
        match self {
            Provider::Entra(p) => p.authenticate(username, password).await,
            Provider::Ldap(p) => p.authenticate(username, password).await,
        }
    }

    async fn refresh(
        &self,
        username: &str,
        refresh_token: &Secret,
    ) -> Result<RefreshOutcome, ProviderError> {
        match self {
            Provider::Entra(p) => p.refresh(username, refresh_token).await,
            Provider::Ldap(_) => Ok(RefreshOutcome::Revoked),
        }
    }

    fn interactive_sign_in(&self) -> Option<&dyn InteractiveSignIn> {
        match self {
            Provider::Entra(p) => Some(p),
            Provider::Ldap(_) => None,
        }
    }

    fn changes_password_here(&self) -> Option<&dyn ChangesPasswordHere> {
        match self {
            Provider::Ldap(p) => Some(p),
            Provider::Entra(_) => None,
        }
    }

    fn checks_with_ticket(&self) -> Option<&dyn ChecksWithTicket> {
        match self {
            Provider::Ldap(p) if p.uses_ticket() => Some(p),
            _ => None,
        }
    }

    fn uses_refresh_tokens(&self) -> bool {
        matches!(self, Provider::Entra(_))
    }

    fn endpoint(&self) -> EndpointIdentity {
        match self {
            Provider::Entra(p) => p.endpoint(),
            Provider::Ldap(p) => p.endpoint(),
        }
    }

    fn clock_offset_secs(&self) -> Option<i64> {
        match self {
            Provider::Entra(p) => p.clock_offset_secs(),
            Provider::Ldap(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::describe_missing;
    use std::path::Path;

    fn config(text: &str) -> Config {
        let mut config = Config::default();
        config.apply_text(Path::new("/etc/sa.toml"), text).unwrap();
        config
    }

    #[test]
    fn every_kind_is_registered_once() {
        for kind in [ProviderKind::Entra, ProviderKind::Ldap] {
            assert_eq!(REGISTERED.iter().filter(|r| r.kind == kind).count(), 1);
        }
    }

    #[test]
    fn entra_needs_the_client_id_only() {
        let missing = missing(&config(""));
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].key, "entra.client_id");
        assert!(missing_of("[entra]\nclient_id = \"x\"\n").is_empty());
    }

    fn missing_of(text: &str) -> Vec<Missing> {
        missing(&config(text))
    }

    #[test]
    fn ldap_needs_server_base_and_bind() {
        let missing = missing_of("[provider]\nkind = \"ldap\"\n");
        let keys: Vec<&str> = missing.iter().map(|m| m.key).collect();
        assert_eq!(keys, ["ldap.url", "ldap.base", "ldap.bind"]);
        assert_eq!(
            describe_missing(&missing),
            "the directory server, the directory's base DN and how accounts are named in the directory"
        );
    }

    #[test]
    fn words_are_found_for_every_provider_s_keys() {
        assert_eq!(
            words_for("entra.tenant").who,
            crate::system::config::TENANT_WHO
        );
        assert_eq!(
            words_for("ldap.bind").what,
            "how accounts are named in the directory"
        );
        assert_eq!(words_for("prompt.pinentry"), Missing::GENERIC);
    }
}
