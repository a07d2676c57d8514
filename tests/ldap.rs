//! The LDAP provider against a real slapd with the ppolicy overlay (see `support/slapd.rs`):
//! every kind of user the issue names, over StartTLS and over ldaps with the test CA.

mod support;

use std::path::Path;

use chrono::{Duration, Utc};
use signin_assistant::providers::ldap::change::{ChangeError, ChangedVia};
use signin_assistant::providers::ldap::kpasswd::KpasswdError;
use signin_assistant::providers::ldap::LdapProvider;
use signin_assistant::providers::{Attempt, ProviderError};
use signin_assistant::rules::expiry::{
    self, Deadline, Finding, PasswordState, SignInReason, Source,
};
use signin_assistant::system::config::Config;
use signin_assistant::system::credentials::Secret;
use support::fake_ldap;
use support::slapd::{self, Slapd};

/// Starts slapd with one user per case. Change times are set one hour short of whole days so
/// that the whole days left are exact (e.g. "80 days ago" leaves 10 days, not 9 and 23 hours).
fn population() -> Slapd {
    let s = Slapd::start();
    let ago = |days: i64| Utc::now() - Duration::days(days) + Duration::hours(1);
    s.add_policy(
        "grace",
        &[
            ("pwdMaxAge", "7776000"),
            ("pwdExpireWarning", "1209600"),
            ("pwdGraceAuthNLimit", "10"),
        ],
    );
    s.add_policy("noaging", &[("pwdMaxAge", "0")]);
    s.add_policy(
        "short",
        &[("pwdMaxAge", "2592000"), ("pwdExpireWarning", "432000")],
    );
    s.add_policy(
        "mustchange",
        &[("pwdMaxAge", "7776000"), ("pwdMustChange", "TRUE")],
    );
    for (uid, policy, days) in [
        ("fresh", None, Some(30)),
        ("warned", None, Some(80)),
        ("expired", None, Some(100)),
        ("graced", Some("grace"), Some(100)),
        ("ageless", Some("noaging"), Some(400)),
        ("shortlived", Some("short"), Some(20)),
        ("locked", None, Some(10)),
        ("wasreset", Some("mustchange"), Some(1)),
    ] {
        s.add_user(uid, &format!("{uid}-pw"), policy);
        if let Some(days) = days {
            s.set_changed(uid, ago(days));
        }
    }
    s.lock("locked");
    s.reset("wasreset");
    s
}

fn config(dir: &Path, ldap: &str) -> Config {
    let file = dir.join(format!("config-{}.toml", fastrand::u32(..)));
    std::fs::write(
        &file,
        format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nbind = \"{}\"\nbase = \"{}\"\nflavor = \"openldap\"\ntimeout_secs = 5\n{ldap}",
            slapd::BIND_TEMPLATE,
            slapd::SUFFIX
        ),
    )
    .unwrap();
    Config::from_files(&[file]).unwrap()
}

async fn sign_in(provider: &LdapProvider, user: &str, password: &str) -> Attempt {
    provider
        .authenticate(user, &Secret::new(password))
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"))
}

