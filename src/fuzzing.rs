//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpora.
//!
//! Each function takes bytes as they would arrive from outside (an endpoint's answer, a file, a
//! pipe), runs them through the same parsing and judging code the product uses, and checks the
//! invariants that must hold for any input: no panic, and text meant for people is clean and
//! bounded. The fuzzers (`cargo fuzz run <target>`, libFuzzer) call these with generated input;
//! `tests/fuzz_corpus.rs` calls them with every file kept under `fuzz/corpus/`, so what the
//! fuzzers once found stays fixed in ordinary `cargo test` runs.
//!
//! Not part of the product's interface: hidden from the documentation, and built only with the
//! cargo feature `fuzzing` (fuzz/Cargo.toml and the tests turn it on; the shipped binary has none
//! of it).

use chrono::{DateTime, TimeZone, Utc};

use crate::providers::entra::{graph, token};
use crate::providers::ldap::{active_directory, openldap, ppolicy};
use crate::rules::expiry::{evaluate, Deadline, Facts, Finding, Policy, Source};
use crate::rules::untrusted;
use crate::system::config::Config;
use crate::system::state::SavedState;

/// A fixed "now", so a crash reproduces exactly.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
        .single()
        .expect("valid date")
}

/// Judges facts under the default and the extreme policies the config loader allows.
fn judge(finding: &Finding) {
    let policies = [
        Policy {
            max_age_days: 90,
            warning_days: 14,
            urgent_days: 3,
        },
        Policy {
            max_age_days: 2_147_483_647,
            warning_days: 3650,
            urgent_days: 3650,
        },
        Policy {
            max_age_days: 1,
            warning_days: 0,
            urgent_days: 0,
        },
    ];
    for policy in &policies {
        let status = evaluate(now(), finding, policy);
        if let Some(balloon) = crate::rules::expiry::balloon_for(&status) {
            assert_clean(&balloon.title, usize::MAX);
        }
    }
}

/// Text shown to a person has no control characters, and endpoint text is bounded.
fn assert_clean(text: &str, max_chars: usize) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control character in {text:?}"
    );
    assert!(
        text.chars().count() <= max_chars,
        "too long: {}",
        text.len()
    );
}

/// The token endpoint's answer: a success body (tokens) or the documented error body.
pub fn token_response(data: &[u8]) {
    let _ = serde_json::from_slice::<token::Tokens>(data);
    if let Ok(body) = serde_json::from_slice::<token::TokenErrorBody>(data) {
        match token::classify(&body) {
            token::TokenFailure::Other { code, error } => {
                assert_clean(&code, untrusted::MAX_ENDPOINT_TEXT + 1);
                assert_clean(&error, untrusted::MAX_ENDPOINT_TEXT + 1);
            }
            token::TokenFailure::PasswordExpired {
                change_url: Some(url),
            } => {
                let config = Config::default();
                let chosen = crate::system::portal::choose(&config, Some(&url));
                assert!(chosen.starts_with("https://"), "{chosen}");
            }
            _ => {}
        }
    }
}

/// Microsoft Graph answers: `/me` and `/domains/{id}`, judged as the provider would.
pub fn graph_json(data: &[u8]) {
    if let Ok(me) = serde_json::from_slice::<graph::Me>(data) {
        let _ = me.password_never_expires();
        if let Some(upn) = &me.user_principal_name {
            if let Some(path) = graph::domain_path(upn) {
                let suffix = path
                    .strip_prefix("v1.0/domains/")
                    .expect("the domains path");
                assert!(crate::system::config::is_dns_name(suffix), "{path}");
            }
        }
        if let Some(changed_at) = me.last_password_change_date_time {
            judge(&after_change(changed_at, None, None));
        }
    }
    if let Ok(domain) = serde_json::from_slice::<graph::Domain>(data) {
        let changed_at = now() - chrono::TimeDelta::days(30);
        judge(&after_change(
            changed_at,
            domain.password_validity_period_in_days,
            domain.password_notification_window_in_days,
        ));
    }
}

fn after_change(
    changed_at: DateTime<Utc>,
    validity_days: Option<i64>,
    warning_days: Option<i64>,
) -> Finding {
    let deadline = Deadline::AfterChange {
        changed_at,
        validity_days,
    };
    Finding::Facts(Facts {
        warning_days,
        changed_at: Some(changed_at),
        ..Facts::new(deadline, Source::GraphDomainPolicy)
    })
}

