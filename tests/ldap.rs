//! The LDAP provider against a real slapd with the ppolicy overlay (see `support/slapd.rs`):
//! every kind of user the issue names, over StartTLS and over ldaps with the test CA.

#[path = "support/slapd.rs"]
mod slapd;

use std::path::Path;

use chrono::{Duration, Utc};
use signin_assistant::config::Config;
use signin_assistant::credentials::Secret;
use signin_assistant::policy::{self, Deadline, Finding, SignInReason, Source, State};
use signin_assistant::provider::ldap::LdapProvider;
use signin_assistant::provider::{Attempt, ProviderError};
use slapd::Slapd;

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
    let status = |attempt: &Attempt| policy::evaluate(Utc::now(), &attempt.finding, &policy);
    let facts = |attempt: &Attempt| match &attempt.finding {
        Finding::Facts(f) => f.clone(),
        other => panic!("expected facts, got {other:?}\n{}", s.log()),
    };

    let a = sign_in(&provider, "fresh", "fresh-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!((st.state, st.days_left), (State::Ok, Some(60)), "{a:?}");
    assert_eq!(st.source, Some(Source::LdapPwdChangedTime));
    assert!(facts(&a).changed_at.is_some());

    let a = sign_in(&provider, "warned", "warned-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (State::Warning, Some(10)),
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
    assert_eq!((st.state, st.days_left), (State::Expired, Some(0)), "{a:?}");
    assert_eq!(st.source, Some(Source::LdapPpolicyControl));

    let a = sign_in(&provider, "graced", "graced-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(st.state, State::Expired, "{a:?}");
    assert_eq!(facts(&a).note.as_deref(), Some("9 grace logins left"));
    assert!(st.reason.unwrap().contains("9 grace logins left"));

    let a = sign_in(&provider, "ageless", "ageless-pw").await;
    assert!(a.password_accepted);
    let st = status(&a);
    assert_eq!(
        (st.state, st.days_left),
        (State::NeverExpires, None),
        "{a:?}"
    );
    assert_eq!(st.source, Some(Source::LdapPwdChangedTime));

    // pwdExpireWarning (5 days) of the user's own policy beats the configured 14 days.
    let a = sign_in(&provider, "shortlived", "shortlived-pw").await;
    let f = facts(&a);
    assert_eq!(f.warning_days, Some(5), "{a:?}");
    let st = status(&a);
    assert_eq!((st.state, st.days_left), (State::Ok, Some(10)), "{a:?}");
    assert_eq!(st.source, Some(Source::LdapPwdChangedTime));

    let a = sign_in(&provider, "wasreset", "wasreset-pw").await;
    assert!(a.password_accepted);
    assert_eq!(status(&a).state, State::Expired, "{a:?}");

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
