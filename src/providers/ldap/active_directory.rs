//! Active Directory's rules, as pure functions over what the server sent: the `data XXX` code in
//! a failed bind's diagnostic message, FILETIME values, and the attributes that give the password
//! deadline (`msDS-UserPasswordExpiryTimeComputed`, `pwdLastSet` + the domain's `maxPwdAge`,
//! `userAccountControl`). Samba AD uses the same formats.

use chrono::{DateTime, Duration, Utc};

use crate::rules::expiry::{Deadline, Facts, SignInReason, Source};

/// `userAccountControl` bit: the password never expires.
pub const UF_DONT_EXPIRE_PASSWD: i64 = 0x10000;
/// FILETIME sentinel for "never" in `msDS-UserPasswordExpiryTimeComputed` (and `accountExpires`).
pub const FILETIME_NEVER: i64 = i64::MAX;
/// Seconds between 1601-01-01 (FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET_SECS: i64 = 11_644_473_600;
const FILETIME_TICKS_PER_SEC: i64 = 10_000_000;

/// The user attributes read after a successful bind.
pub const USER_ATTRIBUTES: [&str; 3] = [
    "msDS-UserPasswordExpiryTimeComputed",
    "pwdLastSet",
    "userAccountControl",
];

/// What a failed bind's `data XXX` code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindCode {
    /// 532: the password is right but expired.
    PasswordExpired,
    /// 773: the password is right but must be changed (reset by an admin, or pwdLastSet = 0).
    MustChange,
    /// 52e (bad password), 525 (no such user).
    Rejected,
    /// 775 locked, 533 disabled, 701 account expired.
    Refused(SignInReason),
    /// 530 (logon hours), 531 (workstation): the account may not sign in from here right now.
    Restricted(u32),
    /// A code this program does not know.
    Unknown(u32),
}

/// Finds `data XXX` (hexadecimal) in an AD bind diagnostic such as
/// `80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 532, v893`.
pub fn data_code(diagnostic: &str) -> Option<u32> {
    let at = diagnostic.find("data ")?;
    let digits: String = diagnostic[at + 5..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(9)
        .collect();
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(&digits, 16).ok()
}

/// The meaning of a `data` code.
pub fn classify(code: u32) -> BindCode {
    match code {
        0x532 => BindCode::PasswordExpired,
        0x773 => BindCode::MustChange,
        0x52e | 0x525 => BindCode::Rejected,
        0x775 => BindCode::Refused(SignInReason::Locked),
        0x533 => BindCode::Refused(SignInReason::Disabled),
        0x701 => BindCode::Refused(SignInReason::AccountExpired),
        0x530 | 0x531 => BindCode::Restricted(code),
        other => BindCode::Unknown(other),
    }
}

/// A FILETIME (100 ns ticks since 1601-01-01 UTC) as an instant; `None` when out of range.
pub fn filetime_to_utc(ticks: i64) -> Option<DateTime<Utc>> {
    if ticks < 0 {
        return None;
    }
    let secs = ticks / FILETIME_TICKS_PER_SEC - FILETIME_UNIX_OFFSET_SECS;
    let nanos = u32::try_from((ticks % FILETIME_TICKS_PER_SEC) * 100).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// An AD integer attribute (`pwdLastSet`, `maxPwdAge`, ...): decimal, at most 20 characters.
pub fn parse_integer(name: &str, value: &str) -> Result<i64, String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 20 {
        return Err(format!("{name} is not a number"));
    }
    value
        .parse::<i64>()
        .map_err(|_| format!("{name} is not a number"))
}

/// The attributes of the user's entry and the domain, as integers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdAttributes {
    pub computed_expiry: Option<i64>,
    pub pwd_last_set: Option<i64>,
    pub user_account_control: Option<i64>,
    /// The domain's `maxPwdAge`: a negative interval in 100 ns ticks.
    pub max_pwd_age: Option<i64>,
}

/// `maxPwdAge` as a duration; `Ok(None)` means passwords never expire (0 or the minimum value).
pub fn max_pwd_age(value: i64) -> Result<Option<Duration>, String> {
    if value == 0 || value == i64::MIN {
        return Ok(None);
    }
    if value > 0 {
        return Err(
            "maxPwdAge is positive; Active Directory stores it as a negative interval".into(),
        );
    }
    let ticks = -value;
    let secs = ticks / FILETIME_TICKS_PER_SEC;
    let nanos = (ticks % FILETIME_TICKS_PER_SEC) * 100;
    Ok(Duration::try_seconds(secs).map(|d| d + Duration::nanoseconds(nanos)))
}

