//! FreeIPA's password rules, as pure functions over the user's Kerberos attributes, which FreeIPA
//! keeps in its 389 Directory Server and lets every signed-in user read:
//! - `krbPasswordExpiration`: when the password expires (the KDC enforces it);
//! - `krbLastPwdChange`: when it was last set; an administrator's reset sets the expiration to
//!   that same instant, so an expiration not after the change means "must be changed";
//! - the Kerberos password policy's `krbMaxPwdLife` (seconds; 0 = no maximum life, when FreeIPA
//!   sets no expiration at all), from the policy `krbPwdPolicyReference` names or the realm's
//!   `cn=global_policy`, when readable.
//!
//! The same read works after a simple bind or a Kerberos (GSSAPI) one. A missing
//! `krbPasswordExpiration` alone is not "never": only a readable policy without a maximum life is.

use chrono::{DateTime, Utc};

use crate::rules::expiry::{Deadline, Facts, Source};

/// Attributes of the user's entry.
pub const USER_ATTRIBUTES: [&str; 4] = [
    "krbPasswordExpiration",
    "krbLastPwdChange",
    "krbPwdPolicyReference",
    "krbPrincipalName",
];
/// Attribute of the Kerberos password policy.
pub const POLICY_ATTRIBUTES: [&str; 1] = ["krbMaxPwdLife"];

/// The user's Kerberos attributes, as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KrbAttributes {
    pub expiration: Option<DateTime<Utc>>,
    pub last_change: Option<DateTime<Utc>>,
    /// The policy's `krbMaxPwdLife`, when it was readable.
    pub max_life_secs: Option<i64>,
}

impl KrbAttributes {
    /// Whether the entry is a FreeIPA (Kerberos) account at all.
    pub fn present(&self) -> bool {
        self.expiration.is_some() || self.last_change.is_some()
    }
}

/// The Kerberos password policy that applies: the one the entry names, else the realm's global
/// policy under `base` (the realm from the principal name, `alice@IPA.EXAMPLE`).
pub fn policy_dn(reference: Option<&str>, principal: Option<&str>, base: &str) -> Option<String> {
    if let Some(dn) = reference {
        return Some(dn.to_string());
    }
    let realm = principal?.rsplit_once('@')?.1;
    let safe = !realm.is_empty()
        && realm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    safe.then(|| format!("cn=global_policy,cn={realm},cn=kerberos,{base}"))
}

/// The deadline from the Kerberos attributes.
pub fn facts(attrs: &KrbAttributes) -> Facts {
    let source = Source::LdapKrbPasswordExpiration;
    let with = |deadline, note: Option<&str>, source| Facts {
        changed_at: attrs.last_change,
        note: note.map(str::to_string),
        ..Facts::new(deadline, source)
    };
    match (attrs.expiration, attrs.last_change) {
        (Some(expires_at), Some(changed)) if expires_at <= changed => with(
            Deadline::ExpiredSince { expires_at },
            Some("it was reset and must be changed"),
            source,
        ),
        (Some(expires_at), _) => with(Deadline::At { expires_at }, None, source),
        (None, _) if attrs.max_life_secs == Some(0) => {
            with(Deadline::Never, None, Source::LdapPasswordPolicy)
        }
        (None, _) => with(
            Deadline::Unknown,
            Some("FreeIPA: krbPasswordExpiration is absent, and the Kerberos password policy is not readable"),
            source,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn kerberos_attribute_rules() {
        let changed = now() - Duration::days(50);
        let expires = changed + Duration::days(90);
        let krb = |expiration, last_change, max_life_secs| KrbAttributes {
            expiration,
            last_change,
            max_life_secs,
        };
        let table = [
            (
                "expires in 40 days",
                krb(Some(expires), Some(changed), None),
                Deadline::At {
                    expires_at: expires,
                },
                Source::LdapKrbPasswordExpiration,
                false,
            ),
            (
                "expired: the date, past",
                krb(
                    Some(now() - Duration::days(2)),
                    Some(changed),
                    Some(7_776_000),
                ),
                Deadline::At {
                    expires_at: now() - Duration::days(2),
                },
                Source::LdapKrbPasswordExpiration,
                false,
            ),
            (
                "reset by an administrator: expiration = change",
                krb(Some(changed), Some(changed), None),
                Deadline::ExpiredSince {
                    expires_at: changed,
                },
                Source::LdapKrbPasswordExpiration,
                true,
            ),
            (
                "no expiration, policy without a maximum life",
                krb(None, Some(changed), Some(0)),
                Deadline::Never,
                Source::LdapPasswordPolicy,
                false,
            ),
            (
                "no expiration, policy unreadable: unknown",
                krb(None, Some(changed), None),
                Deadline::Unknown,
                Source::LdapKrbPasswordExpiration,
                true,
            ),
            (
                "no expiration, yet the policy has a maximum life: unknown",
                krb(None, Some(changed), Some(7_776_000)),
                Deadline::Unknown,
                Source::LdapKrbPasswordExpiration,
                true,
            ),
            (
                "the expiration stands even when the policy has no maximum life now",
                krb(Some(expires), Some(changed), Some(0)),
                Deadline::At {
                    expires_at: expires,
                },
                Source::LdapKrbPasswordExpiration,
                false,
            ),
        ];
        for (name, attrs, deadline, source, noted) in table {
            let f = facts(&attrs);
            assert_eq!((f.deadline, f.source), (deadline, source), "{name}");
            assert_eq!(f.note.is_some(), noted, "{name}");
            assert_eq!(f.changed_at, Some(changed), "{name}");
        }
        assert!(!KrbAttributes::default().present());
        assert!(krb(None, Some(changed), None).present());
    }

    #[test]
    fn which_kerberos_policy() {
        let base = "dc=ipa,dc=example";
        assert_eq!(
            policy_dn(
                Some("cn=admins,cn=IPA.EXAMPLE,cn=kerberos,dc=ipa,dc=example"),
                None,
                base
            )
            .as_deref(),
            Some("cn=admins,cn=IPA.EXAMPLE,cn=kerberos,dc=ipa,dc=example")
        );
        assert_eq!(
            policy_dn(None, Some("alice@IPA.EXAMPLE"), base).as_deref(),
            Some("cn=global_policy,cn=IPA.EXAMPLE,cn=kerberos,dc=ipa,dc=example")
        );
        for odd in ["alice", "alice@", "alice@IPA,cn=x", "alice@IPA EXAMPLE"] {
            assert_eq!(policy_dn(None, Some(odd), base), None, "{odd}");
        }
        assert_eq!(policy_dn(None, None, base), None);
    }
}
