//! Every date rule of the product, as pure functions.
//!
//! Providers report what the identity endpoint said ([`Finding`]); this module turns that into a
//! [`Status`] (`evaluate`) and decides whether today's balloon is due (`balloon_due`). Nothing here
//! reads the clock, the network or a file: `now` is always an argument, so every rule is
//! table-tested, including DST changes, leap days, time zones and a clock that goes backwards.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A validity this long or longer means "never" (2147483647 is the usual sentinel).
const NEVER_VALIDITY_DAYS: i64 = i32::MAX as i64;
/// Latest instant we accept as a real deadline; anything later is treated as "never".
const LATEST_PLAUSIBLE_YEAR: i32 = 9999;

/// How the password's deadline is known, as reported by the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Deadline {
    /// The endpoint gave the instant itself (token claim, ppolicy control, AD computed attribute).
    At { expires_at: DateTime<Utc> },
    /// The endpoint gave the last change; the validity comes from the endpoint or the config.
    AfterChange {
        changed_at: DateTime<Utc>,
        validity_days: Option<i64>,
    },
    /// The password never expires.
    Never,
    /// The endpoint says the password has expired or must be changed now.
    ExpiredNow,
    /// The endpoint says the password has expired, and another of its answers says when: the
    /// date is shown, but the endpoint's word, not this computer's clock, makes it expired.
    ExpiredSince { expires_at: DateTime<Utc> },
    /// Nothing was said about the deadline.
    Unknown,
}

/// Where the deadline came from; shown as `source` in `check --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Entra token endpoint error (50055, 50144, `user_password_expired`).
    TokenEndpoint,
    /// `pwd_exp` optional claim of the access token.
    TokenClaim,
    /// Graph `passwordPolicies` contains `DisablePasswordExpiration`.
    GraphPasswordPolicies,
    /// Graph `lastPasswordChangeDateTime` + the domain's `passwordValidityPeriodInDays`.
    GraphDomainPolicy,
    /// Graph `lastPasswordChangeDateTime` + `[policy] max_age_days` from the configuration.
    GraphConfigPolicy,
    /// OpenLDAP ppolicy bind response control.
    LdapPpolicyControl,
    /// OpenLDAP `pwdChangedTime` + `pwdMaxAge` of the effective policy.
    LdapPwdChangedTime,
    /// The effective password policy says passwords do not expire (OpenLDAP `pwdMaxAge` 0,
    /// 389 Directory Server `passwordExp: off` in `cn=config`, FreeIPA `krbMaxPwdLife` 0).
    LdapPasswordPolicy,
    /// A 389 Directory Server local (user or subtree) policy with `passwordExp: off`.
    LdapLocalPolicy,
    /// 389 Directory Server `passwordExpirationTime` of the user's entry.
    LdapPasswordExpirationTime,
    /// 389 Directory Server's bind response controls "password expired" (2.16.840.1.113730.3.4.4)
    /// and "password expiring" (2.16.840.1.113730.3.4.5).
    LdapNetscapeControl,
    /// FreeIPA `krbPasswordExpiration` of the user's entry.
    LdapKrbPasswordExpiration,
    /// Active Directory bind diagnostic (`data 532`, `data 773`, ...).
    AdBindError,
    /// Active Directory `msDS-UserPasswordExpiryTimeComputed`.
    AdComputedExpiry,
    /// Active Directory `pwdLastSet` + the domain's `maxPwdAge`.
    AdPwdLastSet,
    /// Active Directory `userAccountControl` DONT_EXPIRE_PASSWORD.
    AdAccountControl,
}

/// What the endpoint said about a password it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub deadline: Deadline,
    /// The endpoint's own warning window, when it has one.
    pub warning_days: Option<i64>,
    pub source: Source,
    /// The last password change, when known: a new value means it was changed elsewhere.
    #[serde(default)]
    pub changed_at: Option<DateTime<Utc>>,
    /// Where to change the password, when the endpoint says (e.g. the `pwd_url` claim).
    #[serde(default)]
    pub portal_url: Option<String>,
    /// Extra words for the reason, e.g. "it was reset and must be changed".
    #[serde(default)]
    pub note: Option<String>,
    /// The password has expired but this many grace logins remain (OpenLDAP ppolicy). Each bind
    /// spends one, so the agent does not re-check such an account by itself.
    #[serde(default)]
    pub grace_logins_left: Option<u32>,
    /// How far this computer's clock was ahead of the endpoint's (negative: behind), in
    /// seconds, when the endpoint said its time (HTTP `Date`).
    #[serde(default)]
    pub clock_offset_secs: Option<i64>,
}

