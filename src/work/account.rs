//! The rules for one account's credentials: one check with what the keyring holds, one sign-in,
//! one sign-out; the single place that decides what goes into the keyring.
//!
//! Rules: a password is cached only when the endpoint accepted it as the user's (success or
//! expired); a rejected password is never cached. A cached password that the endpoint rejects
//! was changed elsewhere: it is removed at once, so periodic checks cannot lock the account out
//! by retrying it. The browser and device code sign-ins keep the refresh token only, never a
//! password ([`keep_refresh_token_only`]); a refresh token the endpoint refuses is removed at
//! once, and without a password to fall back on the session has ended.
//!
//! A provider that checks with the person's Kerberos ticket
//! ([`IdentityProvider::checks_with_ticket`]) is asked with it alone: the keyring is neither read
//! nor written, and a password typed at sign-in is not sent.
//!
//! Every secret is kept bound to the endpoint that accepted it ([`IdentityProvider::endpoint`]).
//! A check that finds one bound to another endpoint, or kept by an older version that did not
//! record where (it may have been sent anywhere since), sends nothing, forgets the account's
//! credentials and asks for a sign-in ([`SignInReason::EndpointChanged`]).

use std::time::Duration;

use crate::providers::{IdentityProvider, ProviderError, RefreshOutcome};
use crate::rules::expiry::{changed_since, Finding, SignInReason};
use crate::system::credentials::{CredentialCache, EndpointIdentity, Kept, KeyringError, Secret};

/// Why no status could be determined.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the check did not finish within {0} s")]
    DeadlineExceeded(u64),
}

impl CheckError {
    /// How long the endpoint asked to wait, when it throttled the check.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CheckError::Provider(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// How long a keyring call may take before the keyring counts as unavailable.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs a blocking keyring call off the async threads, bounded in time; while an earlier call
/// is stuck, fails at once (see `credentials` for what becomes of a late call).
async fn keyring<T: Send + 'static>(
    cache: &CredentialCache,
    call: impl FnOnce(&CredentialCache) -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    cache.call_bounded(KEYRING_TIMEOUT, call).await
}

/// Keeps what an accepted attempt brought: the password and the refresh token (or forgets a stale one).
/// Both are kept as accepted by `endpoint`.
async fn keep(
    cache: &CredentialCache,
    account: &str,
    endpoint: EndpointIdentity,
    password: Option<&Secret>,
    refresh_token: Option<&Secret>,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    let password = password.cloned();
    let token = refresh_token.cloned();
    keyring(cache, move |c| {
        if let Some(password) = &password {
            c.store_password(&account, &endpoint, password)?;
        }
        match &token {
            Some(token) => c.store_refresh_token(&account, &endpoint, token),
            None => c.forget_refresh_token(&account),
        }
    })
    .await
}

/// An error after the endpoint accepted the credentials: what it handed out is kept all the same
/// (the password when `password` is given, the new refresh token), and the error is passed on.
async fn keep_despite(
    cache: &CredentialCache,
    account: &str,
    endpoint: EndpointIdentity,
    password: Option<&Secret>,
    error: ProviderError,
) -> CheckError {
    let ProviderError::AcceptedWithoutFacts {
        refresh_token,
        source,
    } = error
    else {
        return error.into();
    };
    if let Err(e) = keep(cache, account, endpoint, password, refresh_token.as_ref()).await {
        return e.into();
    }
    ProviderError::AcceptedWithoutFacts {
        refresh_token: None,
        source,
    }
    .into()
}

/// One authentication attempt with a password the person typed.
pub async fn sign_in(
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    account: &str,
    password: &Secret,
) -> Result<Finding, CheckError> {
    if let Some(ticket) = provider.checks_with_ticket() {
        return Ok(ticket.check_with_ticket(account).await?.finding);
    }
    // Fail before sending anything if the keyring cannot keep the result.
    keyring(cache, {
        let account = account.to_string();
        move |c| c.has_password(&account).map(drop)
    })
    .await?;
    let endpoint = provider.endpoint();
    let attempt = match provider.authenticate(account, password).await {
        Ok(attempt) => attempt,
        Err(e) => return Err(keep_despite(cache, account, endpoint, Some(password), e).await),
    };
    if attempt.password_accepted {
        keep(
            cache,
            account,
            endpoint,
            Some(password),
            attempt.refresh_token.as_ref(),
        )
        .await?;
    }
    Ok(attempt.finding)
}

