//! Table tests for every date rule in `policy`: state boundaries, rounding, windows, leap days,
//! DST nights, far-off time zones, a clock that goes backwards, balloon texts, sentinels and the
//! JSON shape of what the state file stores.
//!
//! Each table is a `Vec` of named cases; every assertion message starts with the case name so a
//! failure says which rule broke.

use super::*;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, mi, s)
        .single()
        .expect("valid UTC instant")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// The deadline most tables are measured against.
fn expiry() -> DateTime<Utc> {
    utc(2027, 6, 15, 12, 0, 0)
}

fn facts(deadline: Deadline, warning_days: Option<i64>) -> Finding {
    Finding::Facts(Facts {
        warning_days,
        ..Facts::new(deadline, Source::TokenClaim)
    })
}

fn at(expires_at: DateTime<Utc>) -> Finding {
    facts(Deadline::At { expires_at }, None)
}

fn at_with_window(expires_at: DateTime<Utc>, window: i64) -> Finding {
    facts(Deadline::At { expires_at }, Some(window))
}

fn after_change(changed_at: DateTime<Utc>, validity_days: Option<i64>) -> Finding {
    facts(
        Deadline::AfterChange {
            changed_at,
            validity_days,
        },
        None,
    )
}

fn policy(max_age_days: i64, warning_days: i64, urgent_days: i64) -> Policy {
    Policy {
        max_age_days,
        warning_days,
        urgent_days,
    }
}

// ---------------------------------------------------------------------------------------------
// evaluate: states, boundaries, rounding, windows, validity, leap days, sentinels
// ---------------------------------------------------------------------------------------------

struct EvalCase {
    name: &'static str,
    now: DateTime<Utc>,
    finding: Finding,
    policy: Policy,
    state: PasswordState,
    expires_at: Option<DateTime<Utc>>,
    days_left: Option<i64>,
    urgent: bool,
}

impl EvalCase {
    /// A case under the default policy (90 days, 14-day window, last 3 days urgent).
    fn new(name: &'static str, now: DateTime<Utc>, finding: Finding) -> Self {
        EvalCase {
            name,
            now,
            finding,
            policy: Policy::default(),
            state: PasswordState::Unknown,
            expires_at: None,
            days_left: None,
            urgent: false,
        }
    }

    fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    fn want(
        mut self,
        state: PasswordState,
        expires_at: Option<DateTime<Utc>>,
        days_left: Option<i64>,
        urgent: bool,
    ) -> Self {
        self.state = state;
        self.expires_at = expires_at;
        self.days_left = days_left;
        self.urgent = urgent;
        self
    }
}