/// Runs every user through the provider and the policy core.
async fn check_everyone(s: &Slapd, config: &Config) {
    let provider = LdapProvider::new(config).unwrap();
    let policy = config.policy();
    let status = |attempt: &Attempt| expiry::evaluate(Utc::now(), &attempt.finding, &policy);
    let facts = |attempt: &Attempt| match &attempt.finding {
        Finding::Facts(f) => f.clone(),
        other => panic!("expected facts, got {other:?}\n{}", s.log()),
    };

    let a = sign_in(&provider, "fresh", "fresh-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (PasswordState::Ok, Some(60)),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPwdChangedTime));
    assert!(facts(&a).changed_at.is_some());

    let a = sign_in(&provider, "warned", "warned-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (PasswordState::Warning, Some(10)),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPpolicyControl));
    assert!(matches!(facts(&a).deadline, Deadline::At { .. }));
    assert!(facts(&a).changed_at.is_some(), "{a:?}");

    let a = sign_in(&provider, "expired", "expired-pw").await;
    assert!(
        a.password_accepted,
        "an expired but correct password is the user's"
    );
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (PasswordState::Expired, Some(0)),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPpolicyControl));

    // In grace the bind succeeds, so the entry tells when it expired: pwdChangedTime + 90 days.
    let a = sign_in(&provider, "graced", "graced-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(st.state, PasswordState::Expired, "{a:?}");
    assert_eq!(facts(&a).grace_logins_left, Some(9));
    let expired_at = Utc::now() - Duration::days(10) + Duration::hours(1);
    assert!(
        st.expires_at
            .is_some_and(|at| (at - expired_at).num_seconds().abs() < 60),
        "{a:?}"
    );
    assert!(st.reason.unwrap().contains("9 grace logins left"));

    // "Never" from the policy itself (pwdMaxAge 0), which is what the source names.
    let a = sign_in(&provider, "ageless", "ageless-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (PasswordState::NeverExpires, None),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPasswordPolicy));

    // pwdExpireWarning (5 days) of the user's own policy does not shorten the configured 14.
    let a = sign_in(&provider, "shortlived", "shortlived-pw").await;
    let f = facts(&a);
    assert_eq!(f.warning_days, Some(5), "{a:?}");
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (PasswordState::Warning, Some(10)),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPwdChangedTime));

    let a = sign_in(&provider, "wasreset", "wasreset-pw").await;
    assert!(a.password_accepted);
    assert_eq!(status(&a).state, PasswordState::Expired, "{a:?}");

    let a = sign_in(&provider, "locked", "locked-pw").await;
    assert!(!a.password_accepted);
    assert_eq!(
        a.finding,
        Finding::SignInRequired {
            reason: SignInReason::Locked
        }
    );

    let a = sign_in(&provider, "fresh", "not-the-password").await;
    assert!(!a.password_accepted);
    assert_eq!(
        a.finding,
        Finding::SignInRequired {
            reason: SignInReason::Rejected
        }
    );

    // An empty password would be an unauthenticated bind, which slapd accepts.
    let a = sign_in(&provider, "fresh", "").await;
    assert!(!a.password_accepted);

    let a = sign_in(&provider, "nobody", "whatever").await;
    assert!(!a.password_accepted);
}

#[tokio::test]
async fn every_user_over_starttls() {
    let s = population();
    let cfg = config(
        s.dir(),
        &format!(
            "url = \"{}\"\nstarttls = true\nca_file = \"{}\"\n",
            s.ldap_url(),
            s.ca_file.display()
        ),
    );
    check_everyone(&s, &cfg).await;
}

#[tokio::test]
async fn every_user_over_ldaps_with_auto_flavor() {
    let s = population();
    let cfg = config(
        s.dir(),
        &format!(
            "url = \"{}\"\nca_file = \"{}\"\n",
            s.ldaps_url(),
            s.ca_file.display()
        ),
    );
    let text = std::fs::read_to_string(&cfg.files[0])
        .unwrap()
        .replace("flavor = \"openldap\"", "flavor = \"auto\"");
    std::fs::write(&cfg.files[0], text).unwrap();
    let cfg = Config::from_files(&cfg.files).unwrap();
    check_everyone(&s, &cfg).await;
}

#[tokio::test]
async fn plain_ldap_on_loopback_works() {
    let s = population();
    let cfg = config(s.dir(), &format!("url = \"{}\"\n", s.ldap_url()));
    let provider = LdapProvider::new(&cfg).unwrap();
    assert!(
        sign_in(&provider, "fresh", "fresh-pw")
            .await
            .password_accepted
    );
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let s = population();
    let cfg = config(s.dir(), &format!("url = \"{}\"\n", s.ldaps_url()));
    let provider = LdapProvider::new(&cfg).unwrap();
    let err = provider
        .authenticate("fresh", &Secret::new("fresh-pw"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unreachable { .. }), "{err}");
    assert!(!err.to_string().contains("fresh-pw"));
}

// ---- Answers a real slapd does not give on demand: Active Directory, hostile bytes, silence ----

const PPOLICY: &[u8] = b"1.3.6.1.4.1.42.2.27.8.5.1";

/// A provider for a scripted server on a loopback port, as an AD (UPN bind) user.
async fn scripted<F>(script: F) -> (tempfile::TempDir, LdapProvider)
where
    F: Fn(&fake_ldap::Request) -> Vec<u8> + Send + Sync + 'static,
{
    scripted_with("", script).await
}