impl Facts {
    /// Facts with only a deadline and its source; the optional parts are set with struct update
    /// syntax (`Facts { note: Some(..), ..Facts::new(deadline, source) }`).
    pub fn new(deadline: Deadline, source: Source) -> Facts {
        Facts {
            deadline,
            warning_days: None,
            source,
            changed_at: None,
            portal_url: None,
            note: None,
            grace_logins_left: None,
            clock_offset_secs: None,
        }
    }
}

/// Why there are no usable credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInReason {
    NoCredentials,
    Rejected,
    PasswordChangedElsewhere,
    MfaRequired,
    Locked,
    Disabled,
    AccountExpired,
    ConsentMissing,
    /// The endpoint wants an interactive step the password grant cannot do (an external
    /// challenge, registering for MFA, a terms-of-use page): sign in with the browser.
    InteractionRequired,
    /// The refresh token was refused (password changed, sessions revoked, expired) and no
    /// password is kept to fall back on.
    SessionEnded,
    /// The kept credentials were accepted by another sign-in server than the configured one
    /// (or kept by an older version that did not record which): they were forgotten unsent.
    EndpointChanged,
    /// Signing in with a Kerberos ticket, and there is none for the account, or it expired.
    NoTicket,
    /// Signing in with a Kerberos ticket on a computer without a Kerberos library.
    NoKerberos,
}

impl SignInReason {
    /// Plain words for the person at the desk.
    pub fn explain(self) -> &'static str {
        match self {
            SignInReason::NoCredentials => "you have not signed in yet; run `signin-assistant sign-in`",
            SignInReason::Rejected => "the password was not accepted; sign in again with your current password",
            SignInReason::PasswordChangedElsewhere => {
                "your password was changed; sign in with the new one"
            }
            SignInReason::MfaRequired => {
                "your organisation requires multi-factor authentication, which the password sign-in cannot do; sign in with the browser: run `signin-assistant sign-in --browser` (or choose \"Sign in with browser…\" in the tray)"
            }
            SignInReason::Locked => "your account is locked; wait or ask your IT desk to unlock it",
            SignInReason::Disabled => "your account is disabled; contact your IT desk",
            SignInReason::AccountExpired => "your account has expired; contact your IT desk",
            SignInReason::ConsentMissing => {
                "signin-assistant has not been approved (consent is missing); sign in with the browser to approve it: run `signin-assistant sign-in --browser` (or choose \"Sign in with browser…\" in the tray); if it says an admin must approve, contact your IT desk"
            }
            SignInReason::InteractionRequired => {
                "your organisation requires an extra step the password sign-in cannot do; sign in with the browser: run `signin-assistant sign-in --browser` (or choose \"Sign in with browser…\" in the tray)"
            }
            SignInReason::SessionEnded => {
                "your password was changed or your session ended; sign in again"
            }
            SignInReason::EndpointChanged => {
                "the configured sign-in server changed; sign in again"
            }
            SignInReason::NoTicket => {
                "you have no valid Kerberos ticket (none, or it expired): log in to this computer again, or get one with `kinit` and your account in the realm's capitals (e.g. `kinit alice@EXAMPLE.COM`)"
            }
            SignInReason::NoKerberos => {
                "this computer has no Kerberos library to sign in with your ticket: install it (Debian and Ubuntu: libgssapi-krb5-2) or ask your IT desk"
            }
        }
    }
}

impl SignInReason {
    /// Only an interactive sign-in (browser or device code) can fix it: the tray offers the
    /// browser sign-in directly for these.
    pub fn needs_browser(self) -> bool {
        matches!(
            self,
            SignInReason::MfaRequired
                | SignInReason::ConsentMissing
                | SignInReason::InteractionRequired
        )
    }

    /// The credentials that worked stopped working (changed elsewhere, revoked): worth one
    /// balloon when a check first finds it.
    pub fn ends_session(self) -> bool {
        matches!(
            self,
            SignInReason::PasswordChangedElsewhere | SignInReason::SessionEnded
        )
    }
}

