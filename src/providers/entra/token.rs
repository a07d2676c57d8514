//! The OAuth2 token endpoint: one password (ROPC) or refresh-token grant, and the mapping of its
//! documented error codes to outcomes. Branches on `error_codes` and `suberror`, never on the
//! description text, which Microsoft localises and rewords.

use serde::Deserialize;

use crate::rules::expiry::SignInReason;
use crate::rules::untrusted::{clean, clean_or};
use crate::system::credentials::Secret;

/// An error name used as the code (no AADSTS number given) is short in real answers.
const MAX_CODE_CHARS: usize = 64;

/// Longest change-password URL taken from an error body (real ones are well under 100 bytes).
const MAX_URL_LEN: usize = 2048;

/// Scopes asked for: Graph profile reads plus a refresh token.
pub const SCOPE: &str = "User.Read offline_access openid profile";

/// A successful token response (fields we use).
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The OpenID Connect ID token (asked for with `openid`): names the account.
    #[serde(default)]
    pub id_token: Option<Secret>,
}

/// The documented error body of the token endpoint.
#[derive(Debug, Deserialize)]
pub struct TokenErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub suberror: Option<String>,
    #[serde(default)]
    pub password_change_url: Option<String>,
}

/// What a token endpoint error means for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// The password was right but has expired (50055, 50144, `user_password_expired`).
    PasswordExpired { change_url: Option<String> },
    /// No usable credentials.
    SignIn(SignInReason),
    /// The refresh token was revoked or expired (50173, 700082).
    RefreshRevoked,
    /// Anything else: reported with its code.
    Other { code: String, error: String },
}

/// Codes that mean the refresh token (or the session behind it) is no longer valid: revoked
/// (50173, e.g. after a password change), invalid after a password change or expiry (50133),
/// expired for inactivity (700082), an expired grant (70008).
const REFRESH_ENDED: &[u64] = &[50173, 50133, 700082, 70008];
/// Multi-factor authentication is required (50076, 50079 enrol, 50074 strong auth, 50072
/// registration required).
const MFA: &[u64] = &[50076, 50079, 50074, 50072];
/// Other interactive steps: external security challenge (50158), password or security-info
/// interrupts (50125, 50203), terms of use (50097 device auth, 530032 security policy).
const INTERACTION: &[u64] = &[50158, 50125, 50203, 50097, 530032];
/// Conditional Access blocks (53000-53004): a refusal of this sign-in, not of the session.
const CONDITIONAL_ACCESS: &[u64] = &[53000, 53001, 53002, 53003, 53004];

/// Maps an error body by its codes and suberror.
pub fn classify(body: &TokenErrorBody) -> TokenFailure {
    let has = |codes: &[u64]| body.error_codes.iter().any(|c| codes.contains(c));
    let suberror = body.suberror.as_deref();
    if has(&[50055, 50144]) || suberror == Some("user_password_expired") {
        return TokenFailure::PasswordExpired {
            change_url: body
                .password_change_url
                .clone()
                .filter(|url| url.len() <= MAX_URL_LEN),
        };
    }
    let reason = if has(&[50126]) {
        SignInReason::Rejected
    } else if has(&[50053]) {
        SignInReason::Locked
    } else if has(&[50057]) {
        SignInReason::Disabled
    } else if has(MFA) {
        SignInReason::MfaRequired
    } else if has(&[65001]) || suberror == Some("consent_required") {
        SignInReason::ConsentMissing
    } else if has(REFRESH_ENDED) {
        return TokenFailure::RefreshRevoked;
    } else if has(INTERACTION)
        || body.error == "interaction_required"
        || matches!(suberror, Some("basic_action" | "additional_action"))
    {
        SignInReason::InteractionRequired
    } else {
        // `error` is the endpoint's text: it reaches the terminal, the state file and balloons.
        let error = clean_or(&body.error, "unknown error");
        let code = match body.error_codes.first() {
            Some(code) => format!("AADSTS{code}"),
            None => clean(&error, MAX_CODE_CHARS),
        };
        return TokenFailure::Other { code, error };
    };
    TokenFailure::SignIn(reason)
}

/// Maps the error of a refresh-token grant: as [`classify`], and any other `invalid_grant`
/// (except a Conditional Access block) means the grant has ended too.
pub fn classify_refresh(body: &TokenErrorBody) -> TokenFailure {
    match classify(body) {
        TokenFailure::Other { .. }
            if body.error == "invalid_grant"
                && !body
                    .error_codes
                    .iter()
                    .any(|c| CONDITIONAL_ACCESS.contains(c)) =>
        {
            TokenFailure::RefreshRevoked
        }
        other => other,
    }
}

/// The form of a password grant.
pub fn password_form<'a>(
    client_id: &'a str,
    username: &'a str,
    password: &'a Secret,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("username", username),
        ("password", password.expose()),
    ]
}

/// The form of a refresh-token grant.
pub fn refresh_form<'a>(
    client_id: &'a str,
    refresh_token: &'a Secret,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("refresh_token", refresh_token.expose()),
    ]
}

/// The form of an authorization code grant (RFC 6749 4.1.3 with the PKCE `code_verifier`).
pub fn authorization_code_form<'a>(
    client_id: &'a str,
    code: &'a Secret,
    redirect_uri: &'a str,
    code_verifier: &'a Secret,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier.expose()),
    ]
}

