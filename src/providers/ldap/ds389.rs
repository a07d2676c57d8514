//! 389 Directory Server's password rules, as pure functions over what the server sent (it is
//! also the directory of FreeIPA, whose Kerberos attributes are in [`super::freeipa`], and of Red
//! Hat Directory Server):
//! - its own bind response controls besides the ppolicy one: 2.16.840.1.113730.3.4.4 "password
//!   expired" and 2.16.840.1.113730.3.4.5 "password expiring" (seconds left, as decimal text),
//!   sent only inside the server's warning window (or always, with `passwordSendExpiringTime`);
//! - `passwordExpirationTime` of the user's entry, with the server's markers: 19700101000000Z
//!   (reset by an administrator), 19700101000001Z (to be changed at the first login) and
//!   20380119031407Z (the server's "end of time": a password that does not expire);
//! - the effective policy: the local (user or subtree) policy that `pwdpolicysubentry` names, else
//!   the global one in `cn=config`; each is readable only where an ACI lets users read it.
//!
//! "Never" comes only from a positive fact: a policy with `passwordExp: off`, or the end-of-time
//! marker. A missing `passwordExpirationTime` proves nothing (under an expiring policy the server
//! stamps one at the next bind), so without a readable policy the answer is "unknown", with the
//! reason.

use chrono::{DateTime, Duration, Utc};

use super::openldap::{self, BindVerdict};
use super::ppolicy::PpolicyResponse;
use crate::rules::expiry::{Deadline, Facts, Source};

/// Bind response control: the password has expired (value "0").
pub const EXPIRED_OID: &str = "2.16.840.1.113730.3.4.4";
/// Bind response control: the password expires in the value's number of seconds.
pub const EXPIRING_OID: &str = "2.16.840.1.113730.3.4.5";
/// Operational attributes of the user's entry read after a bind.
pub const USER_ATTRIBUTES: [&str; 2] = ["passwordExpirationTime", "pwdpolicysubentry"];
/// Attributes of a local policy entry.
pub const POLICY_ATTRIBUTES: [&str; 1] = ["passwordExp"];
/// The global policy's entry and attributes.
pub const GLOBAL_POLICY_DN: &str = "cn=config";
pub const GLOBAL_POLICY_ATTRIBUTES: [&str; 2] = ["passwordExp", "nsslapd-pwpolicy-local"];

/// `passwordExpirationTime` 19700101000000Z: reset by an administrator (NO_TIME in the server).
const RESET_MARKER: i64 = 0;
/// 19700101000001Z: the password must be changed at the first login (NOT_FIRST_TIME).
const FIRST_LOGIN_MARKER: i64 = 1;
/// 20380119031407Z: the server's end of time, kept for passwords that do not expire.
const END_OF_TIME: i64 = 2_147_483_647;
/// Longest "seconds left" text accepted (2^31 - 1 has ten digits).
const MAX_SECONDS_DIGITS: usize = 10;

/// What the bind said through the server's own controls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetscapeControls {
    pub expired: bool,
    pub expiring_secs: Option<u32>,
}

/// The "password expiring" control's value: decimal seconds as text.
pub fn expiring_seconds(value: Option<&[u8]>) -> Result<u32, String> {
    let digits = value.unwrap_or_default();
    if digits.is_empty()
        || digits.len() > MAX_SECONDS_DIGITS
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return Err("the password expiring control does not hold a number of seconds".into());
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|secs| i64::from(*secs) <= END_OF_TIME)
        .ok_or_else(|| "the password expiring control's number of seconds is too large".into())
}

/// What a bind said: the ppolicy control first (the same news, with grace logins counted), the
/// server's own controls when it sent no ppolicy answer.
pub fn bind_verdict(
    rc: u32,
    ppolicy: &PpolicyResponse,
    netscape: &NetscapeControls,
    now: DateTime<Utc>,
) -> BindVerdict {
    let verdict = openldap::bind_verdict(rc, ppolicy, now);
    if ppolicy.warning.is_some() || ppolicy.error.is_some() {
        return verdict;
    }
    let deadline = match (rc, netscape.expired, netscape.expiring_secs) {
        // The server sends it only after the password was checked: right, but expired.
        (0 | 49, true, _) => Deadline::ExpiredNow,
        (0, false, Some(secs)) => Deadline::At {
            expires_at: now + Duration::seconds(i64::from(secs)),
        },
        _ => return verdict,
    };
    BindVerdict::Accepted {
        facts: Some(Facts::new(deadline, Source::LdapNetscapeControl)),
    }
}