/// The outcome of one determination: facts about an accepted password, or why sign-in is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "finding")]
pub enum Finding {
    Facts(Facts),
    SignInRequired { reason: SignInReason },
}

/// The organisation's rules, from the configuration, used when the endpoint does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_age_days: i64,
    pub warning_days: i64,
    pub urgent_days: i64,
}

impl Policy {
    /// The product's defaults: 90-day passwords, warned about from 14 days before, insistently
    /// in the last 3.
    pub const DEFAULT: Policy = Policy {
        max_age_days: 90,
        warning_days: 14,
        urgent_days: 3,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// The states a person (and an admin's script) sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordState {
    Ok,
    Warning,
    Expired,
    NeverExpires,
    SignInRequired,
    Unknown,
}

/// The evaluated password status at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: PasswordState,
    pub expires_at: Option<DateTime<Utc>>,
    pub days_left: Option<i64>,
    /// Inside the last `urgent_days` of the warning window.
    pub urgent: bool,
    pub source: Option<Source>,
    pub reason: Option<String>,
}

impl Status {
    /// The status before anything was ever determined.
    pub fn unknown(reason: Option<String>) -> Status {
        Status {
            state: PasswordState::Unknown,
            expires_at: None,
            days_left: None,
            urgent: false,
            source: None,
            reason,
        }
    }
}

/// The instant the password expires: `Ok(None)` for never, `Err(())` when not known.
fn expiry_instant(deadline: &Deadline, policy: &Policy) -> Result<Option<DateTime<Utc>>, ()> {
    match deadline {
        Deadline::At { expires_at } => Ok(plausible(*expires_at)),
        Deadline::AfterChange {
            changed_at,
            validity_days,
        } => {
            let days = validity_days.unwrap_or(policy.max_age_days);
            if days <= 0 || days >= NEVER_VALIDITY_DAYS {
                return Ok(None);
            }
            Ok(Duration::try_days(days)
                .and_then(|d| changed_at.checked_add_signed(d))
                .and_then(plausible))
        }
        Deadline::Never => Ok(None),
        Deadline::ExpiredNow | Deadline::ExpiredSince { .. } | Deadline::Unknown => Err(()),
    }
}

/// Deadlines past year 9999 are sentinels ("never"), not dates to show.
fn plausible(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    (at.year() <= LATEST_PLAUSIBLE_YEAR).then_some(at)
}

/// Whole days from `now` until `at`, rounded down; 0 once it has passed.
pub fn whole_days_until(now: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
    let left = at - now;
    if left <= Duration::zero() {
        0
    } else {
        left.num_days()
    }
}

/// Turns what the endpoint said into the status at `now`.
pub fn evaluate(now: DateTime<Utc>, finding: &Finding, policy: &Policy) -> Status {
    let facts = match finding {
        Finding::SignInRequired { reason } => {
            return Status {
                state: PasswordState::SignInRequired,
                expires_at: None,
                days_left: None,
                urgent: false,
                source: None,
                reason: Some(reason.explain().to_string()),
            }
        }
        Finding::Facts(facts) => facts,
    };
    let notes: Vec<String> = [
        facts.note.clone(),
        facts.grace_logins_left.map(grace_note),
        facts.clock_offset_secs.and_then(clock_skew_note),
    ]
    .into_iter()
    .flatten()
    .collect();
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    let base = Status {
        state: PasswordState::Unknown,
        expires_at: None,
        days_left: None,
        urgent: false,
        source: Some(facts.source),
        reason: note.clone(),
    };
    if let Some(expired) = said_expired(&facts.deadline, base.clone()) {
        return expired;
    }
    let expires_at = match expiry_instant(&facts.deadline, policy) {
        Err(()) => {
            return Status {
                reason: Some(join_reason(
                    "the endpoint did not say when the password expires",
                    note,
                )),
                ..base
            }
        }
        Ok(None) => {
            return Status {
                state: PasswordState::NeverExpires,
                ..base
            }
        }
        Ok(Some(at)) => at,
    };
    dated_status(now, expires_at, facts, policy, base)
}