/// Determines the status with the cached refresh token or password. `previous` is the last
/// determination: when the endpoint now reports a later password change, the password was
/// changed elsewhere and the cached one is removed, as when the endpoint rejects it; that
/// reason then stays until the person signs in.
pub async fn check(
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    account: &str,
    previous: Option<&Finding>,
) -> Result<Finding, CheckError> {
    if let Some(ticket) = provider.checks_with_ticket() {
        return Ok(ticket.check_with_ticket(account).await?.finding);
    }
    let (finding, seen) = determine(provider, cache, account).await?;
    let changed_elsewhere = Finding::SignInRequired {
        reason: SignInReason::PasswordChangedElsewhere,
    };
    let no_credentials = Finding::SignInRequired {
        reason: SignInReason::NoCredentials,
    };
    // Nothing is cached since the change (or the end of the session, or of the endpoint) was
    // noticed: that is still the reason to sign in.
    if let Some(Finding::SignInRequired { reason }) = previous {
        let still = reason.ends_session() || *reason == SignInReason::EndpointChanged;
        if finding == no_credentials && still {
            return Ok(previous.cloned().unwrap_or(finding));
        }
    }
    // Without a cached password (browser or device code sign-in) a later change date only means
    // fresh facts: the refresh token that brought them still works.
    if seen.is_none() || !changed_since(previous, &finding) {
        return Ok(finding);
    }
    tracing::warn!("the endpoint reports a newer password change: it was changed elsewhere; removing the cached password from the keyring");
    forget_if_unchanged(cache, account, provider.endpoint(), seen).await?;
    Ok(changed_elsewhere)
}

/// Forgets the account's credentials, unless the cached password is no longer the one `seen` at
/// the start of the check (a sign-in in the meantime has stored a new one: keep that).
async fn forget_if_unchanged(
    cache: &CredentialCache,
    account: &str,
    endpoint: EndpointIdentity,
    seen: Option<Secret>,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    keyring(cache, move |c| {
        if c.password(&account, &endpoint)?.here() == seen {
            c.forget(&account)
        } else {
            tracing::info!("a new password was stored meanwhile; keeping it");
            Ok(())
        }
    })
    .await
}

/// One determination with what the keyring holds; also returns the cached password it saw.
async fn determine(
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    account: &str,
) -> Result<(Finding, Option<Secret>), CheckError> {
    let endpoint = provider.endpoint();
    let wants_token = provider.uses_refresh_tokens();
    let Some((password, refresh_token)) = read_kept(cache, account, &endpoint, wants_token).await?
    else {
        let reason = SignInReason::EndpointChanged;
        return Ok((Finding::SignInRequired { reason }, None));
    };
    let mut token_revoked = false;
    if let Some(token) = refresh_token {
        match try_refresh(provider, cache, account, &endpoint, &token).await? {
            Some(finding) => return Ok((finding, password)),
            None => token_revoked = true,
        }
    }
    let Some(password) = password else {
        let reason = if token_revoked {
            SignInReason::SessionEnded
        } else {
            SignInReason::NoCredentials
        };
        return Ok((Finding::SignInRequired { reason }, None));
    };
    if token_revoked {
        tracing::info!("trying the cached password");
    }
    let attempt = match provider.authenticate(account, &password).await {
        Ok(attempt) => attempt,
        Err(e) => return Err(keep_despite(cache, account, endpoint, None, e).await),
    };
    if attempt.password_accepted {
        let token = attempt.refresh_token.as_ref();
        keep(cache, account, endpoint, None, token).await?;
        return Ok((attempt.finding, Some(password)));
    }
    if attempt.finding
        == (Finding::SignInRequired {
            reason: SignInReason::Rejected,
        })
    {
        tracing::warn!("the cached password was rejected: it was changed elsewhere; removing it from the keyring");
        forget_if_unchanged(cache, account, endpoint, Some(password)).await?;
        return Ok((
            Finding::SignInRequired {
                reason: SignInReason::PasswordChangedElsewhere,
            },
            None,
        ));
    }
    Ok((attempt.finding, Some(password)))
}

