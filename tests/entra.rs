//! The real binary against the Entra emulator over HTTP: every outcome of the token endpoint,
//! never-expires, domain policy vs configured fallback, throttling, claims, and what is cached.

mod support;

use std::time::Duration;

use emulator::{DomainPolicy, Misbehaviour, Scenario, SignInBehaviour, Throttle};
use support::entra::EntraFixture;
use support::stderr;

#[test]
fn warning_from_token_claims_ten_days() {
    let f = EntraFixture::start(Scenario::expires_in_days(10));
    let out = f.sign_in_correctly();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(json["state"], "warning");
    assert_eq!(json["days_left"], 10);
    assert_eq!(json["source"], "token_claim");
    assert_eq!(json["account"], "adele@contoso.com");
    // pwd_url of the claim is on a trusted Microsoft host, so it replaces the configured portal.
    assert_eq!(
        json["portal_url"],
        "https://portal.microsoftonline.com/ChangePassword.aspx"
    );
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(json["checked_at"].as_str().is_some());
}

#[test]
fn ok_from_graph_and_domain_policy() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(json["state"], "ok");
    assert_eq!(json["days_left"], 30);
    assert_eq!(json["source"], "graph_domain_policy");
    assert_eq!(json["reason"], serde_json::Value::Null);
}

#[test]
fn domain_policy_overrides_the_configured_policy() {
    let mut scenario = Scenario::default().with_domain(DomainPolicy::Values {
        validity_days: Some(60),
        notification_days: Some(7),
    });
    scenario.last_password_change = chrono::Utc::now() - chrono::Duration::days(55);
    let f = EntraFixture::with_config(scenario, "[policy]\nmax_age_days = 180\nwarning_days = 2\n");
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (_, json) = f.check_json();
    assert_eq!(json["state"], "warning", "{json}");
    assert_eq!(json["days_left"], 4);
    assert_eq!(json["source"], "graph_domain_policy");
}

#[test]
fn forbidden_domain_policy_falls_back_to_config() {
    let mut scenario = Scenario::default().with_domain(DomainPolicy::Forbidden);
    scenario.last_password_change = chrono::Utc::now() - chrono::Duration::days(50);
    let f = EntraFixture::with_config(scenario, "[policy]\nmax_age_days = 60\nwarning_days = 14\n");
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(json["state"], "warning", "{json}");
    assert_eq!(json["days_left"], 9);
    assert_eq!(json["source"], "graph_config_policy");
}

#[test]
fn null_domain_values_and_not_found_fall_back_to_config() {
    for domain in [
        DomainPolicy::Values {
            validity_days: None,
            notification_days: None,
        },
        DomainPolicy::NotFound,
    ] {
        let mut scenario = Scenario::default().with_domain(domain.clone());
        scenario.last_password_change = chrono::Utc::now() - chrono::Duration::days(20);
        let f = EntraFixture::with_config(scenario, "[policy]\nmax_age_days = 30\n");
        assert_eq!(f.sign_in_correctly().status.code(), Some(0));
        let (_, json) = f.check_json();
        assert_eq!(json["state"], "warning", "{domain:?}: {json}");
        assert_eq!(json["days_left"], 9, "{domain:?}");
        assert_eq!(json["source"], "graph_config_policy", "{domain:?}");
    }
}

#[test]
fn sentinel_validity_means_never() {
    let scenario = Scenario::default().with_domain(DomainPolicy::Values {
        validity_days: Some(2_147_483_647),
        notification_days: Some(14),
    });
    let f = EntraFixture::start(scenario);
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(json["state"], "never_expires", "{json}");
    assert_eq!(json["expires_at"], serde_json::Value::Null);
    assert_eq!(json["days_left"], serde_json::Value::Null);
}

#[test]
fn never_expires_from_password_policies() {
    let f = EntraFixture::start(Scenario::never_expires());
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(json["state"], "never_expires");
    assert_eq!(json["source"], "graph_password_policies");
}

#[test]
fn synced_account_says_where_the_deadline_lives() {
    let f = EntraFixture::start(Scenario::synced());
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    let (_, json) = f.check_json();
    assert_eq!(json["state"], "never_expires");
    assert!(
        json["reason"].as_str().unwrap().contains("on-premises"),
        "{json}"
    );
}