/// The status when the endpoint says the password has expired, with the date when another of its
/// answers gave it; `None` when it does not say so.
fn said_expired(deadline: &Deadline, base: Status) -> Option<Status> {
    let expires_at = match deadline {
        Deadline::ExpiredNow => None,
        Deadline::ExpiredSince { expires_at } => plausible(*expires_at),
        _ => return None,
    };
    Some(Status {
        state: PasswordState::Expired,
        expires_at,
        days_left: Some(0),
        urgent: true,
        reason: Some(join_reason(
            "your password has expired; change it now",
            base.reason.clone(),
        )),
        ..base
    })
}

/// The status of a password with a known deadline: ok, inside the warning window (urgent in its
/// last days), or expired.
fn dated_status(
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    facts: &Facts,
    policy: &Policy,
    base: Status,
) -> Status {
    let note = base.reason.clone();
    // The earlier of the two warnings: an endpoint's longer window (Entra's notification
    // window, a directory's pwdExpireWarning) starts it sooner, a shorter one never shortens ours.
    let window = facts
        .warning_days
        .filter(|d| *d >= 0)
        .map_or(policy.warning_days, |d| d.max(policy.warning_days));
    let days_left = whole_days_until(now, expires_at);
    let state = if now >= expires_at {
        PasswordState::Expired
    } else if in_last_days(now, expires_at, window) {
        PasswordState::Warning
    } else {
        PasswordState::Ok
    };
    let urgent = match state {
        PasswordState::Expired => true,
        PasswordState::Warning => in_last_days(now, expires_at, policy.urgent_days.min(window)),
        _ => false,
    };
    let reason = match state {
        PasswordState::Expired => Some(join_reason(
            "your password has expired; change it now",
            note,
        )),
        _ => note,
    };
    Status {
        state,
        expires_at: Some(expires_at),
        days_left: Some(days_left),
        urgent,
        reason,
        ..base
    }
}

/// `now >= expires_at - days`, without overflowing for huge windows.
///
/// When the window start cannot be represented, a huge positive window starts before any
/// instant (always inside), a huge negative one after any instant (never inside) — the same
/// answer a small negative window gives.
fn in_last_days(now: DateTime<Utc>, expires_at: DateTime<Utc>, days: i64) -> bool {
    match Duration::try_days(days).and_then(|d| expires_at.checked_sub_signed(d)) {
        Some(start) => now >= start,
        None => days > 0,
    }
}

fn grace_note(n: u32) -> String {
    match n {
        1 => "1 grace login left".to_string(),
        n => format!("{n} grace logins left"),
    }
}

/// How far this computer's clock may be from the endpoint's before it is said: beyond it,
/// Kerberos and token checks start to fail and the days counted here may be off.
pub const CLOCK_TOLERANCE_SECS: i64 = 300;

/// Words for a clock `offset_secs` ahead of the endpoint's (negative: behind), when it is
/// beyond [`CLOCK_TOLERANCE_SECS`].
pub fn clock_skew_note(offset_secs: i64) -> Option<String> {
    if offset_secs.abs() <= CLOCK_TOLERANCE_SECS {
        return None;
    }
    let direction = if offset_secs > 0 {
        "ahead of"
    } else {
        "behind"
    };
    Some(format!(
        "this computer's clock is {} {direction} the identity endpoint's: let it set its time automatically",
        duration_in_words(offset_secs.unsigned_abs())
    ))
}

/// A duration as people say it, rounded to the nearest unit: "42 s", "7 minutes", "3 hours",
/// "2 days". The one spelling of a duration in messages (a clock's offset is only known to a
/// second or two; how long a sign-in waited).
pub fn duration_in_words(secs: u64) -> String {
    let nearest = |unit: u64| (secs + unit / 2) / unit;
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} minutes", nearest(60)),
        s if s < 2 * 86400 => format!("{} hours", nearest(3600)),
        _ => format!("{} days", nearest(86400)),
    }
}

fn join_reason(main: &str, note: Option<String>) -> String {
    match note {
        Some(note) => format!("{main} ({note})"),
        None => main.to_string(),
    }
}

/// Whether checking again by itself would spend one of the person's last grace logins: then the
/// agent waits for a sign-in or an explicit "Check now" instead.
pub fn recheck_spends_grace_login(finding: Option<&Finding>) -> bool {
    matches!(finding, Some(Finding::Facts(facts)) if facts.grace_logins_left.is_some())
}

