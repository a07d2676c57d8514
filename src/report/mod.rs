//! How a status is told: the `--json` object admins script against, the plain-text line people
//! read in a terminal, and the one-line summary of the tray tooltip.

pub mod view;

use chrono::{DateTime, Local, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::expiry::{evaluate, in_days, PasswordState, Status};
use crate::system::config::Config;
use crate::system::portal;
use crate::system::state::SavedState;

/// The documented `--json` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub account: Option<String>,
    pub state: PasswordState,
    pub expires_at: Option<String>,
    pub days_left: Option<i64>,
    pub checked_at: Option<String>,
    pub source: Option<crate::rules::expiry::Source>,
    pub reason: Option<String>,
    pub portal_url: String,
}

/// The status at `now` from what was last saved for `account`.
pub fn current_status(
    config: &Config,
    saved: &SavedState,
    account: Option<&str>,
    now: DateTime<Utc>,
) -> Status {
    match account.and_then(|a| saved.finding_for(a)) {
        Some(finding) => evaluate(now, finding, &config.policy()),
        None if account.is_none() => Status::unknown(Some(
            "no account is configured; run `signin-assistant sign-in --user NAME`".into(),
        )),
        None => Status::unknown(Some("not checked yet; run `signin-assistant check`".into())),
    }
}

/// Builds the report; `failure` (a check that did not get through) is added to the reason.
pub fn build(
    config: &Config,
    saved: &SavedState,
    account: Option<&str>,
    now: DateTime<Utc>,
    failure: Option<&str>,
) -> Report {
    let status = current_status(config, saved, account, now);
    let has_finding = account.and_then(|a| saved.finding_for(a)).is_some();
    // "showing the last known status, which is stale: checked 3 hours ago" (state::staleness).
    let stale = saved
        .staleness(now)
        .unwrap_or_else(|| "showing the last known status".to_string());
    let reason = match (failure, status.reason) {
        (Some(failure), Some(reason)) if has_finding => {
            Some(format!("{failure}; {stale} ({reason})"))
        }
        (Some(failure), _) if has_finding => Some(format!("{failure}; {stale}")),
        (Some(failure), _) => Some(failure.to_string()),
        (None, reason) => reason,
    };
    Report {
        account: account.map(str::to_string),
        state: status.state,
        expires_at: status.expires_at.map(rfc3339),
        days_left: status.days_left,
        checked_at: saved.checked_at.filter(|_| has_finding).map(rfc3339),
        source: status.source,
        reason,
        portal_url: portal::choose(config, saved.offered_portal_url()),
    }
}