fn eval_cases() -> Vec<EvalCase> {
    use PasswordState::*;
    let e = expiry();
    let ex = Some(e);
    let change = utc(2027, 3, 17, 12, 0, 0); // + 90 days = expiry()
    vec![
        // --- each state boundary, one second either side -------------------------------------
        EvalCase::new("a month before: ok", e - days(30), at(e)).want(Ok, ex, Some(30), false),
        EvalCase::new("1 s before the window: ok", e - days(14) - secs(1), at(e)).want(
            Ok,
            ex,
            Some(14),
            false,
        ),
        EvalCase::new("at the window start: warning", e - days(14), at(e)).want(
            Warning,
            ex,
            Some(14),
            false,
        ),
        EvalCase::new(
            "1 s into the window: warning",
            e - days(14) + secs(1),
            at(e),
        )
        .want(Warning, ex, Some(13), false),
        EvalCase::new(
            "1 s before urgent: not urgent",
            e - days(3) - secs(1),
            at(e),
        )
        .want(Warning, ex, Some(3), false),
        EvalCase::new("at urgent start: urgent", e - days(3), at(e)).want(
            Warning,
            ex,
            Some(3),
            true,
        ),
        EvalCase::new("1 s into urgent: urgent", e - days(3) + secs(1), at(e)).want(
            Warning,
            ex,
            Some(2),
            true,
        ),
        EvalCase::new("1 s before expiry: warning, 0 days", e - secs(1), at(e)).want(
            Warning,
            ex,
            Some(0),
            true,
        ),
        EvalCase::new("at expiry: expired", e, at(e)).want(Expired, ex, Some(0), true),
        EvalCase::new("1 s after expiry: expired", e + secs(1), at(e)).want(
            Expired,
            ex,
            Some(0),
            true,
        ),
        EvalCase::new("a year after expiry: expired, 0 days", e + days(400), at(e)).want(
            Expired,
            ex,
            Some(0),
            true,
        ),
        // --- rounding of days_left -----------------------------------------------------------
        EvalCase::new("10 d 2 h left -> 10", e - days(10) - hours(2), at(e)).want(
            Warning,
            ex,
            Some(10),
            false,
        ),
        EvalCase::new("10 d minus 1 s left -> 9", e - days(10) + secs(1), at(e)).want(
            Warning,
            ex,
            Some(9),
            false,
        ),
        EvalCase::new("23 h 59 m left -> 0", e - hours(23) - mins(59), at(e)).want(
            Warning,
            ex,
            Some(0),
            true,
        ),
        EvalCase::new("exactly 1 day left -> 1", e - days(1), at(e)).want(
            Warning,
            ex,
            Some(1),
            true,
        ),
        EvalCase::new("1 day and 1 s left -> 1", e - days(1) - secs(1), at(e)).want(
            Warning,
            ex,
            Some(1),
            true,
        ),
        // --- endpoint window vs policy window ------------------------------------------------
        // A shorter endpoint window never shortens the policy's: the earlier warning wins.
        EvalCase::new(
            "endpoint window 5 under policy 14: 6 d left is a warning",
            e - days(6),
            at_with_window(e, 5),
        )
        .want(Warning, ex, Some(6), false),
        EvalCase::new(
            "endpoint window 5 under policy 14: 1 s before the policy's start is ok",
            e - days(14) - secs(1),
            at_with_window(e, 5),
        )
        .want(Ok, ex, Some(14), false),
        EvalCase::new(
            "endpoint window 5 under policy 7: 6 d left is a warning",
            e - days(6),
            at_with_window(e, 5),
        )
        .policy(policy(90, 7, 1))
        .want(Warning, ex, Some(6), false),
        EvalCase::new(
            "endpoint window 5 under policy 4: at the endpoint's start",
            e - days(5),
            at_with_window(e, 5),
        )
        .policy(policy(90, 4, 1))
        .want(Warning, ex, Some(5), false),
        EvalCase::new(
            "endpoint window 5 under policy 4: 1 s before the endpoint's start",
            e - days(5) - secs(1),
            at_with_window(e, 5),
        )
        .policy(policy(90, 4, 1))
        .want(Ok, ex, Some(5), false),
        EvalCase::new(
            "endpoint window 30: 20 d left",
            e - days(20),
            at_with_window(e, 30),
        )
        .want(Warning, ex, Some(20), false),
        EvalCase::new(
            "endpoint window 30: 1 s before its start",
            e - days(30) - secs(1),
            at_with_window(e, 30),
        )
        .want(Ok, ex, Some(30), false),
        EvalCase::new(
            "endpoint window 0: the policy still warns",
            e - secs(1),
            at_with_window(e, 0),
        )
        .want(Warning, ex, Some(0), true),
        EvalCase::new("endpoint window 0: still expires", e, at_with_window(e, 0)).want(
            Expired,
            ex,
            Some(0),
            true,
        ),
        EvalCase::new(
            "endpoint window -1: policy 14 applies",
            e - days(14),
            at_with_window(e, -1),
        )
        .want(Warning, ex, Some(14), false),
        EvalCase::new(
            "endpoint window -1: policy 14 applies (before)",
            e - days(14) - secs(1),
            at_with_window(e, -1),
        )
        .want(Ok, ex, Some(14), false),
        EvalCase::new(
            "endpoint window i64::MIN: policy applies",
            e - days(20),
            at_with_window(e, i64::MIN),
        )
        .want(Ok, ex, Some(20), false),
        EvalCase::new(
            "endpoint window i64::MAX: always warning",
            e - days(1000),
            at_with_window(e, i64::MAX),
        )
        .want(Warning, ex, Some(1000), false),
        EvalCase::new("policy window 7: 8 d left is ok", e - days(8), at(e))
            .policy(policy(90, 7, 1))
            .want(Ok, ex, Some(8), false),
        EvalCase::new("policy window 7: at its start", e - days(7), at(e))
            .policy(policy(90, 7, 1))
            .want(Warning, ex, Some(7), false),
        // --- urgency escalation --------------------------------------------------------------
        EvalCase::new(
            "urgent 1: 1 d + 1 s left is not urgent",
            e - days(1) - secs(1),
            at(e),
        )
        .policy(policy(90, 7, 1))
        .want(Warning, ex, Some(1), false),
        EvalCase::new("urgent 1: 1 d left is urgent", e - days(1), at(e))
            .policy(policy(90, 7, 1))
            .want(Warning, ex, Some(1), true),
        EvalCase::new("urgent 0: never urgent before expiry", e - secs(1), at(e))
            .policy(policy(90, 14, 0))
            .want(Warning, ex, Some(0), false),
        EvalCase::new("urgent 0: expired is still urgent", e, at(e))
            .policy(policy(90, 14, 0))
            .want(Expired, ex, Some(0), true),
        EvalCase::new(
            "urgent 3 > window 2: whole window urgent",
            e - days(2),
            at(e),
        )
        .policy(policy(90, 2, 3))
        .want(Warning, ex, Some(2), true),
        EvalCase::new(
            "urgent 3 > window 2: before the window, not urgent",
            e - days(2) - secs(1),
            at(e),
        )
        .policy(policy(90, 2, 3))
        .want(Ok, ex, Some(2), false),
        EvalCase::new(
            "urgent = window: urgent from window start",
            e - days(14),
            at(e),
        )
        .policy(policy(90, 14, 14))
        .want(Warning, ex, Some(14), true),
        EvalCase::new(
            "urgent i64::MAX: urgent whenever warning",
            e - days(10),
            at(e),
        )
        .policy(policy(90, 14, i64::MAX))
        .want(Warning, ex, Some(10), true),
        // --- validity from endpoint vs policy ------------------------------------------------
        EvalCase::new(
            "after change, policy 90 days",
            e - days(20),
            after_change(change, None),
        )
        .want(Ok, ex, Some(20), false),
        EvalCase::new(
            "after change, policy 90: at expiry",
            e,
            after_change(change, None),
        )
        .want(Expired, ex, Some(0), true),
        EvalCase::new(
            "after change, policy 42 days",
            change,
            after_change(change, None),
        )
        .policy(policy(42, 14, 3))
        .want(Ok, Some(utc(2027, 4, 28, 12, 0, 0)), Some(42), false),
        EvalCase::new(
            "endpoint validity 60 beats policy 90",
            utc(2027, 5, 6, 12, 0, 0),
            after_change(change, Some(60)),
        )
        .want(Warning, Some(utc(2027, 5, 16, 12, 0, 0)), Some(10), false),
        EvalCase::new(
            "endpoint validity 120 beats policy 30",
            e,
            after_change(change, Some(120)),
        )
        .policy(policy(30, 14, 3))
        .want(Ok, Some(utc(2027, 7, 15, 12, 0, 0)), Some(30), false),
        // --- leap days (expiry is a count of 24-hour days in UTC) ----------------------------
        EvalCase::new(
            "changed on 2028-02-29 + 90 d",
            utc(2028, 5, 19, 8, 0, 0),
            after_change(utc(2028, 2, 29, 8, 0, 0), None),
        )
        .want(Warning, Some(utc(2028, 5, 29, 8, 0, 0)), Some(10), false),
        EvalCase::new(
            "changed 2027-12-01 + 90 d lands on 2028-02-29",
            utc(2028, 2, 28, 9, 0, 0),
            after_change(utc(2027, 12, 1, 9, 0, 0), None),
        )
        .want(Warning, Some(utc(2028, 2, 29, 9, 0, 0)), Some(1), true),
        EvalCase::new(
            "changed 2026-12-01 + 90 d (no leap day) lands on 2027-03-01",
            utc(2027, 2, 28, 9, 0, 0),
            after_change(utc(2026, 12, 1, 9, 0, 0), None),
        )
        .want(Warning, Some(utc(2027, 3, 1, 9, 0, 0)), Some(1), true),
        EvalCase::new(
            "window across Feb 29: 14 d before 2028-03-07",
            utc(2028, 2, 22, 0, 0, 0),
            at(utc(2028, 3, 7, 0, 0, 0)),
        )
        .want(Warning, Some(utc(2028, 3, 7, 0, 0, 0)), Some(14), false),
        EvalCase::new(
            "window across Feb 29: 1 s before 14 d",
            utc(2028, 2, 21, 23, 59, 59),
            at(utc(2028, 3, 7, 0, 0, 0)),
        )
        .want(Ok, Some(utc(2028, 3, 7, 0, 0, 0)), Some(14), false),
        // --- what the endpoint said instead of a date ----------------------------------------
        EvalCase::new("endpoint says never", e, facts(Deadline::Never, None)).want(
            NeverExpires,
            None,
            None,
            false,
        ),
        EvalCase::new(
            "endpoint says expired now",
            e - days(60),
            facts(Deadline::ExpiredNow, None),
        )
        .want(Expired, None, Some(0), true),
        EvalCase::new(
            "endpoint says expired, and since when",
            e + days(3),
            facts(Deadline::ExpiredSince { expires_at: e }, None),
        )
        .want(Expired, Some(e), Some(0), true),
        EvalCase::new(
            "endpoint says expired, its date still ahead by this clock: its word wins",
            e - hours(1),
            facts(Deadline::ExpiredSince { expires_at: e }, None),
        )
        .want(Expired, Some(e), Some(0), true),
        EvalCase::new(
            "endpoint says expired since a sentinel date: no date shown",
            e,
            facts(
                Deadline::ExpiredSince {
                    expires_at: utc(9999, 12, 31, 23, 59, 59) + secs(1),
                },
                None,
            ),
        )
        .want(Expired, None, Some(0), true),
        EvalCase::new(
            "endpoint said nothing",
            e,
            facts(Deadline::Unknown, Some(14)),
        )
        .want(Unknown, None, None, false),
        EvalCase::new(
            "sign-in required",
            e,
            Finding::SignInRequired {
                reason: SignInReason::Rejected,
            },
        )
        .want(SignInRequired, None, None, false),
        // --- sentinels ------------------------------------------------------------------------
        EvalCase::new(
            "validity 2147483647: never",
            e,
            after_change(change, Some(2147483647)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "validity 2147483646: never",
            e,
            after_change(change, Some(2147483646)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "policy max age 2147483647: never",
            e,
            after_change(change, None),
        )
        .policy(policy(2147483647, 14, 3))
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "validity i64::MAX: never",
            e,
            after_change(change, Some(i64::MAX)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new("validity 0: never", e, after_change(change, Some(0))).want(
            NeverExpires,
            None,
            None,
            false,
        ),
        EvalCase::new("policy max age 0: never", e, after_change(change, None))
            .policy(policy(0, 14, 3))
            .want(NeverExpires, None, None, false),
        EvalCase::new("validity -1: never", e, after_change(change, Some(-1))).want(
            NeverExpires,
            None,
            None,
            false,
        ),
        EvalCase::new(
            "validity i64::MIN: never",
            e,
            after_change(change, Some(i64::MIN)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "validity landing after year 9999: never",
            e,
            after_change(change, Some(3_000_000)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "validity landing in year 9999: a real date",
            e,
            after_change(utc(9999, 1, 1, 0, 0, 0), Some(364)),
        )
        .want(
            Ok,
            Some(utc(9999, 12, 31, 0, 0, 0)),
            Some((utc(9999, 12, 31, 0, 0, 0) - e).num_days()),
            false,
        ),
        EvalCase::new("At in year 10000: never", e, at(utc(10000, 1, 1, 0, 0, 0))).want(
            NeverExpires,
            None,
            None,
            false,
        ),
        EvalCase::new(
            "At on the last second of 9999: a real date",
            utc(9999, 12, 31, 23, 59, 58),
            at(utc(9999, 12, 31, 23, 59, 59)),
        )
        .want(Warning, Some(utc(9999, 12, 31, 23, 59, 59)), Some(0), true),
        EvalCase::new("At MAX_UTC: never", e, at(DateTime::<Utc>::MAX_UTC)).want(
            NeverExpires,
            None,
            None,
            false,
        ),
        EvalCase::new("At MIN_UTC: expired", e, at(DateTime::<Utc>::MIN_UTC)).want(
            Expired,
            Some(DateTime::<Utc>::MIN_UTC),
            Some(0),
            true,
        ),
        EvalCase::new("now MAX_UTC: expired", DateTime::<Utc>::MAX_UTC, at(e)).want(
            Expired,
            ex,
            Some(0),
            true,
        ),
        EvalCase::new("now MIN_UTC: ok", DateTime::<Utc>::MIN_UTC, at(e)).want(
            Ok,
            ex,
            Some((e - DateTime::<Utc>::MIN_UTC).num_days()),
            false,
        ),
        EvalCase::new(
            "now MIN_UTC, expiry MIN_UTC + 1 d: warning",
            DateTime::<Utc>::MIN_UTC,
            at(DateTime::<Utc>::MIN_UTC + days(1)),
        )
        .want(
            Warning,
            Some(DateTime::<Utc>::MIN_UTC + days(1)),
            Some(1),
            true,
        ),
        EvalCase::new(
            "changed at MAX_UTC: no date, never",
            e,
            after_change(DateTime::<Utc>::MAX_UTC, Some(90)),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "changed at MIN_UTC + 90 d: expired",
            e,
            after_change(DateTime::<Utc>::MIN_UTC, Some(90)),
        )
        .want(
            Expired,
            Some(DateTime::<Utc>::MIN_UTC + days(90)),
            Some(0),
            true,
        ),
        EvalCase::new(
            "now MAX_UTC, endpoint says never",
            DateTime::<Utc>::MAX_UTC,
            facts(Deadline::Never, None),
        )
        .want(NeverExpires, None, None, false),
        EvalCase::new(
            "policy window i64::MAX: always warning",
            DateTime::<Utc>::MIN_UTC,
            at(e),
        )
        .policy(policy(90, i64::MAX, 3))
        .want(
            Warning,
            ex,
            Some((e - DateTime::<Utc>::MIN_UTC).num_days()),
            false,
        ),
        EvalCase::new("policy window -1: no warning", e - secs(1), at(e))
            .policy(policy(90, -1, 3))
            .want(Ok, ex, Some(0), false),
        EvalCase::new("policy window i64::MIN: no warning", e - days(1000), at(e))
            .policy(policy(90, i64::MIN, 3))
            .want(Ok, ex, Some(1000), false),
        EvalCase::new(
            "urgent i64::MIN: never urgent before expiry",
            e - days(1),
            at(e),
        )
        .policy(policy(90, 14, i64::MIN))
        .want(Warning, ex, Some(1), false),
        EvalCase::new("urgent -1: never urgent before expiry", e - secs(1), at(e))
            .policy(policy(90, 14, -1))
            .want(Warning, ex, Some(0), false),
    ]
}

#[test]
fn evaluate_table() {
    let cases = eval_cases();
    // Check every case before failing, so one run names every broken rule.
    let mut failures = Vec::new();
    for c in &cases {
        let got = evaluate(c.now, &c.finding, &c.policy);
        let want_source = match &c.finding {
            Finding::Facts(f) => Some(f.source),
            Finding::SignInRequired { .. } => None,
        };
        let got_fields = (
            got.state,
            got.expires_at,
            got.days_left,
            got.urgent,
            got.source,
        );
        let want_fields = (c.state, c.expires_at, c.days_left, c.urgent, want_source);
        if got_fields != want_fields {
            failures.push(format!(
                "{}:\n   got (state, expires_at, days_left, urgent, source) = {got_fields:?}\n  want {want_fields:?}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} evaluate cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
}

// ---------------------------------------------------------------------------------------------
// evaluate: reason texts
// ---------------------------------------------------------------------------------------------

fn with_note(finding: Finding, note: &str) -> Finding {
    match finding {
        Finding::Facts(mut f) => {
            f.note = Some(note.to_string());
            Finding::Facts(f)
        }
        other => other,
    }
}

#[test]
fn reason_table() {
    let e = expiry();
    let all_reasons = [
        SignInReason::NoCredentials,
        SignInReason::Rejected,
        SignInReason::PasswordChangedElsewhere,
        SignInReason::MfaRequired,
        SignInReason::Locked,
        SignInReason::Disabled,
        SignInReason::AccountExpired,
        SignInReason::ConsentMissing,
        SignInReason::InteractionRequired,
        SignInReason::SessionEnded,
        SignInReason::NoTicket,
        SignInReason::NoKerberos,
    ];
    let mut cases: Vec<(String, DateTime<Utc>, Finding, Option<String>)> = all_reasons
        .iter()
        .map(|&reason| {
            (
                format!("sign-in required: {reason:?}"),
                e,
                Finding::SignInRequired { reason },
                Some(reason.explain().to_string()),
            )
        })
        .collect();
    let expired = "your password has expired; change it now";
    cases.extend([
        (
            "expired now, no note".to_string(),
            e,
            facts(Deadline::ExpiredNow, None),
            Some(expired.to_string()),
        ),
        (
            "expired now, with grace note".to_string(),
            e,
            with_note(facts(Deadline::ExpiredNow, None), "2 grace logins left"),
            Some(format!("{expired} (2 grace logins left)")),
        ),
        (
            "expired by date, with note".to_string(),
            e,
            with_note(at(e), "2 grace logins left"),
            Some(format!("{expired} (2 grace logins left)")),
        ),
        (
            "unknown".to_string(),
            e,
            facts(Deadline::Unknown, None),
            Some("the endpoint did not say when the password expires".to_string()),
        ),
        (
            "warning keeps the note as is".to_string(),
            e - days(2),
            with_note(at(e), "policy: corp"),
            Some("policy: corp".to_string()),
        ),
        ("ok without note".to_string(), e - days(30), at(e), None),
        (
            "never without note".to_string(),
            e,
            facts(Deadline::Never, None),
            None,
        ),
    ]);
    for (name, now, finding, want) in &cases {
        let got = evaluate(*now, finding, &Policy::default());
        assert_eq!(&got.reason, want, "{name}: reason");
    }
    // Every reason has its own words.
    let mut texts: Vec<_> = all_reasons.iter().map(|r| r.explain()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(
        texts.len(),
        all_reasons.len(),
        "each SignInReason explains itself differently"
    );
}

// ---------------------------------------------------------------------------------------------
// balloon texts and urgency
// ---------------------------------------------------------------------------------------------

const WARN_BODY: &str = "Click here to change it.";
const EXPIRED_TITLE: &str = "Your password has expired";
const EXPIRED_BODY: &str = "Outlook and other apps will keep asking for it or say 'Access Denied' until you change it. Click here to change it.";

#[test]
fn balloon_text_table() {
    let e = expiry();
    type Want = Option<(&'static str, &'static str, Urgency)>;
    let d = Policy::default();
    let cases: Vec<(&str, DateTime<Utc>, Finding, Policy, Want)> = vec![
        (
            "14 days",
            e - days(14),
            at(e),
            d,
            Some((
                "Your password expires in 14 days",
                WARN_BODY,
                Urgency::Normal,
            )),
        ),
        (
            "10 d 2 h -> 10 days",
            e - days(10) - hours(2),
            at(e),
            d,
            Some((
                "Your password expires in 10 days",
                WARN_BODY,
                Urgency::Normal,
            )),
        ),
        (
            "4 days, not urgent",
            e - days(4),
            at(e),
            d,
            Some((
                "Your password expires in 4 days",
                WARN_BODY,
                Urgency::Normal,
            )),
        ),
        (
            "3 days, urgent",
            e - days(3),
            at(e),
            d,
            Some((
                "Your password expires in 3 days",
                WARN_BODY,
                Urgency::Critical,
            )),
        ),
        (
            "2 days, urgent",
            e - days(2),
            at(e),
            d,
            Some((
                "Your password expires in 2 days",
                WARN_BODY,
                Urgency::Critical,
            )),
        ),
        (
            "1 day -> tomorrow",
            e - days(1),
            at(e),
            d,
            Some((
                "Your password expires tomorrow",
                WARN_BODY,
                Urgency::Critical,
            )),
        ),
        (
            "1 day under urgent 0 -> tomorrow, normal",
            e - days(1) - hours(5),
            at(e),
            policy(90, 14, 0),
            Some(("Your password expires tomorrow", WARN_BODY, Urgency::Normal)),
        ),
        (
            "23 h 59 m -> today",
            e - hours(23) - mins(59),
            at(e),
            d,
            Some(("Your password expires today", WARN_BODY, Urgency::Critical)),
        ),
        (
            "1 s -> today",
            e - secs(1),
            at(e),
            d,
            Some(("Your password expires today", WARN_BODY, Urgency::Critical)),
        ),
        (
            "expired at the deadline",
            e,
            at(e),
            d,
            Some((EXPIRED_TITLE, EXPIRED_BODY, Urgency::Critical)),
        ),
        (
            "expired now (endpoint)",
            e,
            facts(Deadline::ExpiredNow, None),
            d,
            Some((EXPIRED_TITLE, EXPIRED_BODY, Urgency::Critical)),
        ),
        ("ok: no balloon", e - days(15), at(e), d, None),
        (
            "never: no balloon",
            e,
            facts(Deadline::Never, None),
            d,
            None,
        ),
        (
            "unknown: no balloon",
            e,
            facts(Deadline::Unknown, None),
            d,
            None,
        ),
        (
            "sign-in required: no balloon",
            e,
            Finding::SignInRequired {
                reason: SignInReason::NoCredentials,
            },
            d,
            None,
        ),
    ];
    for (name, now, finding, pol, want) in &cases {
        let status = evaluate(*now, finding, pol);
        let got = balloon_for(&status);
        let got = got
            .as_ref()
            .map(|b| (b.title.as_str(), b.body.as_str(), b.urgency));
        assert_eq!(got, *want, "{name}: balloon_for({status:?})");
        // With nothing shown yet, the due balloon is exactly this one.
        let local = now.with_timezone(&chrono_tz::Europe::Berlin);
        let due = balloon_due(local.date_naive(), &status, None);
        assert_eq!(
            due,
            balloon_for(&status),
            "{name}: balloon_due with no history"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// balloon_due: once per local day, DST, far-off zones, clocks going backwards
// ---------------------------------------------------------------------------------------------

fn warning_status() -> Status {
    evaluate(expiry() - days(10), &at(expiry()), &Policy::default())
}

fn expired_status() -> Status {
    evaluate(expiry() + days(1), &at(expiry()), &Policy::default())
}

/// A local wall-clock time that exists exactly once in `tz`.
fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
    tz.with_ymd_and_hms(y, m, d, h, mi, 0)
        .single()
        .unwrap_or_else(|| panic!("{y}-{m}-{d} {h}:{mi} is not a single local time in {tz}"))
}

/// The earlier or later of an ambiguous wall-clock time (the repeated hour of a fall-back night).
fn repeated(tz: Tz, y: i32, m: u32, d: u32, h: u32, mi: u32, later: bool) -> DateTime<Tz> {
    let r = tz.with_ymd_and_hms(y, m, d, h, mi, 0);
    assert!(
        matches!(r, chrono::LocalResult::Ambiguous(..)),
        "{y}-{m}-{d} {h}:{mi} should be repeated in {tz}"
    );
    if later {
        r.latest().unwrap()
    } else {
        r.earliest().unwrap()
    }
}

struct DueCase {
    name: &'static str,
    now: DateTime<Tz>,
    status: Status,
    last_shown: Option<NaiveDate>,
    due: bool,
    /// The UTC calendar date of `now`, when the case depends on it differing from the local one.
    utc_date: Option<NaiveDate>,
}

fn due(name: &'static str, now: DateTime<Tz>, last: Option<NaiveDate>, due: bool) -> DueCase {
    DueCase {
        name,
        now,
        status: warning_status(),
        last_shown: last,
        due,
        utc_date: None,
    }
}

fn due_cases() -> Vec<DueCase> {
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
    let berlin_noon = local(Berlin, 2027, 6, 5, 12, 0);
    let mut cases = vec![
        // --- the basic rule ---------------------------------------------------------------------
        due("never shown: due", berlin_noon, None, true),
        due(
            "shown today: not due",
            berlin_noon,
            Some(date(2027, 6, 5)),
            false,
        ),
        due(
            "shown yesterday: due",
            berlin_noon,
            Some(date(2027, 6, 4)),
            true,
        ),
        due(
            "shown a month ago: due",
            berlin_noon,
            Some(date(2027, 5, 5)),
            true,
        ),
        // --- a clock that went backwards ------------------------------------------------------
        due(
            "shown tomorrow (clock went back): not due",
            berlin_noon,
            Some(date(2027, 6, 6)),
            false,
        ),
        due(
            "shown in 2 days (clock was wrong): due",
            berlin_noon,
            Some(date(2027, 6, 7)),
            true,
        ),
        due(
            "shown in 5 days (clock was wrong): due",
            berlin_noon,
            Some(date(2027, 6, 10)),
            true,
        ),
        due(
            "shown in year 9999 (clock was wrong): due",
            berlin_noon,
            Some(date(9999, 1, 1)),
            true,
        ),
        due(
            "shown on NaiveDate::MAX: due",
            berlin_noon,
            Some(NaiveDate::MAX),
            true,
        ),
        due(
            "shown on NaiveDate::MIN: due",
            berlin_noon,
            Some(NaiveDate::MIN),
            true,
        ),
        // --- Europe/Berlin spring forward, 2027-03-28 02:00 CET -> 03:00 CEST ------------------
        due(
            "Berlin spring: shown 23:30 the evening before, now 00:30",
            local(Berlin, 2027, 3, 28, 0, 30),
            Some(date(2027, 3, 27)),
            true,
        ),
        due(
            "Berlin spring: shown 00:30, now 03:30 just after the jump",
            local(Berlin, 2027, 3, 28, 3, 30),
            Some(date(2027, 3, 28)),
            false,
        ),
        due(
            "Berlin spring: shown 00:30, now 23:59 of the 23-hour day",
            local(Berlin, 2027, 3, 28, 23, 59),
            Some(date(2027, 3, 28)),
            false,
        ),
        due(
            "Berlin spring: shown on the 23-hour day, now 00:00 next day",
            local(Berlin, 2027, 3, 29, 0, 0),
            Some(date(2027, 3, 28)),
            true,
        ),
        // --- Europe/Berlin fall back, 2027-10-31 03:00 CEST -> 02:00 CET -----------------------
        due(
            "Berlin fall: shown 23:30 the evening before, now 00:30",
            local(Berlin, 2027, 10, 31, 0, 30),
            Some(date(2027, 10, 30)),
            true,
        ),
        due(
            "Berlin fall: shown at the first 02:30, now the second 02:30",
            repeated(Berlin, 2027, 10, 31, 2, 30, true),
            Some(date(2027, 10, 31)),
            false,
        ),
        due(
            "Berlin fall: shown 00:30, now 23:59 of the 25-hour day",
            local(Berlin, 2027, 10, 31, 23, 59),
            Some(date(2027, 10, 31)),
            false,
        ),
        due(
            "Berlin fall: shown on the 25-hour day, now 00:00 next day",
            local(Berlin, 2027, 11, 1, 0, 0),
            Some(date(2027, 10, 31)),
            true,
        ),
        // --- America/New_York spring forward, 2027-03-14 02:00 EST -> 03:00 EDT ----------------
        due(
            "New York spring: shown 23:30 the evening before, now 00:30",
            local(New_York, 2027, 3, 14, 0, 30),
            Some(date(2027, 3, 13)),
            true,
        ),
        due(
            "New York spring: shown 00:30, now 03:30 just after the jump",
            local(New_York, 2027, 3, 14, 3, 30),
            Some(date(2027, 3, 14)),
            false,
        ),
        due(
            "New York spring: shown 00:30, now 23:59 of the 23-hour day",
            local(New_York, 2027, 3, 14, 23, 59),
            Some(date(2027, 3, 14)),
            false,
        ),
        // --- America/New_York fall back, 2027-11-07 02:00 EDT -> 01:00 EST ---------------------
        due(
            "New York fall: shown 23:30 the evening before, now 00:30",
            local(New_York, 2027, 11, 7, 0, 30),
            Some(date(2027, 11, 6)),
            true,
        ),
        due(
            "New York fall: shown at the first 01:30, now the second 01:30",
            repeated(New_York, 2027, 11, 7, 1, 30, true),
            Some(date(2027, 11, 7)),
            false,
        ),
        due(
            "New York fall: shown 00:30, now 23:59 of the 25-hour day",
            local(New_York, 2027, 11, 7, 23, 59),
            Some(date(2027, 11, 7)),
            false,
        ),
        due(
            "New York fall: shown on the 25-hour day, now 00:00 next day",
            local(New_York, 2027, 11, 8, 0, 0),
            Some(date(2027, 11, 7)),
            true,
        ),
        // --- Australia/Lord_Howe: half-hour DST (+11 -> +10:30 on 2027-04-04) ------------------
        due(
            "Lord Howe fall: shown at the first 01:45, now the second 01:45",
            repeated(Lord_Howe, 2027, 4, 4, 1, 45, true),
            Some(date(2027, 4, 4)),
            false,
        ),
        due(
            "Lord Howe fall: shown 23:30 the evening before, now 00:30",
            local(Lord_Howe, 2027, 4, 4, 0, 30),
            Some(date(2027, 4, 3)),
            true,
        ),
        // --- Australia/Lord_Howe spring (+10:30 -> +11 on 2027-10-03 02:00 -> 02:30) -----------
        due(
            "Lord Howe spring: shown the day before, now 02:45 after the jump",
            local(Lord_Howe, 2027, 10, 3, 2, 45),
            Some(date(2027, 10, 2)),
            true,
        ),
        due(
            "Lord Howe spring: shown 01:50, now 02:31",
            local(Lord_Howe, 2027, 10, 3, 2, 31),
            Some(date(2027, 10, 3)),
            false,
        ),
        // --- the status decides whether there is a balloon at all ------------------------------
        DueCase {
            status: expired_status(),
            ..due(
                "expired, shown yesterday: due",
                berlin_noon,
                Some(date(2027, 6, 4)),
                true,
            )
        },
        DueCase {
            status: expired_status(),
            ..due(
                "expired, shown today: not due",
                berlin_noon,
                Some(date(2027, 6, 5)),
                false,
            )
        },
        DueCase {
            status: evaluate(expiry() - days(30), &at(expiry()), &Policy::default()),
            ..due("ok, never shown: nothing", berlin_noon, None, false)
        },
        DueCase {
            status: evaluate(expiry(), &facts(Deadline::Never, None), &Policy::default()),
            ..due(
                "never expires, never shown: nothing",
                berlin_noon,
                None,
                false,
            )
        },
        DueCase {
            status: Status::unknown(None),
            ..due("unknown, never shown: nothing", berlin_noon, None, false)
        },
        DueCase {
            status: evaluate(
                expiry(),
                &Finding::SignInRequired {
                    reason: SignInReason::Locked,
                },
                &Policy::default(),
            ),
            ..due(
                "sign-in required, never shown: nothing",
                berlin_noon,
                None,
                false,
            )
        },
    ];
    // --- zones whose local date differs from the UTC date ---------------------------------------
    let far = [
        (
            "Kiritimati +14: 09:00 local on the 2nd (UTC still the 1st), shown the 1st: due",
            local(Kiritimati, 2027, 6, 2, 9, 0),
            date(2027, 6, 1),
            true,
            date(2027, 6, 1),
        ),
        (
            "Kiritimati +14: 13:00 local (UTC 23:00 the day before), shown today: not due",
            local(Kiritimati, 2027, 6, 2, 13, 0),
            date(2027, 6, 2),
            false,
            date(2027, 6, 1),
        ),
        (
            "Kiritimati +14: shown tomorrow local (clock went back): not due",
            local(Kiritimati, 2027, 6, 2, 9, 0),
            date(2027, 6, 3),
            false,
            date(2027, 6, 1),
        ),
        (
            "Pago Pago -11: 20:00 local on the 1st (UTC the 2nd), shown the 1st: not due",
            local(Pago_Pago, 2027, 6, 1, 20, 0),
            date(2027, 6, 1),
            false,
            date(2027, 6, 2),
        ),
        (
            "Pago Pago -11: 12:00 local (UTC 23:00), shown the day before: due",
            local(Pago_Pago, 2027, 6, 1, 12, 0),
            date(2027, 5, 31),
            true,
            date(2027, 6, 1),
        ),
        (
            "Pago Pago -11: 20:00 local, shown on the UTC date (clock went back): not due",
            local(Pago_Pago, 2027, 6, 1, 20, 0),
            date(2027, 6, 2),
            false,
            date(2027, 6, 2),
        ),
        (
            "Kolkata +5:30: 03:00 local on the 2nd (UTC the 1st), shown the 1st: due",
            local(Kolkata, 2027, 6, 2, 3, 0),
            date(2027, 6, 1),
            true,
            date(2027, 6, 1),
        ),
    ];
    for (name, now, last, is_due, utc_date) in far {
        cases.push(DueCase {
            utc_date: Some(utc_date),
            ..due(name, now, Some(last), is_due)
        });
    }
    cases
}

#[test]
fn balloon_due_table() {
    for c in due_cases() {
        if let Some(utc_date) = c.utc_date {
            // Guard the premise of the case: the UTC calendar date is the one named.
            assert_eq!(
                c.now.with_timezone(&Utc).date_naive(),
                utc_date,
                "{}: premise about the UTC date",
                c.name
            );
        }
        let got = balloon_due(c.now.date_naive(), &c.status, c.last_shown);
        let want = if c.due { balloon_for(&c.status) } else { None };
        if c.due {
            assert!(
                want.is_some(),
                "{}: premise: status {:?} has a balloon",
                c.name,
                c.status
            );
        }
        assert_eq!(
            got, want,
            "{}: now {} last shown {:?}",
            c.name, c.now, c.last_shown
        );
    }
}

/// The DST nights the balloon tables rely on really are DST changes (so the cases test something).
#[test]
fn dst_nights_are_real() {
    use chrono::Offset;
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::Berlin;
    let offset = |t: DateTime<Tz>| t.offset().fix().local_minus_utc();
    let cases = [
        (
            "Berlin spring",
            local(Berlin, 2027, 3, 28, 0, 30),
            local(Berlin, 2027, 3, 28, 3, 30),
            3600,
        ),
        (
            "Berlin fall",
            local(Berlin, 2027, 10, 31, 0, 30),
            local(Berlin, 2027, 10, 31, 23, 30),
            -3600,
        ),
        (
            "New York spring",
            local(New_York, 2027, 3, 14, 0, 30),
            local(New_York, 2027, 3, 14, 3, 30),
            3600,
        ),
        (
            "New York fall",
            local(New_York, 2027, 11, 7, 0, 30),
            local(New_York, 2027, 11, 7, 23, 30),
            -3600,
        ),
        (
            "Lord Howe fall",
            local(Lord_Howe, 2027, 4, 4, 0, 30),
            local(Lord_Howe, 2027, 4, 4, 3, 0),
            -1800,
        ),
        (
            "Lord Howe spring",
            local(Lord_Howe, 2027, 10, 3, 1, 30),
            local(Lord_Howe, 2027, 10, 3, 3, 0),
            1800,
        ),
    ];
    for (name, before, after, shift) in cases {
        assert_eq!(
            offset(after) - offset(before),
            shift,
            "{name}: offset change"
        );
    }
}

/// Walk the clock through whole local days in 10-minute steps, remembering the last balloon's
/// local date as the state file would: every local day gets exactly one balloon, whether it
/// lasts 23, 24 or 25 hours, and a clock set back by hours never brings a second one.
#[test]
fn one_balloon_per_local_day_walk() {
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
    struct Walk {
        name: &'static str,
        tz: Tz,
        first_day: NaiveDate,
        local_days: i64,
        /// Set the clock back this much once, at this many steps in.
        setback: Option<(usize, Duration)>,
    }
    let walks = [
        Walk {
            name: "Berlin spring",
            tz: Berlin,
            first_day: date(2027, 3, 27),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Berlin fall",
            tz: Berlin,
            first_day: date(2027, 10, 30),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "New York spring",
            tz: New_York,
            first_day: date(2027, 3, 13),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "New York fall",
            tz: New_York,
            first_day: date(2027, 11, 6),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Lord Howe fall",
            tz: Lord_Howe,
            first_day: date(2027, 4, 3),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Lord Howe spring",
            tz: Lord_Howe,
            first_day: date(2027, 10, 2),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Kiritimati",
            tz: Kiritimati,
            first_day: date(2027, 6, 1),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Pago Pago",
            tz: Pago_Pago,
            first_day: date(2027, 6, 1),
            local_days: 3,
            setback: None,
        },
        Walk {
            name: "Berlin, clock set back 5 h across midnight",
            tz: Berlin,
            first_day: date(2027, 6, 1),
            local_days: 3,
            // 02:00 on day 2 goes back to 21:00 on day 1.
            setback: Some((6 * 26, hours(5))),
        },
    ];
    let status = warning_status();
    for w in walks {
        let start =
            w.tz.from_local_datetime(&w.first_day.and_hms_opt(0, 0, 0).unwrap())
                .single()
                .unwrap()
                .with_timezone(&Utc);
        let end_day = w.first_day + days(w.local_days);
        let end =
            w.tz.from_local_datetime(&end_day.and_hms_opt(0, 0, 0).unwrap())
                .single()
                .unwrap()
                .with_timezone(&Utc);
        let mut shown_on: Vec<NaiveDate> = Vec::new();
        let mut last: Option<NaiveDate> = None;
        let mut t = start;
        let mut step = 0;
        while t < end {
            if let Some((at_step, back)) = w.setback {
                if step == at_step {
                    t -= back;
                }
            }
            let now = t.with_timezone(&w.tz);
            if balloon_due(now.date_naive(), &status, last).is_some() {
                shown_on.push(now.date_naive());
                last = Some(now.date_naive());
            }
            t += mins(10);
            step += 1;
        }
        let want: Vec<NaiveDate> = (0..w.local_days).map(|i| w.first_day + days(i)).collect();
        assert_eq!(shown_on, want, "{}: one balloon per local day", w.name);
    }
}

// ---------------------------------------------------------------------------------------------
// serde: what the state file stores
// ---------------------------------------------------------------------------------------------

fn full_facts() -> Facts {
    Facts {
        deadline: Deadline::AfterChange {
            changed_at: utc(2028, 2, 29, 8, 30, 15),
            validity_days: Some(90),
        },
        warning_days: Some(7),
        source: Source::GraphDomainPolicy,
        changed_at: Some(utc(2028, 2, 29, 8, 30, 15)),
        portal_url: Some("https://passwordreset.example/".to_string()),
        note: Some("2 grace logins left".to_string()),
        grace_logins_left: None,
        clock_offset_secs: Some(-42),
    }
}

#[test]
fn serde_round_trip_table() {
    let plain = |deadline, source| Facts::new(deadline, source);
    let cases: Vec<(&str, Finding, Vec<&str>)> = vec![
        (
            "facts after change, every field",
            Finding::Facts(full_facts()),
            vec![
                r#""finding":"facts""#,
                r#""kind":"after_change""#,
                r#""source":"graph_domain_policy""#,
                r#""validity_days":90"#,
                r#""warning_days":7"#,
            ],
        ),
        (
            "facts at an instant",
            Finding::Facts(plain(
                Deadline::At {
                    expires_at: utc(2027, 6, 15, 12, 0, 0),
                },
                Source::LdapPpolicyControl,
            )),
            vec![r#""kind":"at""#, r#""source":"ldap_ppolicy_control""#],
        ),
        (
            "facts never",
            Finding::Facts(plain(Deadline::Never, Source::AdAccountControl)),
            vec![r#""kind":"never""#, r#""source":"ad_account_control""#],
        ),
        (
            "facts expired now",
            Finding::Facts(plain(Deadline::ExpiredNow, Source::AdBindError)),
            vec![r#""kind":"expired_now""#, r#""source":"ad_bind_error""#],
        ),
        (
            "facts expired since",
            Finding::Facts(plain(
                Deadline::ExpiredSince {
                    expires_at: utc(2027, 6, 15, 12, 0, 0),
                },
                Source::LdapPasswordExpirationTime,
            )),
            vec![
                r#""kind":"expired_since""#,
                r#""expires_at":"2027-06-15T12:00:00Z""#,
                r#""source":"ldap_password_expiration_time""#,
            ],
        ),
        (
            "facts unknown",
            Finding::Facts(plain(Deadline::Unknown, Source::TokenEndpoint)),
            vec![r#""kind":"unknown""#, r#""source":"token_endpoint""#],
        ),
        (
            "sentinel validity i64::MAX",
            Finding::Facts(plain(
                Deadline::AfterChange {
                    changed_at: utc(2027, 1, 1, 0, 0, 0),
                    validity_days: Some(i64::MAX),
                },
                Source::LdapPwdChangedTime,
            )),
            vec![r#""validity_days":9223372036854775807"#],
        ),
        (
            "sentinel validity 2147483647",
            Finding::Facts(plain(
                Deadline::AfterChange {
                    changed_at: utc(2027, 1, 1, 0, 0, 0),
                    validity_days: Some(2147483647),
                },
                Source::AdPwdLastSet,
            )),
            vec![
                r#""validity_days":2147483647"#,
                r#""source":"ad_pwd_last_set""#,
            ],
        ),
        (
            "sign in required: password changed elsewhere",
            Finding::SignInRequired {
                reason: SignInReason::PasswordChangedElsewhere,
            },
            vec![
                r#""finding":"sign_in_required""#,
                r#""reason":"password_changed_elsewhere""#,
            ],
        ),
        (
            "sign in required: mfa",
            Finding::SignInRequired {
                reason: SignInReason::MfaRequired,
            },
            vec![r#""reason":"mfa_required""#],
        ),
        (
            "sign in required: consent",
            Finding::SignInRequired {
                reason: SignInReason::ConsentMissing,
            },
            vec![r#""reason":"consent_missing""#],
        ),
    ];
    for (name, finding, fragments) in &cases {
        let json =
            serde_json::to_string(finding).unwrap_or_else(|e| panic!("{name}: serialize: {e}"));
        for fragment in fragments {
            assert!(
                json.contains(fragment),
                "{name}: {json} should contain {fragment}"
            );
        }
        let back: Finding = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{name}: deserialize {json}: {e}"));
        assert_eq!(&back, finding, "{name}: round trip through {json}");
        if let Finding::Facts(f) = finding {
            let json = serde_json::to_string(f).unwrap();
            let back: Facts = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{name}: Facts deserialize {json}: {e}"));
            assert_eq!(&back, f, "{name}: Facts round trip through {json}");
        }
    }
}

/// The state file may have been written before the optional fields existed.
#[test]
fn serde_reads_older_state_table() {
    let cases: Vec<(&str, &str, Finding)> = vec![
        (
            "facts without optional fields",
            r#"{"finding":"facts","deadline":{"kind":"never"},"source":"ad_account_control"}"#,
            Finding::Facts(Facts::new(Deadline::Never, Source::AdAccountControl)),
        ),
        (
            "facts with explicit nulls",
            r#"{"finding":"facts","deadline":{"kind":"at","expires_at":"2027-06-15T12:00:00Z"},"warning_days":null,"source":"token_claim","changed_at":null,"portal_url":null,"note":null}"#,
            at(expiry()),
        ),
        (
            "instant with an offset",
            r#"{"finding":"facts","deadline":{"kind":"at","expires_at":"2027-06-15T14:00:00+02:00"},"source":"token_claim"}"#,
            at(expiry()),
        ),
        (
            "sign in required",
            r#"{"finding":"sign_in_required","reason":"no_credentials"}"#,
            Finding::SignInRequired {
                reason: SignInReason::NoCredentials,
            },
        ),
    ];
    for (name, json, want) in &cases {
        let got: Finding = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{name}: deserialize {json}: {e}"));
        assert_eq!(&got, want, "{name}");
    }
    let rejected = [
        (
            "camelCase tag",
            r#"{"finding":"signInRequired","reason":"no_credentials"}"#,
        ),
        (
            "unknown reason",
            r#"{"finding":"sign_in_required","reason":"sleepy"}"#,
        ),
        (
            "missing deadline",
            r#"{"finding":"facts","source":"token_claim"}"#,
        ),
    ];
    for (name, json) in rejected {
        assert!(
            serde_json::from_str::<Finding>(json).is_err(),
            "{name}: {json} must be rejected"
        );
    }
}

/// The `source` names of `check --json`, which admins' scripts read.
#[test]
fn source_names_table() {
    let cases = [
        (Source::TokenEndpoint, "token_endpoint"),
        (Source::TokenClaim, "token_claim"),
        (Source::GraphPasswordPolicies, "graph_password_policies"),
        (Source::GraphDomainPolicy, "graph_domain_policy"),
        (Source::GraphConfigPolicy, "graph_config_policy"),
        (Source::LdapPpolicyControl, "ldap_ppolicy_control"),
        (Source::LdapPwdChangedTime, "ldap_pwd_changed_time"),
        (Source::LdapPasswordPolicy, "ldap_password_policy"),
        (Source::LdapLocalPolicy, "ldap_local_policy"),
        (
            Source::LdapPasswordExpirationTime,
            "ldap_password_expiration_time",
        ),
        (Source::LdapNetscapeControl, "ldap_netscape_control"),
        (
            Source::LdapKrbPasswordExpiration,
            "ldap_krb_password_expiration",
        ),
        (Source::AdBindError, "ad_bind_error"),
        (Source::AdComputedExpiry, "ad_computed_expiry"),
        (Source::AdPwdLastSet, "ad_pwd_last_set"),
        (Source::AdAccountControl, "ad_account_control"),
    ];
    for (source, name) in cases {
        let json = serde_json::to_string(&source).unwrap();
        assert_eq!(json, format!("\"{name}\""), "{name}");
        let back: Source = serde_json::from_str(&json).unwrap();
        assert_eq!(back, source, "{name}: round trip");
    }
}

#[test]
fn state_names_table() {
    let cases = [
        (PasswordState::Ok, "ok"),
        (PasswordState::Warning, "warning"),
        (PasswordState::Expired, "expired"),
        (PasswordState::NeverExpires, "never_expires"),
        (PasswordState::SignInRequired, "sign_in_required"),
        (PasswordState::Unknown, "unknown"),
    ];
    for (state, name) in cases {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{name}\""), "{name}: serde name");
        let back: PasswordState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state, "{name}: round trip");
    }
    for (urgency, name) in [(Urgency::Normal, "normal"), (Urgency::Critical, "critical")] {
        let json = serde_json::to_string(&urgency).unwrap();
        assert_eq!(json, format!("\"{name}\""), "{name}: urgency serde name");
    }
}

fn changed(at: Option<DateTime<Utc>>) -> Finding {
    let mut finding = at_with_window(expiry(), 14);
    if let Finding::Facts(facts) = &mut finding {
        facts.changed_at = at;
    }
    finding
}

#[test]
fn changed_since_table() {
    let t = utc(2027, 3, 1, 9, 0, 0);
    let required = Finding::SignInRequired {
        reason: SignInReason::Rejected,
    };
    let cases = [
        ("first check", None, changed(Some(t)), false),
        ("same date", Some(changed(Some(t))), changed(Some(t)), false),
        (
            "later date",
            Some(changed(Some(t))),
            changed(Some(t + secs(1))),
            true,
        ),
        (
            "earlier date (replica lag)",
            Some(changed(Some(t))),
            changed(Some(t - days(1))),
            false,
        ),
        (
            "date no longer reported",
            Some(changed(Some(t))),
            changed(None),
            false,
        ),
        (
            "date reported for the first time",
            Some(changed(None)),
            changed(Some(t)),
            false,
        ),
        (
            "after a sign-in was required",
            Some(required.clone()),
            changed(Some(t)),
            false,
        ),
        (
            "now a sign-in is required",
            Some(changed(Some(t))),
            required,
            false,
        ),
    ];
    for (name, previous, new, want) in cases {
        assert_eq!(changed_since(previous.as_ref(), &new), want, "{name}");
    }
}

#[test]
fn sign_in_result_balloons() {
    let now = expiry() - days(10) - hours(1);
    let warning = evaluate(now, &at(expiry()), &Policy::default());
    let b = signed_in_balloon(&warning, "Password expires in 10 days (Tue 15 Jun)");
    assert_eq!(b.title, "Signed in");
    assert_eq!(
        b.body,
        "Your password expires in 10 days. Click here to change it."
    );
    assert_eq!(b.urgency, Urgency::Normal);

    let urgent = evaluate(expiry() - days(2), &at(expiry()), &Policy::default());
    assert_eq!(signed_in_balloon(&urgent, "").urgency, Urgency::Critical);

    let ok = evaluate(expiry() - days(40), &at(expiry()), &Policy::default());
    let b = signed_in_balloon(&ok, "Password expires in 40 days (Thu 6 May)");
    assert_eq!(b.body, "Password expires in 40 days (Thu 6 May).");
    assert_eq!(b.urgency, Urgency::Normal);

    let failed = sign_in_failed_balloon(SignInReason::Rejected.explain());
    assert_eq!(
        failed.title,
        "Sign-in failed: the password was not accepted; sign in again with your current password"
    );
    assert_eq!(failed.urgency, Urgency::Normal);
}

#[test]
fn grace_logins_left_are_told_in_the_reason() {
    let cases = [
        (
            None,
            Some(2),
            "your password has expired; change it now (2 grace logins left)",
        ),
        (
            None,
            Some(1),
            "your password has expired; change it now (1 grace login left)",
        ),
        (
            Some("it was reset"),
            Some(3),
            "your password has expired; change it now (it was reset; 3 grace logins left)",
        ),
        (None, None, "your password has expired; change it now"),
    ];
    for (note, grace, expected) in cases {
        let finding = Finding::Facts(Facts {
            note: note.map(str::to_string),
            grace_logins_left: grace,
            ..Facts::new(Deadline::ExpiredNow, Source::LdapPpolicyControl)
        });
        let status = evaluate(expiry(), &finding, &Policy::default());
        assert_eq!(status.state, PasswordState::Expired, "{expected}");
        assert_eq!(status.reason.as_deref(), Some(expected));
    }
}

#[test]
fn only_grace_logins_make_rechecking_costly() {
    let grace = Finding::Facts(Facts {
        grace_logins_left: Some(2),
        ..Facts::new(Deadline::ExpiredNow, Source::LdapPpolicyControl)
    });
    assert!(recheck_spends_grace_login(Some(&grace)));
    assert!(!recheck_spends_grace_login(Some(&facts(
        Deadline::ExpiredNow,
        None
    ))));
    assert!(!recheck_spends_grace_login(Some(&at(expiry()))));
    assert!(!recheck_spends_grace_login(None));
    let sign_in = Finding::SignInRequired {
        reason: SignInReason::Rejected,
    };
    assert!(!recheck_spends_grace_login(Some(&sign_in)));
}

#[test]
fn a_clock_far_from_the_endpoints_is_told_in_the_reason() {
    let now = utc(2026, 11, 25, 10, 0, 0);
    let policy = Policy::DEFAULT;
    let with_offset = |secs: Option<i64>| {
        let deadline = Deadline::At {
            expires_at: now + Duration::days(40),
        };
        let facts = Facts {
            clock_offset_secs: secs,
            ..Facts::new(deadline, Source::TokenClaim)
        };
        evaluate(now, &Finding::Facts(facts), &policy).reason
    };
    // Within five minutes, or not known: nothing to say.
    for secs in [None, Some(0), Some(299), Some(-300)] {
        assert_eq!(with_offset(secs), None, "{secs:?}");
    }
    let ahead = with_offset(Some(10 * 60 - 1)).expect("a reason");
    assert!(
        ahead.starts_with("this computer's clock is 10 minutes ahead of the identity endpoint's"),
        "{ahead}"
    );
    let behind = with_offset(Some(-3 * 3600)).expect("a reason");
    assert!(behind.contains("3 hours behind"), "{behind}");
    // The state stays what the dates say.
    let deadline = Deadline::At {
        expires_at: now + Duration::days(40),
    };
    let facts = Facts {
        clock_offset_secs: Some(900),
        ..Facts::new(deadline, Source::TokenClaim)
    };
    assert_eq!(
        evaluate(now, &Finding::Facts(facts), &policy).state,
        PasswordState::Ok
    );
}

#[test]
fn durations_in_words_round_to_the_nearest_unit() {
    assert_eq!(duration_in_words(2), "2 s");
    assert_eq!(duration_in_words(90), "90 s");
    assert_eq!(duration_in_words(300), "5 minutes");
    assert_eq!(duration_in_words(7199), "120 minutes");
    assert_eq!(duration_in_words(3 * 3600 + 1700), "3 hours");
    assert_eq!(duration_in_words(3600 * 36), "36 hours");
    assert_eq!(duration_in_words(86400 * 2), "2 days");
}