/// [`scripted`] with more `[ldap]` settings.
async fn scripted_with<F>(extra: &str, script: F) -> (tempfile::TempDir, LdapProvider)
where
    F: Fn(&fake_ldap::Request) -> Vec<u8> + Send + Sync + 'static,
{
    let port = fake_ldap::serve(script).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"ldap://127.0.0.1:{port}\"\n\
             bind = \"{{username}}\"\nbase = \"dc=corp,dc=example\"\ntimeout_secs = 1\n{extra}"
        ),
    )
    .unwrap();
    let provider = LdapProvider::new(&Config::from_files(&[file]).unwrap()).unwrap();
    (dir, provider)
}

fn bind_reply(req: &fake_ldap::Request, rc: u8, text: &str, controls: Option<Vec<u8>>) -> Vec<u8> {
    fake_ldap::message(&req.id, fake_ldap::result(0x61, rc, text), controls)
}

fn filetime(at: chrono::DateTime<Utc>) -> i64 {
    (at.timestamp() + 11_644_473_600) * 10_000_000
}

#[tokio::test]
async fn active_directory_bind_codes() {
    let cases = [
        ("532", "v893", Some(None)),
        ("773", "v893", Some(None)),
        ("775", "v893", Some(Some(SignInReason::Locked))),
        ("533", "v893", Some(Some(SignInReason::Disabled))),
        ("701", "v893", Some(Some(SignInReason::AccountExpired))),
        ("52e", "v893", Some(Some(SignInReason::Rejected))),
        ("52e", "v1db1", Some(Some(SignInReason::Rejected))),
        ("525", "v893", Some(Some(SignInReason::Rejected))),
        ("530", "v893", None),
    ];
    for (code, version, expected) in cases {
        let text = format!(
            "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data {code}, {version}"
        );
        let (_dir, provider) = scripted(move |req| match req.op {
            0x60 => bind_reply(req, 49, &text, None),
            _ => Vec::new(),
        })
        .await;
        let outcome = provider
            .authenticate("alice@corp.example", &Secret::new("pw"))
            .await;
        match expected {
            // Expired / must change: the password is the user's.
            Some(None) => {
                let a = outcome.unwrap();
                assert!(a.password_accepted, "{code}");
                match &a.finding {
                    Finding::Facts(f) => {
                        assert_eq!(f.deadline, Deadline::ExpiredNow, "{code}");
                        assert_eq!(f.source, Source::AdBindError, "{code}");
                    }
                    other => panic!("{code}: {other:?}"),
                }
            }
            Some(Some(reason)) => {
                let a = outcome.unwrap();
                assert!(!a.password_accepted, "{code}");
                assert_eq!(a.finding, Finding::SignInRequired { reason }, "{code}");
            }
            None => {
                let err = outcome.unwrap_err();
                assert!(
                    matches!(err, ProviderError::Endpoint { .. }),
                    "{code}: {err}"
                );
            }
        }
    }
}

/// An AD that accepts the bind and answers the entry and domain searches.
fn active_directory(
    user: Vec<(&'static str, String)>,
    domain: Option<String>,
) -> impl Fn(&fake_ldap::Request) -> Vec<u8> + Send + Sync + 'static {
    move |req| {
        let raw = String::from_utf8_lossy(&req.raw);
        let done = fake_ldap::message(&req.id, fake_ldap::result(0x65, 0, ""), None);
        match req.op {
            0x60 => bind_reply(req, 0, "", None),
            0x63 if raw.contains("maxPwdAge") => {
                let mut out = Vec::new();
                if let Some(age) = &domain {
                    if raw.contains("dc=corp,dc=example") {
                        out = fake_ldap::message(
                            &req.id,
                            fake_ldap::entry("dc=corp,dc=example", &[("maxPwdAge", age)]),
                            None,
                        );
                    }
                }
                out.extend(done);
                out
            }
            0x63 if raw.contains("userPrincipalName") => {
                let attrs: Vec<(&str, &str)> = user.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let mut out = fake_ldap::message(
                    &req.id,
                    fake_ldap::entry("CN=Alice,CN=Users,DC=corp,DC=example", &attrs),
                    None,
                );
                out.extend(done);
                out
            }
            0x63 => done,
            _ => Vec::new(),
        }
    }
}