/// The deadline from what the entry says, or an error naming the odd value.
pub fn facts(attrs: &AdAttributes) -> Result<Facts, String> {
    let changed_at = match attrs.pwd_last_set {
        Some(v) if v < 0 => return Err("pwdLastSet is negative".into()),
        Some(0) | None => None,
        Some(v) => Some(filetime_to_utc(v).ok_or("pwdLastSet is out of range")?),
    };
    let with = |deadline, source| Facts {
        changed_at,
        ..Facts::new(deadline, source)
    };
    if attrs
        .user_account_control
        .is_some_and(|uac| uac & UF_DONT_EXPIRE_PASSWD != 0)
    {
        return Ok(with(Deadline::Never, Source::AdAccountControl));
    }
    if let Some(computed) = attrs.computed_expiry {
        let deadline = match computed {
            0 => Deadline::ExpiredNow,
            FILETIME_NEVER => Deadline::Never,
            v => Deadline::At {
                expires_at: filetime_to_utc(v)
                    .ok_or("msDS-UserPasswordExpiryTimeComputed is out of range")?,
            },
        };
        return Ok(with(deadline, Source::AdComputedExpiry));
    }
    match (attrs.pwd_last_set, changed_at) {
        (Some(0), _) => Ok(with(Deadline::ExpiredNow, Source::AdPwdLastSet)),
        (_, None) => Ok(with(Deadline::Unknown, Source::AdPwdLastSet)),
        (_, Some(changed)) => {
            let deadline = match attrs.max_pwd_age.map(max_pwd_age).transpose()? {
                // The domain policy was not readable: the configured max age applies.
                None => Deadline::AfterChange {
                    changed_at: changed,
                    validity_days: None,
                },
                Some(None) => Deadline::Never,
                Some(Some(age)) => match changed.checked_add_signed(age) {
                    Some(expires_at) => Deadline::At { expires_at },
                    None => Deadline::Never,
                },
            };
            Ok(with(deadline, Source::AdPwdLastSet))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const WINDOWS_MESSAGE: &str =
        "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 532, v893";

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn data_codes_from_windows_and_samba_messages() {
        assert_eq!(data_code(WINDOWS_MESSAGE), Some(0x532));
        assert_eq!(
            data_code("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1"),
            Some(0x52e)
        );
        assert_eq!(data_code("... data 773, v4563\0"), Some(0x773));
        assert_eq!(data_code("data 775"), Some(0x775));
        assert_eq!(data_code("Invalid credentials"), None);
        assert_eq!(data_code("data , v893"), None);
        assert_eq!(data_code("data 123456789abcdef, v1"), None);
    }

    #[test]
    fn every_data_code_has_a_meaning() {
        let table = [
            (0x532, BindCode::PasswordExpired),
            (0x773, BindCode::MustChange),
            (0x52e, BindCode::Rejected),
            (0x525, BindCode::Rejected),
            (0x775, BindCode::Refused(SignInReason::Locked)),
            (0x533, BindCode::Refused(SignInReason::Disabled)),
            (0x701, BindCode::Refused(SignInReason::AccountExpired)),
            (0x530, BindCode::Restricted(0x530)),
            (0x531, BindCode::Restricted(0x531)),
            (0x568, BindCode::Unknown(0x568)),
        ];
        for (code, meaning) in table {
            assert_eq!(classify(code), meaning, "{code:x}");
            let message = format!(
                "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data {code:x}, v893"
            );
            assert_eq!(data_code(&message).map(classify), Some(meaning));
        }
    }

    #[test]
    fn filetime_conversion() {
        assert_eq!(
            filetime_to_utc(116_444_736_000_000_000),
            Some(utc(1970, 1, 1, 0, 0, 0))
        );
        // 2024-03-01 12:00:00 UTC = unix 1709294400
        assert_eq!(
            filetime_to_utc((1_709_294_400 + 11_644_473_600) * 10_000_000 + 5),
            Some(utc(2024, 3, 1, 12, 0, 0) + Duration::nanoseconds(500))
        );
        assert_eq!(filetime_to_utc(0), Some(utc(1601, 1, 1, 0, 0, 0)));
        assert_eq!(filetime_to_utc(-1), None);
        // i64::MAX is year 30828: representable, and the policy core treats it as "never".
        assert!(filetime_to_utc(FILETIME_NEVER).is_some());
    }

    #[test]
    fn integers_are_checked() {
        assert_eq!(parse_integer("pwdLastSet", " 133 "), Ok(133));
        assert_eq!(
            parse_integer("maxPwdAge", "-36288000000000"),
            Ok(-36_288_000_000_000)
        );
        assert!(parse_integer("pwdLastSet", "").is_err());
        assert!(parse_integer("pwdLastSet", "12abc").is_err());
        assert!(parse_integer("pwdLastSet", "99999999999999999999").is_err());
        assert!(parse_integer("pwdLastSet", &"9".repeat(10_000)).is_err());
    }

    #[test]
    fn max_pwd_age_is_a_negative_interval() {
        // 42 days, as Windows stores the default domain policy.
        assert_eq!(
            max_pwd_age(-36_288_000_000_000),
            Ok(Some(Duration::days(42)))
        );
        assert_eq!(max_pwd_age(0), Ok(None));
        assert_eq!(max_pwd_age(i64::MIN), Ok(None));
        assert!(max_pwd_age(36_288_000_000_000).is_err());
    }

    fn filetime(at: DateTime<Utc>) -> i64 {
        (at.timestamp() + 11_644_473_600) * 10_000_000
    }

    #[test]
    fn computed_expiry_wins_and_its_sentinels() {
        let set = utc(2026, 1, 10, 8, 0, 0);
        let expires = utc(2026, 4, 10, 8, 0, 0);
        let attrs = AdAttributes {
            computed_expiry: Some(filetime(expires)),
            pwd_last_set: Some(filetime(set)),
            user_account_control: Some(0x200),
            max_pwd_age: Some(-36_288_000_000_000),
        };
        let f = facts(&attrs).unwrap();
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: expires
            }
        );
        assert_eq!(f.source, Source::AdComputedExpiry);
        assert_eq!(f.changed_at, Some(set));
        assert_eq!(f.warning_days, None);

        let never = facts(&AdAttributes {
            computed_expiry: Some(0x7FFF_FFFF_FFFF_FFFF),
            ..attrs
        })
        .unwrap();
        assert_eq!(never.deadline, Deadline::Never);
        assert_eq!(never.source, Source::AdComputedExpiry);

        let now = facts(&AdAttributes {
            computed_expiry: Some(0),
            pwd_last_set: Some(0),
            ..attrs
        })
        .unwrap();
        assert_eq!(now.deadline, Deadline::ExpiredNow);
        assert_eq!(now.changed_at, None);
    }

    #[test]
    fn dont_expire_password_flag_means_never() {
        let f = facts(&AdAttributes {
            user_account_control: Some(0x10200),
            pwd_last_set: Some(filetime(utc(2020, 1, 1, 0, 0, 0))),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.deadline, Deadline::Never);
        assert_eq!(f.source, Source::AdAccountControl);
    }

    #[test]
    fn pwd_last_set_plus_max_pwd_age() {
        let set = utc(2026, 1, 10, 8, 0, 0);
        let attrs = AdAttributes {
            pwd_last_set: Some(filetime(set)),
            user_account_control: Some(0x200),
            max_pwd_age: Some(-36_288_000_000_000),
            ..Default::default()
        };
        let f = facts(&attrs).unwrap();
        assert_eq!(
            f.deadline,
            Deadline::At {
                expires_at: set + Duration::days(42)
            }
        );
        assert_eq!(f.source, Source::AdPwdLastSet);
        assert_eq!(f.changed_at, Some(set));

        let never = facts(&AdAttributes {
            max_pwd_age: Some(i64::MIN),
            ..attrs
        })
        .unwrap();
        assert_eq!(never.deadline, Deadline::Never);

        let unreadable = facts(&AdAttributes {
            max_pwd_age: None,
            ..attrs
        })
        .unwrap();
        assert_eq!(
            unreadable.deadline,
            Deadline::AfterChange {
                changed_at: set,
                validity_days: None
            }
        );

        let must_change = facts(&AdAttributes {
            pwd_last_set: Some(0),
            ..attrs
        })
        .unwrap();
        assert_eq!(must_change.deadline, Deadline::ExpiredNow);
    }

    #[test]
    fn odd_values_are_errors_not_panics() {
        for attrs in [
            AdAttributes {
                pwd_last_set: Some(-5),
                ..Default::default()
            },
            AdAttributes {
                computed_expiry: Some(-5),
                ..Default::default()
            },
            AdAttributes {
                pwd_last_set: Some(filetime(utc(2026, 1, 1, 0, 0, 0))),
                max_pwd_age: Some(5),
                ..Default::default()
            },
        ] {
            assert!(facts(&attrs).is_err(), "{attrs:?}");
        }
        // The largest change time plus the largest age does not overflow; such a date is far
        // past year 9999, which the policy core reads as "never".
        let f = facts(&AdAttributes {
            pwd_last_set: Some(i64::MAX - 1),
            max_pwd_age: Some(i64::MIN + 1),
            ..Default::default()
        })
        .unwrap();
        use chrono::Datelike;
        assert!(
            matches!(f.deadline, Deadline::Never)
                || matches!(f.deadline, Deadline::At { expires_at } if expires_at.year() > 9999),
            "{f:?}"
        );
    }
}