/// The report while the product is not set up: state `unknown`, and a reason that names what
/// is missing (`needs`, in plain words) and the command that sets it up.
pub fn not_set_up(config: &Config, account: Option<&str>, needs: &str) -> Report {
    Report {
        account: account.map(str::to_string),
        state: PasswordState::Unknown,
        expires_at: None,
        days_left: None,
        checked_at: None,
        source: None,
        reason: Some(format!(
            "not set up yet: needs {needs}; run `{}`",
            crate::system::config::SETUP_COMMAND
        )),
        portal_url: portal::choose(config, None),
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "Password expires in 10 days (Thu 4 Dec)" and friends: the tooltip and the status line.
pub fn summary<Tz: TimeZone>(status: &Status, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let date = |at: DateTime<Utc>| at.with_timezone(tz).format("%a %-d %b").to_string();
    match (status.state, status.expires_at, status.days_left) {
        (PasswordState::Warning | PasswordState::Ok, Some(at), Some(days)) => {
            format!("Password expires {} ({})", in_days(days), date(at))
        }
        (PasswordState::Expired, Some(at), _) => format!("Password expired ({})", date(at)),
        (PasswordState::Expired, None, _) => "Password expired".to_string(),
        (PasswordState::NeverExpires, _, _) => "Password never expires".to_string(),
        (PasswordState::SignInRequired, _, _) => "Sign in required".to_string(),
        _ => "Password status unknown".to_string(),
    }
}

/// The text `status` and `check` print for a person.
pub fn human(report: &Report, status: &Status) -> String {
    let mut out = String::new();
    if let Some(account) = &report.account {
        out.push_str(&format!("Account:  {account}\n"));
    }
    out.push_str(&format!("Status:   {}\n", summary(status, &Local)));
    if let Some(at) = status.expires_at {
        let label = match status.state {
            PasswordState::Expired => "Expired: ",
            _ => "Expires: ",
        };
        out.push_str(&format!(
            "{label} {}\n",
            at.with_timezone(&Local).format("%A %-d %B %Y, %H:%M")
        ));
    }
    if let Some(reason) = &report.reason {
        out.push_str(&format!("Note:     {reason}\n"));
    }
    if let Some(checked) = &report.checked_at {
        out.push_str(&format!("Checked:  {checked}\n"));
    }
    if matches!(
        status.state,
        PasswordState::Warning | PasswordState::Expired
    ) {
        out.push_str(&format!("Change it: {}\n", report.portal_url));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expiry::{Deadline, Facts, Finding, Source};
    use chrono::TimeZone;

    fn saved(deadline: Deadline) -> SavedState {
        SavedState {
            account: Some("adele@contoso.com".into()),
            finding: Some(Finding::Facts(Facts::new(
                deadline,
                Source::GraphDomainPolicy,
            ))),
            checked_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()),
            ..SavedState::default()
        }
    }

    #[test]
    fn report_has_the_documented_fields() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap();
        let expires_at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let state = saved(Deadline::At { expires_at });
        let report = build(
            &Config::default(),
            &state,
            Some("adele@contoso.com"),
            now,
            None,
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["state"], "warning");
        assert_eq!(json["days_left"], 10);
        assert_eq!(json["expires_at"], "2026-12-04T10:00:00Z");
        assert_eq!(json["checked_at"], "2026-11-24T08:00:00Z");
        assert_eq!(json["source"], "graph_domain_policy");
        assert_eq!(
            json["portal_url"],
            "https://passwordreset.microsoftonline.com/"
        );
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        let status = current_status(&Config::default(), &state, Some("adele@contoso.com"), now);
        assert_eq!(
            summary(&status, &Utc),
            "Password expires in 10 days (Fri 4 Dec)"
        );
    }

    #[test]
    fn an_expired_password_tells_its_date_when_known() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap();
        let expired_at = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap();
        let state = saved(Deadline::ExpiredSince {
            expires_at: expired_at,
        });
        let report = build(
            &Config::default(),
            &state,
            Some("adele@contoso.com"),
            now,
            None,
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["state"], "expired");
        assert_eq!(json["expires_at"], "2026-12-05T10:00:00Z");
        assert_eq!(json["days_left"], 0);
        let status = current_status(&Config::default(), &state, Some("adele@contoso.com"), now);
        assert_eq!(summary(&status, &Utc), "Password expired (Sat 5 Dec)");
        assert!(human(&report, &status).contains("\nExpired:  Saturday 5 December 2026"));
        let unknown_date = current_status(
            &Config::default(),
            &saved(Deadline::ExpiredNow),
            Some("adele@contoso.com"),
            now,
        );
        assert_eq!(summary(&unknown_date, &Utc), "Password expired");
    }

    #[test]
    fn failed_check_keeps_the_last_known_status() {
        // Checked a day before.
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
        let report = build(
            &Config::default(),
            &saved(Deadline::Never),
            Some("adele@contoso.com"),
            now,
            Some("could not reach x"),
        );
        assert_eq!(report.state, PasswordState::NeverExpires);
        assert_eq!(
            report.reason.as_deref(),
            Some("could not reach x; showing the last known status, which is stale: checked 1 day ago")
        );
        let report = build(
            &Config::default(),
            &SavedState::default(),
            Some("adele@contoso.com"),
            now,
            Some("could not reach x"),
        );
        assert_eq!(report.state, PasswordState::Unknown);
        assert_eq!(report.reason.as_deref(), Some("could not reach x"));
        assert_eq!(report.checked_at, None);
    }
}
