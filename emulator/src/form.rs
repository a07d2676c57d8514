//! What the token, authorize and device-code endpoints read from a request: its form fields
//! (read as Entra reads them), the scope asked, and what a successful grant issues tokens for.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::Request;

use super::aadsts::AadError;

/// Larger bodies are refused rather than buffered.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a successful grant issues tokens for.
pub(super) struct Grant {
    /// The scope the grant was asked (or authorized) with.
    pub(super) scope: String,
    /// Multi-factor authentication was done (the `amr` claim says `mfa`).
    pub(super) mfa: bool,
}

/// The first non-empty value of a form field (Entra treats empty parameters as missing).
pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// Reads an `application/x-www-form-urlencoded` body. Entra does not parse other content types,
/// so it finds no `grant_type` in them: that is the error given.
pub(super) async fn read_form(
    request: Request<Incoming>,
) -> Result<Vec<(String, String)>, AadError> {
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(AadError::missing("grant_type"));
    }
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| AadError::malformed_body())?
        .to_bytes();
    serde_urlencoded::from_bytes(&body).map_err(|_| AadError::malformed_body())
}

/// Scopes that ask for the ID token and refresh token rather than for Graph permissions.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Whether `scope` asks for `User.Read` (or `.default`), which every request of this app must.
pub(super) fn scope_allowed(scope: &str) -> bool {
    resource_scopes(scope)
        .iter()
        .any(|s| s.eq_ignore_ascii_case("User.Read") || *s == ".default")
}

/// Graph permissions asked for, without the `https://graph.microsoft.com/` prefix.
pub(super) fn resource_scopes(scope: &str) -> Vec<&str> {
    const GRAPH: &str = "https://graph.microsoft.com/";
    scope
        .split_whitespace()
        .map(|s| match s.get(..GRAPH.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(GRAPH) => &s[GRAPH.len()..],
            _ => s,
        })
        .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .collect()
}