#[tokio::test]
async fn active_directory_expiry_attributes() {
    let policy = signin_assistant::rules::expiry::Policy::default();
    let now = Utc::now();
    let in_20_days = filetime(now + Duration::days(20) + Duration::hours(1)).to_string();
    let (_d, p) = scripted(active_directory(
        vec![
            ("msDS-UserPasswordExpiryTimeComputed", in_20_days),
            ("pwdLastSet", filetime(now - Duration::days(70)).to_string()),
            ("userAccountControl", "512".into()),
        ],
        None,
    ))
    .await;
    let a = p
        .authenticate("alice@corp.example", &Secret::new("pw"))
        .await
        .unwrap();
    let st = expiry::evaluate(Utc::now(), &a.finding, &policy);
    assert_eq!(
        (st.state, st.days_left, st.source),
        (PasswordState::Ok, Some(20), Some(Source::AdComputedExpiry))
    );

    // No computed attribute: pwdLastSet + the domain's maxPwdAge (42 days).
    let (_d, p) = scripted(active_directory(
        vec![
            (
                "pwdLastSet",
                filetime(now - Duration::days(35) + Duration::hours(1)).to_string(),
            ),
            ("userAccountControl", "512".into()),
        ],
        Some("-36288000000000".into()),
    ))
    .await;
    let a = p
        .authenticate("alice@corp.example", &Secret::new("pw"))
        .await
        .unwrap();
    let st = expiry::evaluate(Utc::now(), &a.finding, &policy);
    assert_eq!(
        (st.state, st.days_left, st.source),
        (PasswordState::Warning, Some(7), Some(Source::AdPwdLastSet))
    );

    for (uac, computed, expected) in [
        (
            "66048",
            None,
            (PasswordState::NeverExpires, Source::AdAccountControl),
        ),
        (
            "512",
            Some("9223372036854775807"),
            (PasswordState::NeverExpires, Source::AdComputedExpiry),
        ),
        (
            "512",
            Some("0"),
            (PasswordState::Expired, Source::AdComputedExpiry),
        ),
    ] {
        let mut attrs = vec![
            ("pwdLastSet", filetime(now).to_string()),
            ("userAccountControl", uac.to_string()),
        ];
        if let Some(c) = computed {
            attrs.push(("msDS-UserPasswordExpiryTimeComputed", c.to_string()));
        }
        let (_d, p) = scripted(active_directory(attrs, None)).await;
        let a = p
            .authenticate("alice@corp.example", &Secret::new("pw"))
            .await
            .unwrap();
        let st = expiry::evaluate(Utc::now(), &a.finding, &policy);
        assert_eq!(
            (st.state, st.source.unwrap()),
            expected,
            "{uac} {computed:?}"
        );
    }

    // Odd values are errors, not panics; the bind had accepted the password, which the error says.
    let (_d, p) = scripted(active_directory(
        vec![
            ("pwdLastSet", "yesterday".into()),
            ("userAccountControl", "512".into()),
        ],
        None,
    ))
    .await;
    let err = p
        .authenticate("alice@corp.example", &Secret::new("pw"))
        .await
        .unwrap_err();
    match err {
        ProviderError::AcceptedWithoutFacts { source, .. } => {
            assert!(
                matches!(*source, ProviderError::Protocol { .. }),
                "{source}"
            )
        }
        other => panic!("expected AcceptedWithoutFacts, got {other}"),
    }
}

async fn hostile_bind(controls: Vec<u8>) -> Result<Attempt, ProviderError> {
    let (_d, p) = scripted(move |req| match req.op {
        0x60 => bind_reply(req, 0, "", Some(controls.clone())),
        _ => Vec::new(),
    })
    .await;
    p.authenticate("alice@corp.example", &Secret::new("pw"))
        .await
}

