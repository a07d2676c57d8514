//! The rules for one account's credentials: one check with what the keyring holds, one sign-in,
//! one sign-out; the single place that decides what goes into the keyring.
//!
//! Rules: a password is cached only when the endpoint accepted it as the user's (success or
//! expired); a rejected password is never cached. A cached password that the endpoint rejects
//! was changed elsewhere: it is removed at once, so periodic checks cannot lock the account out
//! by retrying it. The browser and device code sign-ins keep the refresh token only, never a
//! password ([`keep_refresh_token_only`]); a refresh token the endpoint refuses is removed at
//! once, and without a password to fall back on the session has ended.

use std::time::Duration;

use crate::providers::{IdentityProvider, ProviderError, RefreshOutcome};
use crate::rules::expiry::{changed_since, Finding, SignInReason};
use crate::system::credentials::{CredentialCache, KeyringError, Secret};

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
async fn keep(
    cache: &CredentialCache,
    account: &str,
    password: Option<&Secret>,
    refresh_token: Option<&Secret>,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    let password = password.cloned();
    let token = refresh_token.cloned();
    keyring(cache, move |c| {
        if let Some(password) = &password {
            c.store_password(&account, password)?;
        }
        match &token {
            Some(token) => c.store_refresh_token(&account, token),
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
    if let Err(e) = keep(cache, account, password, refresh_token.as_ref()).await {
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
    // Fail before sending anything if the keyring cannot keep the result.
    keyring(cache, {
        let account = account.to_string();
        move |c| c.has_password(&account).map(drop)
    })
    .await?;
    let attempt = match provider.authenticate(account, password).await {
        Ok(attempt) => attempt,
        Err(e) => return Err(keep_despite(cache, account, Some(password), e).await),
    };
    if attempt.password_accepted {
        keep(
            cache,
            account,
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
    let (finding, seen) = determine(provider, cache, account).await?;
    let changed_elsewhere = Finding::SignInRequired {
        reason: SignInReason::PasswordChangedElsewhere,
    };
    let no_credentials = Finding::SignInRequired {
        reason: SignInReason::NoCredentials,
    };
    // Nothing is cached since the change (or the end of the session) was noticed: that is still
    // the reason to sign in.
    if let Some(Finding::SignInRequired { reason }) = previous {
        if finding == no_credentials && reason.ends_session() {
            return Ok(previous.cloned().unwrap_or(finding));
        }
    }
    // Without a cached password (browser or device code sign-in) a later change date only means
    // fresh facts: the refresh token that brought them still works.
    if seen.is_none() || !changed_since(previous, &finding) {
        return Ok(finding);
    }
    tracing::warn!("the endpoint reports a newer password change: it was changed elsewhere; removing the cached password from the keyring");
    forget_if_unchanged(cache, account, seen).await?;
    Ok(changed_elsewhere)
}

/// Forgets the account's credentials, unless the cached password is no longer the one `seen` at
/// the start of the check (a sign-in in the meantime has stored a new one: keep that).
async fn forget_if_unchanged(
    cache: &CredentialCache,
    account: &str,
    seen: Option<Secret>,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    keyring(cache, move |c| {
        if c.password(&account)? == seen {
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
    let (password, refresh_token) = keyring(cache, {
        let account = account.to_string();
        let wants_token = provider.uses_refresh_tokens();
        move |c| {
            let token = if wants_token {
                c.refresh_token(&account)?
            } else {
                None
            };
            Ok((c.password(&account)?, token))
        }
    })
    .await?;
    let mut token_revoked = false;
    if let Some(token) = refresh_token {
        let outcome = match provider.refresh(account, &token).await {
            Ok(outcome) => outcome,
            Err(e) => return Err(keep_despite(cache, account, None, e).await),
        };
        match outcome {
            RefreshOutcome::Accepted(attempt) => {
                if attempt.password_accepted {
                    keep(cache, account, None, attempt.refresh_token.as_ref()).await?;
                }
                return Ok((attempt.finding, password));
            }
            RefreshOutcome::Revoked => {
                tracing::info!(
                    "the refresh token was revoked or expired; removing it from the keyring"
                );
                keyring(cache, {
                    let account = account.to_string();
                    move |c| c.forget_refresh_token(&account)
                })
                .await?;
                token_revoked = true;
            }
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
        Err(e) => return Err(keep_despite(cache, account, None, e).await),
    };
    if attempt.password_accepted {
        keep(cache, account, None, attempt.refresh_token.as_ref()).await?;
        return Ok((attempt.finding, Some(password)));
    }
    if attempt.finding
        == (Finding::SignInRequired {
            reason: SignInReason::Rejected,
        })
    {
        tracing::warn!("the cached password was rejected: it was changed elsewhere; removing it from the keyring");
        forget_if_unchanged(cache, account, Some(password)).await?;
        return Ok((
            Finding::SignInRequired {
                reason: SignInReason::PasswordChangedElsewhere,
            },
            None,
        ));
    }
    Ok((attempt.finding, Some(password)))
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

/// The keyring rule of the browser and device code sign-ins: the refresh token is kept, and no
/// password (one kept from an earlier password sign-in of the account is removed).
pub async fn keep_refresh_token_only(
    cache: &CredentialCache,
    account: &str,
    refresh_token: &Secret,
) -> Result<(), KeyringError> {
    let account = account.to_string();
    let token = refresh_token.clone();
    keyring(cache, move |c| {
        c.store_refresh_token(&account, &token)?;
        c.forget_password(&account)
    })
    .await
}

/// Whether the keyring answers now (bounded in time).
pub async fn probe(cache: &CredentialCache) -> Result<(), KeyringError> {
    keyring(cache, |c| c.probe()).await
}