/// What `passwordExpirationTime` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    At(DateTime<Utc>),
    /// Reset by an administrator, or to be changed at the first login.
    MustChange,
    /// The end-of-time marker.
    Never,
}

/// Parses `passwordExpirationTime`; `None` when it is not a GeneralizedTime.
pub fn expiration(value: &str) -> Option<Expiration> {
    let at = openldap::parse_generalized_time(value)?;
    Some(match at.timestamp() {
        RESET_MARKER | FIRST_LOGIN_MARKER => Expiration::MustChange,
        END_OF_TIME => Expiration::Never,
        _ => Expiration::At(at),
    })
}

/// A policy entry as read: `passwordExp`, and (`cn=config` only) whether local policies apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub expires: Option<bool>,
    pub local_policies: Option<bool>,
}

/// A 389 on/off attribute (`passwordExp`, `nsslapd-pwpolicy-local`).
pub fn parse_switch(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{name} is neither on nor off")),
    }
}

/// What the user's entry and the policies say, as read after a bind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryAttributes {
    pub expiration: Option<Expiration>,
    /// `pwdpolicysubentry` names a local policy: `Some(None)` when it is not readable.
    pub local_policy: Option<Option<Policy>>,
    /// `cn=config`, when readable.
    pub global_policy: Option<Policy>,
}

/// Whether the effective policy says passwords expire, and which policy said it.
fn effective_policy(attrs: &EntryAttributes) -> Option<(bool, Source)> {
    let global = attrs.global_policy.unwrap_or_default();
    match attrs.local_policy {
        // Local policies apply unless the global one is known to switch them off.
        Some(local) if global.local_policies != Some(false) => local
            .and_then(|p| p.expires)
            .map(|expires| (expires, Source::LdapLocalPolicy)),
        _ => global
            .expires
            .map(|expires| (expires, Source::LdapPasswordPolicy)),
    }
}