/// The password and (when the provider uses them) the refresh token kept for `endpoint`. `None`
/// when something kept was accepted elsewhere, or kept by an older version that did not record
/// where (it cannot be told apart from a secret meant for another server): then all of the
/// account's credentials are forgotten in the same keyring call and nothing is sent.
async fn read_kept(
    cache: &CredentialCache,
    account: &str,
    endpoint: &EndpointIdentity,
    wants_token: bool,
) -> Result<Option<(Option<Secret>, Option<Secret>)>, KeyringError> {
    let (account, endpoint) = (account.to_string(), endpoint.clone());
    keyring(cache, move |c| {
        let token = if wants_token {
            c.refresh_token(&account, &endpoint)?
        } else {
            Kept::Nothing
        };
        let password = c.password(&account, &endpoint)?;
        if password.is_elsewhere() || token.is_elsewhere() {
            tracing::warn!("the credentials in the keyring were not accepted by the configured sign-in server (it changed, or they were kept by an older version); removing them unsent");
            c.forget(&account)?;
            return Ok(None);
        }
        Ok(Some((password.here(), token.here())))
    })
    .await
}

/// Tries the kept refresh token: the finding when the endpoint accepted it (its new token kept),
/// `None` when it was revoked or expired (then it is forgotten).
async fn try_refresh(
    provider: &impl IdentityProvider,
    cache: &CredentialCache,
    account: &str,
    endpoint: &EndpointIdentity,
    token: &Secret,
) -> Result<Option<Finding>, CheckError> {
    let outcome = match provider.refresh(account, token).await {
        Ok(outcome) => outcome,
        Err(e) => return Err(keep_despite(cache, account, endpoint.clone(), None, e).await),
    };
    let attempt = match outcome {
        RefreshOutcome::Accepted(attempt) => attempt,
        RefreshOutcome::Revoked => {
            tracing::info!(
                "the refresh token was revoked or expired; removing it from the keyring"
            );
            keyring(cache, {
                let account = account.to_string();
                move |c| c.forget_refresh_token(&account)
            })
            .await?;
            return Ok(None);
        }
    };
    if attempt.password_accepted {
        let token = attempt.refresh_token.as_ref();
        keep(cache, account, endpoint.clone(), None, token).await?;
    }
    Ok(Some(attempt.finding))
}

/// Removes the account's cached password and refresh token.
pub async fn sign_out(cache: &CredentialCache, account: &str) -> Result<(), KeyringError> {
    let account = account.to_string();
    keyring(cache, move |c| c.forget(&account)).await
}

/// Whether credentials (a password or a refresh token) are cached for the account.
pub async fn is_signed_in(cache: &CredentialCache, account: &str) -> Result<bool, KeyringError> {
    let account = account.to_string();
    keyring(cache, move |c| {
        Ok(c.has_password(&account)? || c.has_refresh_token(&account)?)
    })
    .await
}

/// The keyring rule of the browser and device code sign-ins: the refresh token is kept (bound to
/// `endpoint`, which issued it), and no password (one kept from an earlier password sign-in of the account is removed).
pub async fn keep_refresh_token_only(
    cache: &CredentialCache,
    account: &str,
    endpoint: EndpointIdentity,
    refresh_token: &Secret,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    let token = refresh_token.clone();
    keyring(cache, move |c| {
        c.store_refresh_token(&account, &endpoint, &token)?;
        c.forget_password(&account)
    })
    .await
}

