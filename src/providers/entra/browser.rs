//! The browser sign-in of a native app (RFC 8252): authorization code with PKCE (RFC 7636) and a
//! loopback redirect.
//!
//! One [`BrowserAttempt`] is one sign-in: it binds the loopback listener, makes a fresh random
//! `state` and PKCE verifier, and builds the authorize URL for the caller to open in the system
//! browser. [`BrowserAttempt::finish`] waits for the redirect and redeems the code with the
//! verifier and the same `redirect_uri`. The verifier and the code never leave this module except
//! in the token request's body.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use url::Url;

use super::token::{self, SCOPE};
use super::{EntraProvider, InteractiveError, IssuedTokens};
use crate::providers::entra::loopback::{self, LoopbackError, Redirect, RedirectListener};
use crate::system::credentials::Secret;

/// One browser sign-in, from the authorize URL to the tokens.
pub struct BrowserAttempt<'a> {
    provider: &'a EntraProvider,
    listener: RedirectListener,
    redirect_uri: String,
    state: Secret,
    verifier: Secret,
    url: Url,
}

impl<'a> BrowserAttempt<'a> {
    /// Binds the loopback listener and builds the authorize URL; `login_hint` pre-fills the
    /// account on the sign-in page.
    pub async fn start(
        provider: &'a EntraProvider,
        login_hint: Option<&str>,
    ) -> Result<BrowserAttempt<'a>, InteractiveError> {
        let listener = RedirectListener::bind()
            .await
            .map_err(|e| InteractiveError::Loopback(e.to_string()))?;
        let redirect_uri = listener.redirect_uri();
        let state = random_token(16)?;
        let verifier = random_token(32)?;
        let url = authorize_url(
            &provider.oauth_base,
            &provider.client_id,
            &redirect_uri,
            state.expose(),
            &code_challenge(&verifier),
            login_hint,
        )?;
        Ok(BrowserAttempt {
            provider,
            listener,
            redirect_uri,
            state,
            verifier,
            url,
        })
    }

    /// The URL to open in the browser.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Waits up to `timeout` for the browser to come back, then redeems the code.
    pub async fn finish(self, timeout: Duration) -> Result<IssuedTokens, InteractiveError> {
        let redirect = self
            .listener
            .wait(self.state.expose(), timeout)
            .await
            .map_err(|e| match e {
                LoopbackError::TimedOut(_) => InteractiveError::TimedOut(format!(
                    "{e}; run the sign-in again (or use `--device-code` when no browser can reach this computer)"
                )),
                LoopbackError::Io(e) => InteractiveError::Loopback(e.to_string()),
            })?;
        let code = match redirect {
            Redirect::Code(code) => code,
            Redirect::Error { error, description } => {
                return Err(refusal(&error, description.as_deref()))
            }
        };
        let provider = self.provider;
        let form = token::authorization_code_form(
            &provider.client_id,
            &code,
            &self.redirect_uri,
            &self.verifier,
        );
        match provider.request_tokens(&form, token::classify).await? {
            Ok(tokens) => provider.issued(tokens),
            Err(failure) => Err(InteractiveError::from_failure(failure)),
        }
    }
}

/// The authorize endpoint's error redirect, in words; the AADSTS code is kept for the IT desk.
fn refusal(error: &str, description: Option<&str>) -> InteractiveError {
    let code = description
        .and_then(|d| d.strip_prefix("AADSTS"))
        .and_then(|d| d.split(':').next())
        .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_digit()))
        .map(|c| format!(" (AADSTS{c})"))
        .unwrap_or_default();
    let words = loopback::error_in_words(error);
    InteractiveError::Refused(format!(
        "{words}: `{}`{code}; nothing was kept",
        error.chars().take(64).collect::<String>()
    ))
}

/// `{authority}/{tenant}/oauth2/v2.0/authorize?...` for a public client with PKCE.
fn authorize_url(
    oauth_base: &Url,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    login_hint: Option<&str>,
) -> Result<Url, InteractiveError> {
    let mut url = oauth_base
        .join("authorize")
        .map_err(|e| InteractiveError::Provider(super::unexpected(&e.to_string())))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", SCOPE)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = login_hint.filter(|h| !h.trim().is_empty()) {
            query.append_pair("login_hint", hint);
        }
    }
    Ok(url)
}

/// A random URL-safe string of `bytes` random bytes from the system's secure generator (32 bytes
/// make the 43-character PKCE verifier RFC 7636 recommends).
fn random_token(bytes: usize) -> Result<Secret, InteractiveError> {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf).map_err(|_| {
        InteractiveError::System("the system's random number generator failed".into())
    })?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(&*buf)))
}

/// The S256 code challenge: base64url(SHA-256(verifier)) (RFC 7636 4.2).
fn code_challenge(verifier: &Secret) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.expose().as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_rfc_7636_appendix_b() {
        let verifier = Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            code_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_fresh_and_long_enough() {
        let a = random_token(32).unwrap();
        let b = random_token(32).unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert!(a
            .expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn authorize_url_has_every_parameter() {
        let base = Url::parse("https://login.example/organizations/oauth2/v2.0/").unwrap();
        let url = authorize_url(
            &base,
            "client",
            "http://localhost:4711",
            "st",
            "ch",
            Some("adele@contoso.com"),
        )
        .unwrap();
        assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "client");
        assert_eq!(pairs["redirect_uri"], "http://localhost:4711");
        assert_eq!(pairs["state"], "st");
        assert_eq!(pairs["code_challenge"], "ch");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["login_hint"], "adele@contoso.com");
        for scope in ["openid", "profile", "offline_access", "User.Read"] {
            assert!(pairs["scope"].split(' ').any(|s| s == scope), "{scope}");
        }
        let without_hint = authorize_url(&base, "c", "http://localhost:1", "s", "c", None).unwrap();
        assert!(!without_hint.query().unwrap().contains("login_hint"));
    }

    #[test]
    fn refusals_name_the_error_and_code() {
        let e = refusal(
            "access_denied",
            Some("AADSTS65004: User declined to consent"),
        );
        let text = e.to_string();
        assert!(text.contains("cancelled or declined"), "{text}");
        assert!(text.contains("AADSTS65004"), "{text}");
        assert!(text.contains("nothing was kept"), "{text}");
    }
}