/// The deadline from the entry; `said_expired` when the bind said the password has expired (then
/// a past date is the date it expired, to be told).
pub fn entry_facts(attrs: &EntryAttributes, now: DateTime<Utc>, said_expired: bool) -> Facts {
    let policy = effective_policy(attrs);
    if let Some((false, source)) = policy {
        return Facts::new(Deadline::Never, source);
    }
    let source = Source::LdapPasswordExpirationTime;
    let unknown = |note: &str| Facts {
        note: Some(note.to_string()),
        ..Facts::new(Deadline::Unknown, source)
    };
    match attrs.expiration {
        None => unknown(
            "389 Directory Server: passwordExpirationTime is absent or not readable, and no readable password policy says passwords do not expire",
        ),
        Some(Expiration::Never) => Facts::new(Deadline::Never, source),
        Some(Expiration::MustChange) => Facts {
            note: Some("it was reset and must be changed".into()),
            ..Facts::new(Deadline::ExpiredNow, source)
        },
        // A past date the server did not call expired: its policy does not age this password.
        Some(Expiration::At(at)) if at <= now && policy.is_none() && !said_expired => unknown(
            "389 Directory Server: passwordExpirationTime has passed, yet the server did not say the password expired; its password policy is not readable",
        ),
        Some(Expiration::At(expires_at)) => Facts::new(Deadline::At { expires_at }, source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ldap::ppolicy;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap()
    }

    fn facts_of(verdict: BindVerdict) -> Option<Facts> {
        match verdict {
            BindVerdict::Accepted { facts } => facts,
            other => panic!("expected acceptance, got {other:?}"),
        }
    }

    #[test]
    fn expiring_control_values() {
        // As 389-ds 2.3 sent them (base64 MTIwOTU5OA== and MA==).
        assert_eq!(expiring_seconds(Some(b"1209598")), Ok(1_209_598));
        assert_eq!(expiring_seconds(Some(b"0")), Ok(0));
        assert_eq!(expiring_seconds(Some(b"2147483647")), Ok(2_147_483_647));
        for bad in [
            &b""[..],
            b"-1",
            b" 12",
            b"12s",
            b"2147483648",
            b"99999999999",
            b"\xff\xfe",
        ] {
            assert!(expiring_seconds(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(expiring_seconds(None).is_err());
    }

    #[test]
    fn the_ppolicy_control_comes_first() {
        // In the warning window 389-ds sends both; in grace, ppolicy counts the grace logins.
        let ppolicy_warning = ppolicy::decode(Some(&[
            0x30, 0x07, 0xa0, 0x05, 0x80, 0x03, 0x12, 0x74, 0xfe,
        ]))
        .unwrap();
        let expiring = NetscapeControls {
            expired: false,
            expiring_secs: Some(1_209_598),
        };
        let f = facts_of(bind_verdict(0, &ppolicy_warning, &expiring, now())).unwrap();
        assert_eq!(f.source, Source::LdapPpolicyControl);
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: now() + Duration::seconds(1_209_598)
            }
        );
        let grace = ppolicy::decode(Some(&[0x30, 5, 0xa0, 3, 0x81, 1, 2])).unwrap();
        let expired = NetscapeControls {
            expired: true,
            expiring_secs: None,
        };
        let f = facts_of(bind_verdict(0, &grace, &expired, now())).unwrap();
        assert_eq!(
            (f.deadline, f.grace_logins_left, f.source),
            (Deadline::ExpiredNow, Some(2), Source::LdapPpolicyControl)
        );
    }

    #[test]
    fn the_servers_own_controls_alone() {
        let none = PpolicyResponse::default();
        let table = [
            // (rc, expired, expiring, deadline)
            (
                0,
                false,
                Some(864_000),
                Some(Deadline::At {
                    expires_at: now() + Duration::days(10),
                }),
            ),
            (0, true, None, Some(Deadline::ExpiredNow)),
            // Out of grace logins: 49 "password expired!" with the expired control.
            (49, true, None, Some(Deadline::ExpiredNow)),
        ];
        for (rc, expired, expiring_secs, want) in table {
            let controls = NetscapeControls {
                expired,
                expiring_secs,
            };
            let f = facts_of(bind_verdict(rc, &none, &controls, now())).unwrap();
            assert_eq!(Some(f.deadline), want, "{rc} {expired} {expiring_secs:?}");
            assert_eq!(f.source, Source::LdapNetscapeControl);
        }
        assert_eq!(
            facts_of(bind_verdict(0, &none, &NetscapeControls::default(), now())),
            None
        );
        // A refused password with an expiring control proves nothing.
        let expiring = NetscapeControls {
            expired: false,
            expiring_secs: Some(10),
        };
        assert_eq!(
            bind_verdict(49, &none, &expiring, now()),
            BindVerdict::Refused(crate::rules::expiry::SignInReason::Rejected)
        );
    }

    #[test]
    fn expiration_markers() {
        let table = [
            ("19700101000000Z", Some(Expiration::MustChange)),
            ("19700101000001Z", Some(Expiration::MustChange)),
            ("20380119031407Z", Some(Expiration::Never)),
            // Only the marker itself: a later date is a date (64-bit servers, long maximum ages).
            (
                "20390101000000Z",
                Some(Expiration::At(
                    Utc.with_ymd_and_hms(2039, 1, 1, 0, 0, 0).unwrap(),
                )),
            ),
            (
                "20261011120000Z",
                Some(Expiration::At(
                    Utc.with_ymd_and_hms(2026, 10, 11, 12, 0, 0).unwrap(),
                )),
            ),
            ("20261011", None),
            ("never", None),
        ];
        for (value, want) in table {
            assert_eq!(expiration(value), want, "{value}");
        }
    }

    #[test]
    fn a_past_date_is_the_expiry_date_when_the_bind_said_expired() {
        let yesterday = now() - Duration::days(1);
        let attrs = EntryAttributes {
            expiration: Some(Expiration::At(yesterday)),
            ..Default::default()
        };
        let f = entry_facts(&attrs, now(), true);
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: yesterday
            }
        );
        assert_eq!(
            entry_facts(&attrs, now(), false).deadline,
            Deadline::Unknown
        );
    }

    #[test]
    fn switches() {
        for on in ["on", "ON", " true", "1"] {
            assert_eq!(parse_switch("passwordExp", on), Ok(true), "{on}");
        }
        for off in ["off", "Off", "false", "0"] {
            assert_eq!(parse_switch("passwordExp", off), Ok(false), "{off}");
        }
        assert!(parse_switch("passwordExp", "maybe").is_err());
    }

    #[test]
    fn entry_rules() {
        let in_40_days = now() + Duration::days(40);
        let yesterday = now() - Duration::days(1);
        let expiring = Some(Policy {
            expires: Some(true),
            local_policies: None,
        });
        let not_expiring = Some(Policy {
            expires: Some(false),
            local_policies: None,
        });
        let attrs = |expiration, local_policy, global_policy| EntryAttributes {
            expiration,
            local_policy,
            global_policy,
        };
        use Deadline::*;
        use Source::*;
        let table: Vec<(&str, EntryAttributes, Deadline, Source)> = vec![
            (
                "a date",
                attrs(Some(Expiration::At(in_40_days)), None, None),
                At {
                    expires_at: in_40_days,
                },
                LdapPasswordExpirationTime,
            ),
            (
                "a date, policy unreadable: still the date",
                attrs(Some(Expiration::At(in_40_days)), Some(None), None),
                At {
                    expires_at: in_40_days,
                },
                LdapPasswordExpirationTime,
            ),
            (
                "absent, nothing readable: unknown, not never",
                attrs(None, None, None),
                Unknown,
                LdapPasswordExpirationTime,
            ),
            (
                "absent under an expiring global policy: unknown",
                attrs(None, None, expiring),
                Unknown,
                LdapPasswordExpirationTime,
            ),
            (
                "global policy without aging",
                attrs(None, None, not_expiring),
                Never,
                LdapPasswordPolicy,
            ),
            (
                "global policy without aging beats a stale date",
                attrs(Some(Expiration::At(in_40_days)), None, not_expiring),
                Never,
                LdapPasswordPolicy,
            ),
            (
                "an exempting local policy beats an expiring global one and the stale date",
                attrs(
                    Some(Expiration::At(in_40_days)),
                    Some(not_expiring),
                    expiring,
                ),
                Never,
                LdapLocalPolicy,
            ),
            (
                "an expiring local policy beats a global one without aging",
                attrs(
                    Some(Expiration::At(in_40_days)),
                    Some(expiring),
                    not_expiring,
                ),
                At {
                    expires_at: in_40_days,
                },
                LdapPasswordExpirationTime,
            ),
            (
                "local policies switched off in cn=config: the global policy",
                attrs(
                    Some(Expiration::At(in_40_days)),
                    Some(not_expiring),
                    Some(Policy {
                        expires: Some(true),
                        local_policies: Some(false),
                    }),
                ),
                At {
                    expires_at: in_40_days,
                },
                LdapPasswordExpirationTime,
            ),
            (
                "an unreadable local policy hides the global one",
                attrs(None, Some(None), not_expiring),
                Unknown,
                LdapPasswordExpirationTime,
            ),
            (
                "the end-of-time marker",
                attrs(Some(Expiration::Never), None, None),
                Never,
                LdapPasswordExpirationTime,
            ),
            (
                "reset by an administrator",
                attrs(Some(Expiration::MustChange), None, None),
                ExpiredNow,
                LdapPasswordExpirationTime,
            ),
            (
                "a past date the server did not call expired, policy unreadable",
                attrs(Some(Expiration::At(yesterday)), None, None),
                Unknown,
                LdapPasswordExpirationTime,
            ),
            (
                "a past date under a readable expiring policy: this clock is ahead",
                attrs(Some(Expiration::At(yesterday)), None, expiring),
                At {
                    expires_at: yesterday,
                },
                LdapPasswordExpirationTime,
            ),
        ];
        for (name, attrs, deadline, source) in table {
            let f = entry_facts(&attrs, now(), false);
            assert_eq!((f.deadline, f.source), (deadline.clone(), source), "{name}");
            assert_eq!(
                f.note.is_some(),
                deadline == Unknown || deadline == ExpiredNow,
                "{name}"
            );
            assert_eq!(
                f.warning_days, None,
                "{name}: the server's window never shortens ours"
            );
        }
    }
}