/// Whether the keyring answers now (bounded in time).
pub async fn probe(cache: &CredentialCache) -> Result<(), KeyringError> {
    keyring(cache, |c| c.probe()).await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use keyring_core::{CredentialStore, Entry};

    use super::*;
    use crate::providers::Attempt;
    use crate::rules::expiry::{Deadline, Facts, Source};
    use crate::testing::{keyring_holding, FakeEndpoint};

    const ACCOUNT: &str = "adele@contoso.com";

    fn endpoint_changed() -> Finding {
        Finding::SignInRequired {
            reason: SignInReason::EndpointChanged,
        }
    }

    fn facts() -> Finding {
        Finding::Facts(Facts::new(Deadline::Never, Source::TokenClaim))
    }

    #[tokio::test]
    async fn a_password_kept_for_another_endpoint_is_not_sent_and_is_forgotten() {
        let cache = keyring_holding(ACCOUNT, Some("pw"));
        let endpoint = FakeEndpoint::default();
        endpoint.move_to("b");
        endpoint.answer(Ok(facts()));
        let finding = check(&endpoint, &cache, ACCOUNT, None).await.unwrap();
        assert_eq!(finding, endpoint_changed());
        assert_eq!(endpoint.calls(), 0, "the password went to the new endpoint");
        assert!(!cache.has_password(ACCOUNT).unwrap());
        // The reason stays until the person signs in.
        let again = check(&endpoint, &cache, ACCOUNT, Some(&finding)).await;
        assert_eq!(again.unwrap(), endpoint_changed());
        assert_eq!(endpoint.calls(), 0);
    }

    #[tokio::test]
    async fn a_password_kept_for_this_endpoint_is_sent() {
        let cache = keyring_holding(ACCOUNT, Some("pw"));
        let endpoint = FakeEndpoint::default();
        endpoint.answer(Ok(facts()));
        let finding = check(&endpoint, &cache, ACCOUNT, None).await.unwrap();
        assert_eq!(finding, facts());
        assert_eq!(endpoint.calls(), 1);
        assert!(cache.has_password(ACCOUNT).unwrap());
    }

    #[tokio::test]
    async fn a_password_kept_by_an_older_version_is_not_sent_and_is_forgotten() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let cache = CredentialCache::with_store(store.clone(), "test");
        // What versions without the binding stored: the bare password.
        let entry = Entry::new_in_store(&store, "test", ACCOUNT).unwrap();
        entry.set_password("pw").unwrap();
        let endpoint = FakeEndpoint::default();
        endpoint.answer(Ok(facts()));
        let finding = check(&endpoint, &cache, ACCOUNT, None).await.unwrap();
        assert_eq!(finding, endpoint_changed());
        assert_eq!(endpoint.calls(), 0, "the legacy password was sent");
        assert!(!cache.has_password(ACCOUNT).unwrap());
    }

    /// An endpoint with refresh tokens (Entra ID) that records what it was sent.
    #[derive(Default)]
    struct TokenEndpoint {
        server: &'static str,
        sent: Mutex<Vec<String>>,
    }

    impl IdentityProvider for TokenEndpoint {
        async fn authenticate(&self, _: &str, p: &Secret) -> Result<Attempt, ProviderError> {
            self.sent.lock().unwrap().push(p.expose().to_string());
            Ok(Attempt {
                finding: facts(),
                password_accepted: true,
                refresh_token: None,
            })
        }

        async fn refresh(&self, _: &str, t: &Secret) -> Result<RefreshOutcome, ProviderError> {
            self.sent.lock().unwrap().push(t.expose().to_string());
            Ok(RefreshOutcome::Revoked)
        }

        fn uses_refresh_tokens(&self) -> bool {
            true
        }

        fn endpoint(&self) -> EndpointIdentity {
            EndpointIdentity::new(self.server)
        }
    }

    #[tokio::test]
    async fn a_refresh_token_kept_for_another_endpoint_is_not_sent_and_is_forgotten() {
        let cache = CredentialCache::in_memory("test");
        let a = EndpointIdentity::new("a");
        cache
            .store_password(ACCOUNT, &a, &Secret::new("pw"))
            .unwrap();
        let rt = Secret::new("rt");
        cache.store_refresh_token(ACCOUNT, &a, &rt).unwrap();
        let b = TokenEndpoint {
            server: "b",
            ..TokenEndpoint::default()
        };
        let finding = check(&b, &cache, ACCOUNT, None).await.unwrap();
        assert_eq!(finding, endpoint_changed());
        assert!(b.sent.lock().unwrap().is_empty(), "sent to B");
        assert!(!is_signed_in(&cache, ACCOUNT).await.unwrap());
        // Signed in again at B, the new password is kept for B and used there.
        let signed_in = sign_in(&b, &cache, ACCOUNT, &Secret::new("new")).await;
        assert_eq!(signed_in.unwrap(), facts());
        check(&b, &cache, ACCOUNT, Some(&finding)).await.unwrap();
        assert_eq!(*b.sent.lock().unwrap(), ["new", "new"]);
    }
}