#[test]
fn expired_password_is_cached_and_reported_with_exit_0() {
    for behaviour in [
        SignInBehaviour::PasswordExpired,
        SignInBehaviour::OnPremPasswordExpired,
    ] {
        let f = EntraFixture::start(Scenario::default().with_sign_in(behaviour.clone()));
        let out = f.sign_in_correctly();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{behaviour:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            f.cached_password().as_deref(),
            Some(f.scenario.password.as_str()),
            "{behaviour:?}"
        );
        let (code, json) = f.check_json();
        assert_eq!(code, Some(0), "{behaviour:?}");
        assert_eq!(json["state"], "expired", "{behaviour:?}");
        assert_eq!(json["days_left"], 0);
        assert_eq!(json["source"], "token_endpoint");
        assert!(json["reason"].as_str().unwrap().contains("expired"));
    }
}

#[test]
fn refused_sign_ins_cache_nothing_and_exit_1() {
    let cases = [
        (SignInBehaviour::Locked, "locked"),
        (SignInBehaviour::Disabled, "disabled"),
        (SignInBehaviour::MfaRequired(50076), "multi-factor"),
        (SignInBehaviour::MfaRequired(50079), "multi-factor"),
        (SignInBehaviour::MfaRequired(50074), "multi-factor"),
        (SignInBehaviour::ConsentMissing, "consent"),
    ];
    for (behaviour, words) in cases {
        let f = EntraFixture::start(Scenario::default().with_sign_in(behaviour.clone()));
        let out = f.sign_in_correctly();
        assert_eq!(out.status.code(), Some(1), "{behaviour:?}");
        assert!(
            stderr(&out).contains(words),
            "{behaviour:?}: {}",
            stderr(&out)
        );
        assert_eq!(f.cached_password(), None, "{behaviour:?}");
        assert_eq!(f.cached_refresh_token(), None, "{behaviour:?}");
    }
}

#[test]
fn rejected_password_is_never_cached() {
    let f = EntraFixture::start(Scenario::default());
    let out = f.sign_in("not-the-password");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not accepted"), "{}", stderr(&out));
    assert_eq!(f.cached_password(), None);
    let (code, json) = f.check_json();
    assert_eq!(code, Some(1));
    assert_eq!(json["state"], "sign_in_required");
}

#[test]
fn other_error_codes_are_reported_with_their_code() {
    let f =
        EntraFixture::start(Scenario::default().with_sign_in(SignInBehaviour::OtherError(53003)));
    let out = f.sign_in_correctly();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("AADSTS53003"), "{}", stderr(&out));
    assert_eq!(f.cached_password(), None);
}

#[test]
fn periodic_checks_reuse_the_refresh_token() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    assert!(f.cached_refresh_token().is_some());
    let (code, _) = f.check_json();
    assert_eq!(code, Some(0));
    assert_eq!(f.token_grants(), vec!["password", "refresh_token"]);
}

#[test]
fn password_changed_elsewhere_asks_to_sign_in_with_the_new_one() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    f.emulator.change_password("A-New-Password-8");
    let (code, json) = f.check_json();
    assert_eq!(code, Some(1));
    assert_eq!(json["state"], "sign_in_required");
    assert_eq!(
        json["reason"],
        "your password was changed; sign in with the new one"
    );
    assert_eq!(
        f.token_grants(),
        vec!["password", "refresh_token", "password"]
    );
    // The rejected password is gone, so later checks cannot lock the account out.
    assert_eq!(f.cached_password(), None);
    assert_eq!(f.cached_refresh_token(), None);
    let out = f.sign_in("A-New-Password-8");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(f.check_json().1["state"], "ok");
}

#[test]
fn expired_refresh_token_falls_back_to_the_cached_password() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    f.emulator.expire_refresh_tokens();
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["state"], "ok");
    assert_eq!(
        f.token_grants(),
        vec!["password", "refresh_token", "password"]
    );
}

#[test]
fn short_throttling_is_waited_out() {
    let scenario = Scenario::expires_in_days(30).with_throttle(Throttle {
        token: 1,
        graph: 1,
        retry_after_secs: 1,
        status: 429,
    });
    let f = EntraFixture::start(scenario);
    let out = f.sign_in_correctly();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let statuses: Vec<u16> = f.emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
}

#[test]
fn long_throttling_keeps_the_last_known_status() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    f.emulator.set_scenario(Scenario {
        throttle: Throttle {
            token: 100,
            graph: 100,
            retry_after_secs: 3600,
            status: 503,
        },
        ..f.scenario.clone()
    });
    let started = std::time::Instant::now();
    let (code, json) = f.check_json();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "must not wait for an hour"
    );
    assert_eq!(code, Some(1));
    assert_eq!(json["state"], "ok", "the last known status is kept: {json}");
    assert_eq!(json["days_left"], 30);
    assert!(
        json["reason"].as_str().unwrap().contains("throttling"),
        "{json}"
    );
    let out = f.run(&["status", "--json"], "");
    let status = support::json_of(&out);
    assert_eq!(status["state"], "ok");
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("last check failed"),
        "{status}"
    );
}

