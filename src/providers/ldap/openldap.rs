//! OpenLDAP ppolicy rules, as pure functions: what a bind's response control means, the
//! deadline from `pwdChangedTime` + the effective policy's `pwdMaxAge` / `pwdExpireWarning`, and
//! how what the entry says completes what the control said.
//!
//! "Never" comes only from the policy (`pwdMaxAge` 0): an entry without a readable
//! `pwdChangedTime` is "unknown", with the reason, not "never".

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::ppolicy::{PpolicyError, PpolicyResponse, PpolicyWarning};
use crate::rules::expiry::{Deadline, Facts, SignInReason, Source};

/// Operational attributes of the user's entry that are read after a successful bind.
pub const USER_ATTRIBUTES: [&str; 2] = ["pwdChangedTime", "pwdPolicySubentry"];
/// Attributes of the policy entry.
pub const POLICY_ATTRIBUTES: [&str; 3] = ["objectClass", "pwdMaxAge", "pwdExpireWarning"];

const SECS_PER_DAY: i64 = 86_400;

/// What a bind said, according to its ppolicy response control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindVerdict {
    /// The password is the user's; `facts` when the control already gave the deadline.
    Accepted { facts: Option<Facts> },
    /// The endpoint refused the sign-in.
    Refused(SignInReason),
}

/// Interprets a bind's result code and ppolicy control. `now` turns "seconds left" into an instant.
pub fn bind_verdict(rc: u32, control: &PpolicyResponse, now: DateTime<Utc>) -> BindVerdict {
    let control_facts = |deadline, note, grace_logins_left| {
        Some(Facts {
            note,
            grace_logins_left,
            ..Facts::new(deadline, Source::LdapPpolicyControl)
        })
    };
    match (rc, control.error, control.warning) {
        (_, Some(PpolicyError::AccountLocked), _) => BindVerdict::Refused(SignInReason::Locked),
        // The password was right but has expired (rc 49), or the bind was allowed with it anyway.
        (0 | 49, Some(PpolicyError::PasswordExpired), _) => BindVerdict::Accepted {
            facts: control_facts(Deadline::ExpiredNow, None, None),
        },
        (0, Some(PpolicyError::ChangeAfterReset), _) => BindVerdict::Accepted {
            facts: control_facts(
                Deadline::ExpiredNow,
                Some("it was reset and must be changed".into()),
                None,
            ),
        },
        (0, _, Some(PpolicyWarning::GraceAuthnsRemaining(n))) => BindVerdict::Accepted {
            facts: control_facts(Deadline::ExpiredNow, None, Some(n)),
        },
        (0, _, Some(PpolicyWarning::TimeBeforeExpiration(secs))) => BindVerdict::Accepted {
            facts: control_facts(
                Deadline::At {
                    expires_at: now + Duration::seconds(i64::from(secs)),
                },
                None,
                None,
            ),
        },
        (0, _, None) => BindVerdict::Accepted { facts: None },
        _ => BindVerdict::Refused(SignInReason::Rejected),
    }
}

/// What the user's entry and its policy say, as read after a successful bind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryAttributes {
    pub changed_at: Option<DateTime<Utc>>,
    /// `pwdMaxAge` in seconds, when the policy was readable.
    pub max_age_secs: Option<i64>,
    /// `pwdExpireWarning` in seconds, when the policy was readable.
    pub expire_warning_secs: Option<i64>,
}