#[tokio::test]
async fn a_malformed_ppolicy_control_is_a_protocol_error() {
    for value in [
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x07, 0xa0, 0x05, 0x80, 0x03, 0x0d],
        // Trailing bytes, under the framing guard's 1 MiB message limit so the decoder sees them.
        [vec![0x30, 0x00], vec![0u8; 1 << 19]].concat(),
    ] {
        let err = hostile_bind(fake_ldap::control(PPOLICY, &value))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProviderError::Protocol { detail, .. } if detail.contains("password policy")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn ldap3_panics_on_hostile_answers_are_contained() {
    // A control whose type is not UTF-8, and a control that is not a SEQUENCE: ldap3's eager
    // control parsing panics on both, inside the connection driver.
    for controls in [
        fake_ldap::control(&[0xff, 0xfe], b"x"),
        fake_ldap::octets(b"not a control"),
    ] {
        let err = hostile_bind(controls).await.unwrap_err();
        assert!(matches!(err, ProviderError::Protocol { .. }), "{err}");
    }
    // A search entry whose DN is not UTF-8: ldap3 panics while building the entry.
    let (_d, p) = scripted(|req| match req.op {
        0x60 => bind_reply(req, 0, "", None),
        0x63 => {
            let mut body = fake_ldap::octets(&[0xff, 0xfe]);
            body.extend(fake_ldap::tlv(0x30, &[]));
            let mut out = fake_ldap::message(&req.id, fake_ldap::tlv(0x64, &body), None);
            out.extend(fake_ldap::message(
                &req.id,
                fake_ldap::result(0x65, 0, ""),
                None,
            ));
            out
        }
        _ => Vec::new(),
    })
    .await;
    let err = p
        .authenticate("alice@corp.example", &Secret::new("pw"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (_d, p) = scripted(|_| Vec::new()).await;
    let started = std::time::Instant::now();
    let err = p
        .authenticate("alice@corp.example", &Secret::new("pw"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { secs: 1, .. }),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

// ---- Changing the password (the CLI tests cover the rules; these the routes) ----

#[tokio::test]
async fn change_password_with_auto_flavor_finds_openldap_and_uses_password_modify() {
    let s = population();
    let cfg = config(s.dir(), &format!("url = \"{}\"\n", s.ldap_url()));
    let text = std::fs::read_to_string(&cfg.files[0])
        .unwrap()
        .replace("flavor = \"openldap\"", "flavor = \"auto\"");
    std::fs::write(&cfg.files[0], text).unwrap();
    let provider = LdapProvider::new(&Config::from_files(&cfg.files).unwrap()).unwrap();
    let (old, new) = (
        Secret::new("shortlived-pw"),
        Secret::new("shortlived-new-pw"),
    );
    let via = provider
        .change_password("shortlived", &old, &new)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert_eq!(via, ChangedVia::Ldap);
    assert!(
        sign_in(&provider, "shortlived", "shortlived-new-pw")
            .await
            .password_accepted
    );
    assert!(
        !sign_in(&provider, "shortlived", "shortlived-pw")
            .await
            .password_accepted
    );
    // Locally refused, before anything is sent.
    assert!(matches!(
        provider.change_password("shortlived", &new, &new).await,
        Err(ChangeError::SameAsCurrent)
    ));
    assert!(matches!(
        provider
            .change_password("shortlived", &new, &Secret::new(""))
            .await,
        Err(ChangeError::EmptyNew)
    ));
}

/// Alice's change from "Old-pw-1" to "New-pw-2", which the script makes fail.
async fn alice_fails_to_change(p: &LdapProvider) -> ChangeError {
    p.change_password(
        "alice@corp.example",
        &Secret::new("Old-pw-1"),
        &Secret::new("New-pw-2"),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn active_directory_takes_a_new_password_only_over_tls() {
    let (_d, p) = scripted_with("flavor = \"active-directory\"\n", |req| match req.op {
        0x60 => bind_reply(req, 0, "", None),
        _ => Vec::new(),
    })
    .await;
    let err = alice_fails_to_change(&p).await;
    assert!(matches!(err, ChangeError::NeedsEncryption { .. }), "{err}");
    assert!(err.to_string().contains("ldaps://"), "{err}");
}

#[tokio::test]
async fn an_expired_ad_password_goes_to_kpasswd() {
    // data 532: the password is right but expired; the KDC route is taken (here without kpasswd).
    let expired =
        "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 532, v893";
    let (_d, p) = scripted_with(
        "kpasswd = \"/nonexistent/kpasswd\"\n",
        move |req| match req.op {
            0x60 => bind_reply(req, 49, expired, None),
            _ => Vec::new(),
        },
    )
    .await;
    let err = alice_fails_to_change(&p).await;
    assert!(
        matches!(&err, ChangeError::Kerberos(KpasswdError::NotInstalled(program)) if program == "/nonexistent/kpasswd"),
        "{err}"
    );
    assert!(err.to_string().contains("krb5-user"), "{err}");
}

#[tokio::test]
async fn a_change_without_an_answer_is_unconfirmed_not_refused() {
    // Bound, then silence after the Password Modify request: it may have been done.
    let (_d, p) = scripted_with("flavor = \"openldap\"\n", |req| match req.op {
        0x60 => bind_reply(req, 0, "", None),
        _ => Vec::new(),
    })
    .await;
    let err = alice_fails_to_change(&p).await;
    assert!(matches!(err, ChangeError::Unconfirmed { .. }), "{err}");
    assert!(!err.to_string().contains("pw-"), "{err}");
}