/// The grant type of the device code poll (RFC 8628 3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The form of a device code poll.
pub fn device_code_form<'a>(
    client_id: &'a str,
    device_code: &'a Secret,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", DEVICE_CODE_GRANT),
        ("client_id", client_id),
        ("device_code", device_code.expose()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(codes: &[u64], suberror: Option<&str>) -> TokenErrorBody {
        TokenErrorBody {
            error: "invalid_grant".into(),
            error_codes: codes.to_vec(),
            suberror: suberror.map(str::to_string),
            password_change_url: None,
        }
    }

    #[test]
    fn codes_map_to_outcomes() {
        let cases: Vec<(&[u64], Option<&str>, TokenFailure)> = vec![
            (
                &[50055],
                None,
                TokenFailure::PasswordExpired { change_url: None },
            ),
            (
                &[50144],
                None,
                TokenFailure::PasswordExpired { change_url: None },
            ),
            (
                &[],
                Some("user_password_expired"),
                TokenFailure::PasswordExpired { change_url: None },
            ),
            (&[50126], None, TokenFailure::SignIn(SignInReason::Rejected)),
            (&[50053], None, TokenFailure::SignIn(SignInReason::Locked)),
            (&[50057], None, TokenFailure::SignIn(SignInReason::Disabled)),
            (
                &[50076],
                Some("basic_action"),
                TokenFailure::SignIn(SignInReason::MfaRequired),
            ),
            (
                &[50079],
                None,
                TokenFailure::SignIn(SignInReason::MfaRequired),
            ),
            (
                &[50074],
                None,
                TokenFailure::SignIn(SignInReason::MfaRequired),
            ),
            (
                &[65001],
                Some("consent_required"),
                TokenFailure::SignIn(SignInReason::ConsentMissing),
            ),
            (
                &[50072],
                None,
                TokenFailure::SignIn(SignInReason::MfaRequired),
            ),
            (
                &[50158],
                None,
                TokenFailure::SignIn(SignInReason::InteractionRequired),
            ),
            (
                &[12345],
                Some("additional_action"),
                TokenFailure::SignIn(SignInReason::InteractionRequired),
            ),
            (&[50173], None, TokenFailure::RefreshRevoked),
            (&[50133], None, TokenFailure::RefreshRevoked),
            (&[700082], None, TokenFailure::RefreshRevoked),
            (
                &[53003],
                None,
                TokenFailure::Other {
                    code: "AADSTS53003".into(),
                    error: "invalid_grant".into(),
                },
            ),
        ];
        for (codes, suberror, expected) in cases {
            assert_eq!(
                classify(&body(codes, suberror)),
                expected,
                "codes {codes:?} suberror {suberror:?}"
            );
        }
    }

    #[test]
    fn interaction_required_error_without_a_known_code() {
        let parsed: TokenErrorBody =
            serde_json::from_str(r#"{"error":"interaction_required","error_codes":[99999]}"#)
                .unwrap();
        assert_eq!(
            classify(&parsed),
            TokenFailure::SignIn(SignInReason::InteractionRequired)
        );
    }

    #[test]
    fn endpoint_error_text_is_cleaned_before_it_is_shown() {
        let hostile = TokenErrorBody {
            error: format!(
                "\u{1b}]0;pwned\u{7}\u{1b}[2Jinvalid\r\n_grant{}",
                "x".repeat(5000)
            ),
            error_codes: vec![],
            suberror: None,
            password_change_url: None,
        };
        let TokenFailure::Other { code, error } = classify(&hostile) else {
            panic!("expected Other");
        };
        for text in [&code, &error] {
            assert!(text.starts_with("invalid _grant"), "{text}");
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
            assert!(text.chars().count() <= 201, "{}", text.len());
        }
        assert!(code.chars().count() <= MAX_CODE_CHARS + 1, "{code}");
        let blank = TokenErrorBody {
            error: "\u{1b}[31m".into(),
            ..hostile
        };
        assert_eq!(
            classify(&blank),
            TokenFailure::Other {
                code: "unknown error".into(),
                error: "unknown error".into()
            }
        );
    }

    #[test]
    fn any_other_invalid_grant_ends_a_refresh_token_but_not_conditional_access() {
        assert_eq!(
            classify_refresh(&body(&[9002313], None)),
            TokenFailure::RefreshRevoked
        );
        assert_eq!(
            classify_refresh(&body(&[], None)),
            TokenFailure::RefreshRevoked
        );
        assert!(matches!(
            classify_refresh(&body(&[53003], None)),
            TokenFailure::Other { .. }
        ));
        assert_eq!(
            classify_refresh(&body(&[50057], None)),
            TokenFailure::SignIn(SignInReason::Disabled)
        );
        // The password grant keeps unknown invalid_grant codes as they are.
        assert!(matches!(
            classify(&body(&[9002313], None)),
            TokenFailure::Other { .. }
        ));
    }

    #[test]
    fn an_absurd_change_url_is_dropped() {
        let mut expired = body(&[50055], None);
        expired.password_change_url = Some(format!("https://x/{}", "a".repeat(1 << 20)));
        assert_eq!(
            classify(&expired),
            TokenFailure::PasswordExpired { change_url: None }
        );
    }

    #[test]
    fn description_text_is_ignored() {
        let parsed: TokenErrorBody = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"AADSTS50055: password expired","error_codes":[50126]}"#,
        )
        .unwrap();
        assert_eq!(
            classify(&parsed),
            TokenFailure::SignIn(SignInReason::Rejected)
        );
    }
}