/// The deadline from the entry: `pwdChangedTime` + `pwdMaxAge`; a policy without aging (a zero
/// max age, or one too large to add) means the password never expires.
pub fn entry_facts(attrs: &EntryAttributes) -> Facts {
    let expires_at = |changed_at: DateTime<Utc>, secs| {
        Duration::try_seconds(secs).and_then(|age| changed_at.checked_add_signed(age))
    };
    let (deadline, source, note) = match (attrs.changed_at, attrs.max_age_secs) {
        (_, Some(0)) => (Deadline::Never, Source::LdapPasswordPolicy, None),
        (None, _) => (
            Deadline::Unknown,
            Source::LdapPwdChangedTime,
            Some("the entry has no readable pwdChangedTime"),
        ),
        // The policy was not readable: the configured max age applies.
        (Some(changed_at), None) => (
            Deadline::AfterChange {
                changed_at,
                validity_days: None,
            },
            Source::LdapPwdChangedTime,
            None,
        ),
        (Some(changed_at), Some(secs)) => match expires_at(changed_at, secs) {
            Some(expires_at) => (
                Deadline::At { expires_at },
                Source::LdapPwdChangedTime,
                None,
            ),
            None => (Deadline::Never, Source::LdapPasswordPolicy, None),
        },
    };
    Facts {
        warning_days: warning_days(attrs.expire_warning_secs),
        changed_at: attrs.changed_at,
        note: note.map(str::to_string),
        ..Facts::new(deadline, source)
    }
}

/// What a bind's control said, completed by what the entry says: the last change, the server's
/// warning window, and for an expired password the date it expired, when the entry's date has
/// passed (a reset password's date may lie ahead: that is no expiry date).
pub fn completed(control: Facts, entry: &Facts, now: DateTime<Utc>) -> Facts {
    let deadline = match (&control.deadline, &entry.deadline) {
        (Deadline::ExpiredNow, Deadline::At { expires_at }) if *expires_at <= now => {
            Deadline::ExpiredSince {
                expires_at: *expires_at,
            }
        }
        (deadline, _) => deadline.clone(),
    };
    Facts {
        deadline,
        changed_at: control.changed_at.or(entry.changed_at),
        warning_days: control.warning_days.or(entry.warning_days),
        ..control
    }
}

/// The policy's maximum age in seconds: its `pwdMaxAge`, or 0 (no aging) when a `pwdPolicy` entry
/// has none, as the ppolicy draft defines; `None` when the entry is no `pwdPolicy` (another
/// server's policy, or one whose object classes are not readable), which says nothing.
pub fn max_age(pwd_max_age: Option<i64>, object_classes: &[String]) -> Option<i64> {
    let is_pwd_policy = object_classes
        .iter()
        .any(|c| c.eq_ignore_ascii_case("pwdPolicy"));
    pwd_max_age.or(is_pwd_policy.then_some(0))
}

/// `pwdExpireWarning` in whole days; 0 (the server sends no warnings) leaves the configured window.
pub fn warning_days(secs: Option<i64>) -> Option<i64> {
    secs.filter(|s| *s > 0).map(|s| s / SECS_PER_DAY)
}

/// A ppolicy duration attribute (`pwdMaxAge`, `pwdExpireWarning`): seconds, 0 or more.
pub fn parse_seconds(name: &str, value: &str) -> Result<i64, String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 19 {
        return Err(format!("{name} is not a number of seconds"));
    }
    match value.parse::<i64>() {
        Ok(secs) if secs >= 0 => Ok(secs),
        _ => Err(format!("{name} is not a number of seconds")),
    }
}