/// An access token's password claims (`pwd_exp`, `pwd_url`): the input is used both as a whole
/// token and as the JSON payload of one.
pub fn jwt_claims(data: &[u8]) {
    use base64::Engine;
    if let Ok(text) = std::str::from_utf8(data) {
        check_claims(text);
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    check_claims(&format!("eyJhbGciOiJub25lIn0.{payload}.sig"));
}

fn check_claims(token: &str) {
    if let Some(claims) = graph::password_claims(token) {
        let deadline = Deadline::At {
            expires_at: claims.expires_at,
        };
        judge(&Finding::Facts(Facts {
            portal_url: claims.change_url.clone(),
            ..Facts::new(deadline, Source::TokenClaim)
        }));
        let chosen =
            crate::system::portal::choose(&Config::default(), claims.change_url.as_deref());
        assert!(chosen.starts_with("https://"), "{chosen}");
    }
}

/// The value of an OpenLDAP password policy response control, after a bind with each result
/// code that matters.
pub fn ppolicy_control(data: &[u8]) {
    let Ok(control) = ppolicy::decode(Some(data)) else {
        return;
    };
    for rc in [0, 49, 50] {
        match openldap::bind_verdict(rc, &control, now()) {
            openldap::BindVerdict::Accepted { facts: Some(facts) } => {
                judge(&Finding::Facts(facts));
            }
            openldap::BindVerdict::Accepted { facts: None } | openldap::BindVerdict::Refused(_) => {
            }
        }
    }
}

/// Active Directory's bind diagnostic text (`80090308: LdapErr: …, data 532, v893`).
pub fn ad_bind_diagnostic(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(code) = active_directory::data_code(&text) {
        let _ = active_directory::classify(code);
    }
    let shown = untrusted::clean_or(&text, "unknown Active Directory bind error");
    assert_clean(&shown, untrusted::MAX_ENDPOINT_TEXT + 1);
}

/// A configuration file as an admin or a user may write it.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = Config::default();
    let path = std::path::Path::new("/etc/signin-assistant/config.toml");
    let loaded = config
        .apply_text(path, text)
        .and_then(|()| config.validate());
    match loaded {
        Ok(()) => {
            let policy = config.policy();
            let _ = evaluate(now(), &after_change(now(), None, None), &policy);
            let _ = crate::system::portal::choose(&config, None);
            if let Some(tenant) = &config.entra.tenant {
                assert!(crate::system::config::check_tenant(tenant).is_ok());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The state file, as left by an earlier version, a crash, or someone else.
pub fn state_file(data: &[u8]) {
    let Ok(saved) = serde_json::from_slice::<SavedState>(data) else {
        return;
    };
    let config = Config::default();
    let account = saved.account.clone();
    let report = crate::report::build(&config, &saved, account.as_deref(), now(), Some("x"));
    let _ = serde_json::to_string(&report).expect("a report serialises");
    let status = crate::report::current_status(&config, &saved, account.as_deref(), now());
    let local = chrono::FixedOffset::east_opt(3600)
        .expect("valid offset")
        .from_utc_datetime(&now().naive_utc());
    let _ = saved.due_balloon(local.date_naive(), &status);
    let _ = saved.staleness(now());
    let again = serde_json::to_vec(&saved).expect("state serialises");
    let reread: SavedState = serde_json::from_slice(&again).expect("state reads back");
    assert_eq!(reread, saved);
}

/// One line from a pinentry (Assuan protocol), without its line ending.
pub fn assuan_line(data: &[u8]) {
    use crate::screen::dialog::assuan::{percent_decode, percent_encode, Response};
    match Response::parse(data) {
        Response::Data(decoded) => assert!(decoded.len() <= data.len()),
        Response::Err { message, .. } => {
            let _ = message;
        }
        _ => {}
    }
    let decoded = percent_decode(data);
    assert!(decoded.len() <= data.len());
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded = percent_encode(text);
        assert!(!encoded.contains(['\n', '\r']));
        assert_eq!(&*percent_decode(encoded.as_bytes()), text.as_bytes());
    }
}
