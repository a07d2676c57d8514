//! Password expiry facts from Entra ID: the access token's optional claims (`pwd_exp`, `pwd_url`)
//! and Microsoft Graph (`/me` last change and policies, `/domains/{suffix}` validity and window).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// The password claims inside an access token (present only inside the notification window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordClaims {
    pub expires_at: DateTime<Utc>,
    pub change_url: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iat: Option<NumberOrString>,
    pwd_exp: Option<NumberOrString>,
    pwd_url: Option<String>,
}

/// Microsoft's v1 tokens write numeric claims as strings of digits; accept both forms.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    Text(String),
}

impl NumberOrString {
    fn value(&self) -> Option<i64> {
        match self {
            NumberOrString::Number(n) => Some(*n),
            NumberOrString::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Reads `pwd_exp` (seconds after `iat`) and `pwd_url` from a JWT's payload. The signature is not
/// checked: the token came over TLS from the configured authority and only informs a warning.
pub fn password_claims(access_token: &str) -> Option<PasswordClaims> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let iat = claims.iat?.value()?;
    let pwd_exp = claims.pwd_exp?.value()?;
    let expires_at = DateTime::<Utc>::from_timestamp(iat, 0)?
        .checked_add_signed(Duration::try_seconds(pwd_exp)?)?;
    Some(PasswordClaims {
        expires_at,
        change_url: claims.pwd_url,
    })
}

/// The `/me` properties we select.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub last_password_change_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub password_policies: Option<String>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
}

impl Me {
    /// `passwordPolicies` is a comma-joined list ("DisablePasswordExpiration, DisableStrongPassword").
    pub fn password_never_expires(&self) -> bool {
        self.password_policies.as_deref().is_some_and(|p| {
            p.split(',').any(|item| {
                item.trim()
                    .eq_ignore_ascii_case("DisablePasswordExpiration")
            })
        })
    }
}

/// The `/domains/{id}` properties we use (null means "use the default").
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    #[serde(default)]
    pub password_validity_period_in_days: Option<i64>,
    #[serde(default)]
    pub password_notification_window_in_days: Option<i64>,
}

pub const ME_PATH: &str =
    "v1.0/me?$select=userPrincipalName,lastPasswordChangeDateTime,passwordPolicies,onPremisesSyncEnabled";

/// `v1.0/domains/{suffix}` for the UPN's domain, or None when the UPN has no `@`.
pub fn domain_path(upn: &str) -> Option<String> {
    let (_, suffix) = upn.rsplit_once('@')?;
    let suffix = suffix.trim();
    // A domain name only: `..` or an empty label would move the request elsewhere on Graph.
    crate::system::config::is_dns_name(suffix).then(|| format!("v1.0/domains/{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", enc(r#"{"alg":"none"}"#), enc(payload))
    }

    #[test]
    fn pwd_exp_is_seconds_after_iat_in_either_form() {
        for payload in [
            r#"{"iat":1700000000,"pwd_exp":"86400","pwd_url":"https://portal.microsoftonline.com/ChangePassword.aspx"}"#,
            r#"{"iat":"1700000000","pwd_exp":86400,"pwd_url":"https://portal.microsoftonline.com/ChangePassword.aspx"}"#,
        ] {
            let claims = password_claims(&token(payload)).unwrap();
            assert_eq!(claims.expires_at.timestamp(), 1_700_086_400, "{payload}");
            assert!(claims.change_url.unwrap().starts_with("https://portal."));
        }
    }

    #[test]
    fn absent_or_broken_claims_are_none() {
        assert_eq!(password_claims(&token(r#"{"iat":1700000000}"#)), None);
        assert_eq!(
            password_claims(&token(r#"{"iat":1,"pwd_exp":"soon"}"#)),
            None
        );
        assert_eq!(
            password_claims(&token(r#"{"iat":1,"pwd_exp":9223372036854775807}"#)),
            None
        );
        assert_eq!(password_claims("not-a-jwt"), None);
        assert_eq!(password_claims("a.%%%.c"), None);
    }

    #[test]
    fn password_policies_list_is_parsed() {
        let me = |p: Option<&str>| Me {
            user_principal_name: None,
            last_password_change_date_time: None,
            password_policies: p.map(str::to_string),
            on_premises_sync_enabled: None,
        };
        assert!(me(Some("DisablePasswordExpiration")).password_never_expires());
        assert!(
            me(Some("DisableStrongPassword, DisablePasswordExpiration")).password_never_expires()
        );
        assert!(!me(Some("DisableStrongPassword")).password_never_expires());
        assert!(!me(Some("None")).password_never_expires());
        assert!(!me(None).password_never_expires());
    }

    #[test]
    fn domain_comes_from_the_upn_suffix() {
        assert_eq!(
            domain_path("adele@contoso.com").as_deref(),
            Some("v1.0/domains/contoso.com")
        );
        assert_eq!(domain_path("adele"), None);
        assert_eq!(domain_path("a@b/../c"), None);
        assert_eq!(domain_path("a@.."), None);
        assert_eq!(domain_path("a@contoso..com"), None);
        assert_eq!(domain_path("a@."), None);
    }
}