/// Parses an LDAP GeneralizedTime such as `20260901000000Z`, `20260901000000.123456Z` or
/// `20260901020000+0200`.
pub fn parse_generalized_time(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if value.len() < 15 || value.len() > 40 || !value.is_ascii() {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = value.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(4..6)?,
        digits(6..8)?,
    )?;
    let time = date.and_hms_opt(digits(8..10)?, digits(10..12)?, digits(12..14)?)?;
    let mut rest = &value[14..];
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix(['.', ',']) {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let kept = &fraction[..len.min(9)];
        nanos = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = &fraction[len..];
    }
    let offset_secs = match rest {
        "Z" => 0,
        _ if rest.len() == 5 => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hours = rest[1..3].parse::<i64>().ok()?;
            let minutes = rest[3..5].parse::<i64>().ok()?;
            if hours > 23 || minutes > 59 || !rest[1..].bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let utc = time.and_utc() - Duration::seconds(offset_secs) + Duration::nanoseconds(nanos);
    Some(utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ldap::ppolicy;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap()
    }

    fn control(hex: &[u8]) -> PpolicyResponse {
        ppolicy::decode(Some(hex)).unwrap()
    }

    fn facts_of(verdict: BindVerdict) -> Facts {
        match verdict {
            BindVerdict::Accepted { facts: Some(f) } => f,
            other => panic!("expected facts, got {other:?}"),
        }
    }

    #[test]
    fn time_before_expiration_is_an_explicit_deadline() {
        let c = control(&[0x30, 0x07, 0xa0, 0x05, 0x80, 0x03, 0x0d, 0x2e, 0xe4]);
        let f = facts_of(bind_verdict(0, &c, now()));
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: now() + Duration::seconds(863_972)
            }
        );
        assert_eq!(f.source, Source::LdapPpolicyControl);
    }

    #[test]
    fn expired_grace_and_reset() {
        let expired = facts_of(bind_verdict(49, &control(&[0x30, 3, 0x81, 1, 0]), now()));
        assert_eq!(expired.deadline, Deadline::ExpiredNow);
        assert_eq!(expired.note, None);

        let grace = facts_of(bind_verdict(
            0,
            &control(&[0x30, 5, 0xa0, 3, 0x81, 1, 2]),
            now(),
        ));
        assert_eq!(grace.deadline, Deadline::ExpiredNow);
        assert_eq!(grace.grace_logins_left, Some(2));
        let one = facts_of(bind_verdict(
            0,
            &control(&[0x30, 5, 0xa0, 3, 0x81, 1, 1]),
            now(),
        ));
        assert_eq!(one.grace_logins_left, Some(1));

        let reset = facts_of(bind_verdict(0, &control(&[0x30, 3, 0x81, 1, 2]), now()));
        assert_eq!(reset.deadline, Deadline::ExpiredNow);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            bind_verdict(49, &control(&[0x30, 3, 0x81, 1, 1]), now()),
            BindVerdict::Refused(SignInReason::Locked)
        );
        assert_eq!(
            bind_verdict(49, &control(&[0x30, 0]), now()),
            BindVerdict::Refused(SignInReason::Rejected)
        );
        assert_eq!(
            bind_verdict(49, &PpolicyResponse::default(), now()),
            BindVerdict::Refused(SignInReason::Rejected)
        );
        // changeAfterReset with a failed bind proves nothing about the password.
        assert_eq!(
            bind_verdict(49, &control(&[0x30, 3, 0x81, 1, 2]), now()),
            BindVerdict::Refused(SignInReason::Rejected)
        );
    }

    #[test]
    fn success_without_a_warning_needs_the_entry() {
        assert_eq!(
            bind_verdict(0, &control(&[0x30, 0]), now()),
            BindVerdict::Accepted { facts: None }
        );
    }

    #[test]
    fn entry_deadline_rules() {
        let changed = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
        let f = entry_facts(&EntryAttributes {
            changed_at: Some(changed),
            max_age_secs: Some(90 * 86_400),
            expire_warning_secs: Some(14 * 86_400 + 3600),
        });
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: changed + Duration::days(90)
            }
        );
        assert_eq!(f.warning_days, Some(14));
        assert_eq!(f.changed_at, Some(changed));
        assert_eq!(f.source, Source::LdapPwdChangedTime);

        let never = entry_facts(&EntryAttributes {
            changed_at: Some(changed),
            max_age_secs: Some(0),
            expire_warning_secs: Some(0),
        });
        assert_eq!(never.deadline, Deadline::Never);
        assert_eq!(never.source, Source::LdapPasswordPolicy);
        assert_eq!(never.warning_days, None);

        // No change time: unknown, with the reason, even under a readable expiring policy.
        for max_age_secs in [None, Some(90 * 86_400)] {
            let unknown = entry_facts(&EntryAttributes {
                max_age_secs,
                ..Default::default()
            });
            assert_eq!(unknown.deadline, Deadline::Unknown, "{max_age_secs:?}");
            assert_eq!(unknown.source, Source::LdapPwdChangedTime);
            assert!(unknown.note.unwrap().contains("pwdChangedTime"));
        }
        // ...but a policy without aging is a fact of its own.
        let ageless = entry_facts(&EntryAttributes {
            max_age_secs: Some(0),
            ..Default::default()
        });
        assert_eq!(
            (ageless.deadline, ageless.source),
            (Deadline::Never, Source::LdapPasswordPolicy)
        );
        assert_eq!(
            entry_facts(&EntryAttributes {
                changed_at: Some(changed),
                ..Default::default()
            })
            .deadline,
            Deadline::AfterChange {
                changed_at: changed,
                validity_days: None
            }
        );
        let huge = entry_facts(&EntryAttributes {
            changed_at: Some(changed),
            max_age_secs: Some(i64::MAX),
            expire_warning_secs: None,
        });
        assert_eq!(huge.deadline, Deadline::Never);
        assert_eq!(huge.source, Source::LdapPasswordPolicy);
    }

    #[test]
    fn the_entry_completes_the_control() {
        let changed = now() - Duration::days(100);
        let entry = |deadline| Facts {
            changed_at: Some(changed),
            warning_days: Some(14),
            ..Facts::new(deadline, Source::LdapPwdChangedTime)
        };
        let grace = Facts {
            grace_logins_left: Some(2),
            ..Facts::new(Deadline::ExpiredNow, Source::LdapPpolicyControl)
        };
        let passed = now() - Duration::days(10);
        let f = completed(
            grace.clone(),
            &entry(Deadline::At { expires_at: passed }),
            now(),
        );
        assert_eq!(f.deadline, Deadline::ExpiredSince { expires_at: passed });
        assert_eq!(
            (f.source, f.grace_logins_left, f.changed_at, f.warning_days),
            (Source::LdapPpolicyControl, Some(2), Some(changed), Some(14))
        );
        // A date ahead is no expiry date (a reset password); unknown and never add nothing.
        for other in [
            Deadline::At {
                expires_at: now() + Duration::days(80),
            },
            Deadline::Unknown,
            Deadline::Never,
        ] {
            let f = completed(grace.clone(), &entry(other.clone()), now());
            assert_eq!(f.deadline, Deadline::ExpiredNow, "{other:?}");
        }
        // A control's own date stands.
        let soon = Facts::new(
            Deadline::At {
                expires_at: now() + Duration::days(10),
            },
            Source::LdapPpolicyControl,
        );
        let f = completed(
            soon.clone(),
            &entry(Deadline::At { expires_at: passed }),
            now(),
        );
        assert_eq!((f.deadline, f.source), (soon.deadline, soon.source));
        assert_eq!(f.changed_at, Some(changed));
    }

    #[test]
    fn a_missing_max_age_is_no_aging_only_in_a_pwd_policy() {
        let classes = |c: &[&str]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let pwd_policy = classes(&["device", "pwdPolicy"]);
        assert_eq!(max_age(Some(7_776_000), &pwd_policy), Some(7_776_000));
        assert_eq!(max_age(None, &pwd_policy), Some(0));
        assert_eq!(max_age(None, &classes(&["device", "PWDPOLICY"])), Some(0));
        // 389 Directory Server's local policies, and entries whose classes are hidden.
        assert_eq!(
            max_age(None, &classes(&["ldapsubentry", "passwordpolicy"])),
            None
        );
        assert_eq!(max_age(None, &[]), None);
        assert_eq!(max_age(Some(0), &[]), Some(0));
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_seconds("pwdMaxAge", "7776000"), Ok(7_776_000));
        for bad in ["", "-1", "1e9", "99999999999999999999", "ninety"] {
            assert!(parse_seconds("pwdMaxAge", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generalized_times() {
        let t = |s| parse_generalized_time(s);
        assert_eq!(
            t("20260901000000Z"),
            Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            t("20260901020000+0200"),
            Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            t("20260901000000.25Z"),
            Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap() + Duration::milliseconds(250))
        );
        for bad in [
            "",
            "2026",
            "20261301000000Z",
            "20260931000000Z",
            "20260901000000",
            "20260901000000+02",
            "20260901000000.Z",
            "2026090100000xZ",
            "20260901000000+2400",
            "é0260901000000Z",
            "20260901000000.123456789012345678901234567Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }
}
