//! The OAuth2 token endpoint: one password (ROPC) or refresh-token grant, and the mapping of its
//! documented error codes to outcomes. Branches on `error_codes` and `suberror`, never on the
//! description text, which Microsoft localises and rewords.

use serde::Deserialize;

use crate::credentials::Secret;
use crate::policy::SignInReason;
use crate::untrusted::{clean, clean_or};

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

/// Maps an error body by its codes and suberror.
pub fn classify(body: &TokenErrorBody) -> TokenFailure {
    let has = |codes: &[u64]| body.error_codes.iter().any(|c| codes.contains(c));
    if has(&[50055, 50144]) || body.suberror.as_deref() == Some("user_password_expired") {
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
    } else if has(&[50076, 50079, 50074]) {
        SignInReason::MfaRequired
    } else if has(&[65001]) || body.suberror.as_deref() == Some("consent_required") {
        SignInReason::ConsentMissing
    } else if has(&[50173, 700082]) {
        return TokenFailure::RefreshRevoked;
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
            (&[50173], None, TokenFailure::RefreshRevoked),
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