#[test]
fn slow_malformed_or_broken_endpoints_never_lose_the_status() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    assert_eq!(f.sign_in_correctly().status.code(), Some(0));
    for (misbehaviour, words) in [
        (
            Misbehaviour::Delay(Duration::from_secs(6)),
            "did not answer",
        ),
        (Misbehaviour::MalformedJson, "malformed"),
        (Misbehaviour::BadDate, "malformed"),
    ] {
        f.emulator
            .set_scenario(f.scenario.clone().with_misbehaviour(misbehaviour.clone()));
        let (code, json) = f.check_json();
        assert_eq!(code, Some(1), "{misbehaviour:?}");
        assert_eq!(json["state"], "ok", "{misbehaviour:?}: {json}");
        assert!(
            json["reason"].as_str().unwrap().contains(words),
            "{misbehaviour:?}: {json}"
        );
    }
}

#[test]
fn unreachable_endpoint_exits_1_with_json() {
    let f = EntraFixture::start(Scenario::expires_in_days(30));
    let config = f.session.write_config(
        "dead.toml",
        "[account]\nusername = \"adele@contoso.com\"\n[entra]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"x\"\nauthority = \"http://127.0.0.1:1\"\ngraph = \"http://127.0.0.1:1\"\n",
    );
    let out = f
        .session
        .run_with_config(&config, &["sign-in", "--password-stdin"], "pw\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("could not reach"), "{}", stderr(&out));
}

#[test]
fn accepted_password_is_kept_when_graph_fails_during_sign_in() {
    let f = EntraFixture::start(
        Scenario::expires_in_days(30).with_misbehaviour(Misbehaviour::MalformedJson),
    );
    let out = f.sign_in_correctly();
    assert_eq!(out.status.code(), Some(1), "no status could be determined");
    assert!(
        stderr(&out).contains("the password was accepted, but"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        f.cached_password().as_deref(),
        Some(f.scenario.password.as_str())
    );
    assert!(f.cached_refresh_token().is_some());
    // Once Graph answers again, the kept credentials give the status without a new sign-in.
    f.emulator.set_scenario(Scenario {
        misbehaviour: None,
        ..f.scenario.clone()
    });
    let (code, json) = f.check_json();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["state"], "ok");
}

/// The warning window's edge through the real binary (the deadline computed from Graph's last
/// change and the domain policy): an hour inside the 14 days is warned about, an hour before it
/// and 15 days are not. The window starts at the instant 14 days before the deadline, so the
/// first warning says "13 days".
#[test]
fn the_warning_window_starts_fourteen_days_before_the_deadline() {
    use chrono::{TimeDelta, Utc};
    let cases = [
        (TimeDelta::days(14) - TimeDelta::hours(1), "warning", 13),
        (TimeDelta::days(14) + TimeDelta::hours(1), "ok", 14),
        (TimeDelta::days(15) + TimeDelta::hours(1), "ok", 15),
    ];
    for (left, state, days) in cases {
        let scenario = Scenario {
            last_password_change: Utc::now() - TimeDelta::days(90) + left,
            claims: None,
            ..Scenario::expires_in_days(30)
        };
        let f = EntraFixture::start(scenario);
        let out = f.sign_in_correctly();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (code, json) = f.check_json();
        assert_eq!(code, Some(0));
        assert_eq!(json["state"], state, "{left:?} left: {json}");
        assert_eq!(json["days_left"], days, "{json}");
        assert_eq!(json["source"], "graph_domain_policy");
    }
}

/// A computer clock ten minutes ahead of the endpoint's (its HTTP `Date`) is said in the reason;
/// the status itself still follows the dates.
#[test]
fn a_clock_far_ahead_of_the_endpoints_is_said_in_the_reason() {
    support::require(&[("faketime", "faketime")]);
    let f = EntraFixture::start(Scenario::expires_in_days(40));
    f.must_sign_in();
    let out = f
        .session
        .command("faketime")
        .args(["-f", "+10m", support::BIN, "--config"])
        .arg(&f.config)
        .args(["check", "--json", "--no-notify"])
        .output()
        .expect("run faketime");
    let json = support::json_of(&out);
    assert_eq!(json["state"], "ok", "{json}\n{}", stderr(&out));
    let reason = json["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("clock is 10 minutes ahead of the identity endpoint's"),
        "{json}"
    );
    // Without the skew, nothing is said.
    let (_, json) = f.check_json();
    assert_eq!(json["reason"], serde_json::Value::Null, "{json}");
}