/// How insistent a balloon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Goes away by itself after the configured timeout.
    Normal,
    /// Stays until the person acts.
    Critical,
}

/// What the balloon says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balloon {
    pub title: String,
    pub body: String,
    pub urgency: Urgency,
}

/// The balloon for a status, whether or not it is due.
pub fn balloon_for(status: &Status) -> Option<Balloon> {
    let urgency = if status.urgent {
        Urgency::Critical
    } else {
        Urgency::Normal
    };
    match status.state {
        PasswordState::Warning => {
            let when = in_days(status.days_left.unwrap_or(0));
            Some(Balloon {
                title: format!("Your password expires {when}"),
                body: "Click here to change it.".to_string(),
                urgency,
            })
        }
        PasswordState::Expired => Some(Balloon {
            title: "Your password has expired".to_string(),
            body: "Outlook and other apps will keep asking for it or say 'Access Denied' until you change it. Click here to change it.".to_string(),
            urgency: Urgency::Critical,
        }),
        _ => None,
    }
}

/// "today", "tomorrow", "in 10 days": when the deadline comes, as balloons and tooltips say it.
pub fn in_days(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        n => format!("in {n} days"),
    }
}

/// The balloon that says the password was changed elsewhere, shown once when that is noticed.
pub fn password_changed_balloon() -> Balloon {
    Balloon {
        title: "Your password was changed".to_string(),
        body: "Sign in with the new one.".to_string(),
        urgency: Urgency::Normal,
    }
}

/// The balloon when a refresh token stopped working and no password is kept (browser or device
/// code sign-in): the session ended, sign in again.
pub fn session_ended_balloon() -> Balloon {
    Balloon {
        title: "Sign in again".to_string(),
        body: "Your password was changed or your session ended.".to_string(),
        urgency: Urgency::Normal,
    }
}

/// Whether `new` says the password was changed after `previous` was determined: the endpoint
/// reports a later last-change date. The cached password is stale then, even if a token still
/// works, and the person must sign in with the new one.
pub fn changed_since(previous: Option<&Finding>, new: &Finding) -> bool {
    let changed_at = |finding: &Finding| match finding {
        Finding::Facts(facts) => facts.changed_at,
        Finding::SignInRequired { .. } => None,
    };
    match (previous.and_then(changed_at), changed_at(new)) {
        (Some(before), Some(now)) => now > before,
        _ => false,
    }
}

/// The result of "Sign in…" from the tray when the password was accepted: the new status in
/// words (`summary`, e.g. "Password expires in 40 days (Mon 12 Jan)"), or today's warning when
/// the password is in the warning window or expired.
pub fn signed_in_balloon(status: &Status, summary: &str) -> Balloon {
    match balloon_for(status) {
        Some(warning) => Balloon {
            title: "Signed in".to_string(),
            body: format!("{}. {}", warning.title, warning.body),
            urgency: warning.urgency,
        },
        None => Balloon {
            title: "Signed in".to_string(),
            body: format!("{summary}."),
            urgency: Urgency::Normal,
        },
    }
}

/// The result of "Sign in…" from the tray when it did not work: `reason` says why, in words a
/// person acts on ("the password was not accepted; sign in again with your current password").
pub fn sign_in_failed_balloon(reason: &str) -> Balloon {
    Balloon {
        title: format!(
            "Sign-in failed: {}",
            crate::rules::untrusted::clean(reason, crate::rules::untrusted::MAX_ENDPOINT_TEXT)
        ),
        body: "Choose \"Sign in…\" in the tray menu to try again.".to_string(),
        urgency: Urgency::Normal,
    }
}

/// The balloon due on the local day `today`, if any: at most one per local calendar day while the
/// password is in the warning window or expired. `last_shown` is the local date of the last balloon.
///
/// A clock that went backwards must not bring a second balloon for a day already served; but a
/// `last_shown` more than a day in the future can only come from a clock that was wrong then, and
/// must not silence the warnings for good.
pub fn balloon_due(
    today: NaiveDate,
    status: &Status,
    last_shown: Option<NaiveDate>,
) -> Option<Balloon> {
    let already_served = match last_shown {
        None => false,
        Some(last) => last >= today && (last - today).num_days() <= 1,
    };
    if already_served {
        return None;
    }
    balloon_for(status)
}

#[cfg(test)]
mod tests;
