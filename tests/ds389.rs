//! The LDAP provider against a real 389 Directory Server (see `support/ds389.rs`), the directory
//! FreeIPA and Red Hat Directory Server are built on. Creating a server takes seconds, so this
//! file has one, and one person per case. Its global policy is the issue's: passwords expire
//! after 90 days, the server warns 14 days ahead, and allows 3 grace logins.
//!
//! What each case must see:
//! - later: expires in 40 days -> ok, 40 days, from passwordExpirationTime (not never_expires);
//! - the same person with `flavor = "auto"`: the root DSE's vendor says 389;
//! - warned: 10 days left, the server's one warning already given -> warning, 10 days, from the
//!   ppolicy control;
//! - unwarned: 10 days left, not yet warned: the server moves the deadline to now + its 14-day
//!   window at this first bind inside it -> warning, 13 days and 23 hours;
//! - shortwin: a local policy whose window is 5 days, 10 days left: no control, and our 14-day
//!   window still warns -> warning, 10 days;
//! - graced: expired yesterday, grace logins left -> expired with the date, 2 grace logins left;
//!   each check spends exactly the one grace login its bind must, its reads none;
//! - exhausted: expired, no grace login left: the bind fails ("password expired!") -> expired, the
//!   password still the person's; no date, as nothing is readable without a bind;
//! - exempt: a local policy with `passwordExp: off` -> never_expires, from that policy;
//! - endless: the server's end-of-time value 20380119031407Z -> never_expires;
//! - hidden: may not read its password state, policy unreadable -> unknown, with the reason;
//! - then the global policy without aging, for a new person: unknown while `cn=config` is not
//!   readable, never_expires from the policy once an ACI lets users read it.
//!
//! FreeIPA's `krbPasswordExpiration` is read through a scripted server (no FreeIPA server is
//! packaged in Debian): the same read works after any bind, simple or Kerberos.

mod support;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use signin_assistant::providers::ldap::LdapProvider;
use signin_assistant::providers::Attempt;
use signin_assistant::report;
use signin_assistant::rules::expiry::{
    self, Deadline, Facts, Finding, PasswordState, SignInReason, Source, Status,
};
use signin_assistant::system::config::Config;
use signin_assistant::system::credentials::Secret;
use signin_assistant::system::state::SavedState;
use support::ds389::{Ds389, HIDDEN, PEOPLE, SUFFIX};
use support::fake_ldap;

const GLOBAL_POLICY: [&str; 10] = [
    "pwpolicy",
    "set",
    "--pwdexpire",
    "on",
    "--pwdmaxage",
    "7776000",
    "--pwdwarning",
    "1209600",
    "--pwdgracelimit",
    "3",
];

fn password(uid: &str) -> String {
    format!("{uid}-Secret-1")
}

fn person(uid: &str) -> String {
    format!("uid={uid},{PEOPLE}")
}

/// One hour past whole days, so that the whole days left are exact.
fn in_days(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days) + Duration::hours(1)
}

/// A provider for the people under `ou` of the server at `url` (entries under `base`), with
/// `flavor`; its configuration file is written in `dir`.
fn provider_at(
    dir: &Path,
    url: &str,
    ou: &str,
    base: &str,
    flavor: &str,
) -> (Config, LdapProvider) {
    let file = dir.join(format!("config-{}.toml", fastrand::u32(..)));
    std::fs::write(
        &file,
        format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"{url}\"\nbind = \"uid={{username}},{ou}\"\n\
             base = \"{base}\"\nflavor = \"{flavor}\"\ntimeout_secs = 5\n"
        ),
    )
    .unwrap();
    let config = Config::from_files(&[file]).unwrap();
    let provider = LdapProvider::new(&config).unwrap();
    (config, provider)
}

/// A provider for the people under `ou` of the 389 server, with `flavor`.
fn provider(ds: &Ds389, ou: &str, flavor: &str) -> (Config, LdapProvider) {
    provider_at(ds.dir(), &ds.ldap_url(), ou, SUFFIX, flavor)
}

/// What one check said: the attempt, its status now and its `check --json` object.
struct Checked {
    attempt: Attempt,
    status: Status,
    json: Value,
}

impl Checked {
    fn facts(&self) -> &Facts {
        match &self.attempt.finding {
            Finding::Facts(facts) => facts,
            other => panic!("expected facts, got {other:?}"),
        }
    }
}

async fn check(ds: &Ds389, (config, provider): &(Config, LdapProvider), uid: &str) -> Checked {
    let attempt = provider
        .authenticate(uid, &Secret::new(password(uid)))
        .await
        .unwrap_or_else(|e| panic!("{uid}: {e}\n{}", ds.log()));
    checked(config, attempt, uid)
}

/// The status of an attempt now, and the `check --json` object that reports it.
fn checked(config: &Config, attempt: Attempt, uid: &str) -> Checked {
    let now = Utc::now();
    let status = expiry::evaluate(now, &attempt.finding, &config.policy());
    let mut saved = SavedState::default();
    saved.record_finding(uid, attempt.finding.clone(), now);
    let json = serde_json::to_value(report::build(config, &saved, Some(uid), now, None)).unwrap();
    eprintln!("{uid}: {json}");
    Checked {
        attempt,
        status,
        json,
    }
}

/// Asserts the state, whole days left and source, in the status and in the JSON.
fn expect(c: &Checked, uid: &str, state: PasswordState, days_left: Option<i64>, source: Source) {
    assert!(c.attempt.password_accepted, "{uid}: {:?}", c.attempt);
    assert_eq!(
        (c.status.state, c.status.days_left, c.status.source),
        (state, days_left, Some(source)),
        "{uid}: {:?}",
        c.attempt
    );
    assert_eq!(
        c.json["state"],
        serde_json::to_value(state).unwrap(),
        "{uid}"
    );
    assert_eq!(
        c.json["source"],
        serde_json::to_value(source).unwrap(),
        "{uid}"
    );
    assert_eq!(c.json["days_left"].as_i64(), days_left, "{uid}");
}

/// `expires_at` of the JSON, as an instant.
fn expires_at(c: &Checked) -> Option<DateTime<Utc>> {
    c.json["expires_at"]
        .as_str()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

/// Whether two instants are the same to the second (GeneralizedTime has no fractions here).
fn same_second(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> bool {
    a.is_some_and(|a| (a - b).num_seconds().abs() <= 1)
}

/// The people of the expiring global policy, and their deadlines.
fn populate(ds: &Ds389) -> Vec<(&'static str, Option<DateTime<Utc>>)> {
    for uid in [
        "later",
        "warned",
        "unwarned",
        "shortwin",
        "graced",
        "exhausted",
        "exempt",
        "endless",
    ] {
        ds.add_user(PEOPLE, uid, &password(uid));
    }
    ds.add_user(HIDDEN, "hidden", &password("hidden"));
    let yesterday = Utc::now() - Duration::days(1);
    let deadlines = vec![
        ("later", Some(in_days(40))),
        ("warned", Some(in_days(10))),
        ("unwarned", Some(in_days(10))),
        ("shortwin", Some(in_days(10))),
        ("graced", Some(yesterday)),
        ("exhausted", Some(yesterday)),
    ];
    ds.dsconf(&[
        "localpwp",
        "adduser",
        &person("shortwin"),
        "--pwdexpire",
        "on",
        "--pwdmaxage",
        "7776000",
        "--pwdwarning",
        "432000",
    ]);
    ds.dsconf(&[
        "localpwp",
        "adduser",
        &person("exempt"),
        "--pwdexpire",
        "off",
    ]);
    for (uid, at) in &deadlines {
        ds.set_expiration(&person(uid), at.unwrap(), *uid == "warned");
    }
    ds.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: passwordGraceUserTime\npasswordGraceUserTime: 3\n\n\
         dn: {}\nchangetype: modify\nreplace: passwordExpirationTime\npasswordExpirationTime: 20380119031407Z\n",
        person("exhausted"),
        person("endless")
    ));
    deadlines
}

#[tokio::test]
async fn every_case_on_one_389_directory_server() {
    let ds = Ds389::start();
    eprintln!("389-ds created and started in {:?}", ds.create_time);
    ds.dsconf(&GLOBAL_POLICY);
    let deadlines = populate(&ds);
    let deadline = |uid: &str| {
        deadlines
            .iter()
            .find(|(u, _)| *u == uid)
            .unwrap()
            .1
            .unwrap()
    };
    let people = provider(&ds, PEOPLE, "389-ds");

    let c = check(&ds, &people, "later").await;
    expect(
        &c,
        "later",
        PasswordState::Ok,
        Some(40),
        Source::LdapPasswordExpirationTime,
    );
    assert!(same_second(expires_at(&c), deadline("later")), "{}", c.json);

    let c = check(&ds, &provider(&ds, PEOPLE, "auto"), "later").await;
    expect(
        &c,
        "later (auto)",
        PasswordState::Ok,
        Some(40),
        Source::LdapPasswordExpirationTime,
    );

    let c = check(&ds, &people, "warned").await;
    expect(
        &c,
        "warned",
        PasswordState::Warning,
        Some(10),
        Source::LdapPpolicyControl,
    );

    inside_the_window_for_the_first_time(&ds, &people).await;

    // The server's own window is 5 days: it says nothing yet, and ours (14 days) still warns.
    let c = check(&ds, &people, "shortwin").await;
    expect(
        &c,
        "shortwin",
        PasswordState::Warning,
        Some(10),
        Source::LdapPasswordExpirationTime,
    );
    assert!(
        same_second(expires_at(&c), deadline("shortwin")),
        "{}",
        c.json
    );

    grace_logins(&ds, &people, deadline("graced")).await;

    let c = check(&ds, &people, "exhausted").await;
    expect(
        &c,
        "exhausted",
        PasswordState::Expired,
        Some(0),
        Source::LdapPpolicyControl,
    );
    assert_eq!(
        c.json["expires_at"],
        Value::Null,
        "nothing is readable without a bind"
    );

    let c = check(&ds, &people, "exempt").await;
    expect(
        &c,
        "exempt",
        PasswordState::NeverExpires,
        None,
        Source::LdapLocalPolicy,
    );

    let c = check(&ds, &people, "endless").await;
    expect(
        &c,
        "endless",
        PasswordState::NeverExpires,
        None,
        Source::LdapPasswordExpirationTime,
    );

    let c = check(&ds, &provider(&ds, HIDDEN, "389-ds"), "hidden").await;
    expect(
        &c,
        "hidden",
        PasswordState::Unknown,
        None,
        Source::LdapPasswordExpirationTime,
    );
    assert!(
        c.json["reason"]
            .as_str()
            .unwrap()
            .contains("passwordExpirationTime"),
        "{}",
        c.json
    );

    let wrong = people
        .1
        .authenticate("later", &Secret::new("not-the-password"))
        .await
        .unwrap();
    assert_eq!(
        wrong.finding,
        Finding::SignInRequired {
            reason: SignInReason::Rejected
        }
    );

    a_server_without_aging(&ds, &people).await;
}

/// Without `passwordExpWarned`, the first bind inside the server's window moves the deadline to
/// now + the window (14 days): the check reports the server's new deadline, not the old one.
async fn inside_the_window_for_the_first_time(ds: &Ds389, people: &(Config, LdapProvider)) {
    let before = Utc::now();
    let c = check(ds, people, "unwarned").await;
    expect(
        &c,
        "unwarned",
        PasswordState::Warning,
        Some(13),
        Source::LdapPpolicyControl,
    );
    let moved = expires_at(&c).unwrap();
    assert!(
        // `expires_at` is told to the second.
        moved >= before + Duration::days(14) - Duration::seconds(1)
            && moved <= Utc::now() + Duration::days(14),
        "{}",
        c.json
    );
    assert_eq!(
        ds.attribute(&person("unwarned"), "passwordExpWarned")
            .as_deref(),
        Some("1")
    );
}

/// An expired password in grace: expired with the date, and each check spends exactly the grace
/// login of its bind (`passwordGraceUserTime` counts them), never more.
async fn grace_logins(ds: &Ds389, people: &(Config, LdapProvider), expired_at: DateTime<Utc>) {
    let used = || {
        ds.attribute(&person("graced"), "passwordGraceUserTime")
            .map_or(0, |v| v.parse::<u32>().unwrap())
    };
    assert_eq!(used(), 0);
    for (n, left) in [(1, 2), (2, 1)] {
        let c = check(ds, people, "graced").await;
        expect(
            &c,
            "graced",
            PasswordState::Expired,
            Some(0),
            Source::LdapPpolicyControl,
        );
        assert!(same_second(expires_at(&c), expired_at), "{}", c.json);
        assert_eq!(
            c.facts().deadline,
            Deadline::ExpiredSince {
                expires_at: expires_at(&c).unwrap()
            }
        );
        assert_eq!(c.facts().grace_logins_left, Some(left));
        assert!(expiry::recheck_spends_grace_login(Some(&c.attempt.finding)));
        assert_eq!(
            used(),
            n,
            "check {n} spent more than its bind's grace login"
        );
    }
}

/// The global policy without aging: "never" only once the policy itself is readable.
async fn a_server_without_aging(ds: &Ds389, people: &(Config, LdapProvider)) {
    ds.dsconf(&["pwpolicy", "set", "--pwdexpire", "off"]);
    ds.add_user(PEOPLE, "ageless", &password("ageless"));
    assert_eq!(
        ds.attribute(&person("ageless"), "passwordExpirationTime"),
        None
    );
    let c = check(ds, people, "ageless").await;
    expect(
        &c,
        "ageless",
        PasswordState::Unknown,
        None,
        Source::LdapPasswordExpirationTime,
    );

    let policy_read = "(targetattr=\"objectClass || passwordExp || nsslapd-pwpolicy-local\")\
                       (version 3.0; acl \"Users read the global password policy\"; allow (read, search, compare) userdn=\"ldap:///all\";)";
    ds.ldapmodify(&format!(
        "dn: cn=config\nchangetype: modify\nadd: aci\naci: {policy_read}\n"
    ));
    let c = check(ds, people, "ageless").await;
    expect(
        &c,
        "ageless",
        PasswordState::NeverExpires,
        None,
        Source::LdapPasswordPolicy,
    );
    // The date stamped under the old policy is stale: the policy says no aging.
    let c = check(ds, people, "later").await;
    expect(
        &c,
        "later",
        PasswordState::NeverExpires,
        None,
        Source::LdapPasswordPolicy,
    );
}

// ---- FreeIPA: 389 Directory Server with Kerberos attributes, through a scripted server ----

/// A FreeIPA-like server: vendor "389 Project", and a user entry with `user` attributes; the
/// realm's global Kerberos policy with `max_life` when given.
fn freeipa(
    user: Vec<(&'static str, String)>,
    max_life: Option<&'static str>,
) -> impl Fn(&fake_ldap::Request) -> Vec<u8> + Send + Sync + 'static {
    move |req| {
        let raw = String::from_utf8_lossy(&req.raw);
        let done = fake_ldap::message(&req.id, fake_ldap::result(0x65, 0, ""), None);
        let entry = |dn: &str, attrs: &[(&str, &str)]| {
            let mut out = fake_ldap::message(&req.id, fake_ldap::entry(dn, attrs), None);
            out.extend(done.clone());
            out
        };
        match req.op {
            0x60 => fake_ldap::message(&req.id, fake_ldap::result(0x61, 0, ""), None),
            0x63 if raw.contains("vendorName") => entry(
                "",
                &[
                    ("vendorName", "389 Project"),
                    ("vendorVersion", "389-Directory/2.6.1"),
                ],
            ),
            0x63 if raw.contains("krbPasswordExpiration") => {
                let attrs: Vec<(&str, &str)> = user.iter().map(|(k, v)| (*k, v.as_str())).collect();
                entry("uid=alice,cn=users,cn=accounts,dc=ipa,dc=example", &attrs)
            }
            0x63 if raw.contains("krbMaxPwdLife") && raw.contains("cn=global_policy") => {
                match max_life {
                    Some(life) => entry(
                        "cn=global_policy,cn=IPA.EXAMPLE,cn=kerberos,dc=ipa,dc=example",
                        &[("krbMaxPwdLife", life)],
                    ),
                    None => done,
                }
            }
            0x63 => done,
            _ => Vec::new(),
        }
    }
}

async fn freeipa_check(
    user: Vec<(&'static str, String)>,
    max_life: Option<&'static str>,
) -> Checked {
    let port = fake_ldap::serve(freeipa(user, max_life)).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, provider) = provider_at(
        dir.path(),
        &format!("ldap://127.0.0.1:{port}"),
        "cn=users,cn=accounts,dc=ipa,dc=example",
        "dc=ipa,dc=example",
        "auto",
    );
    let attempt = provider
        .authenticate("alice", &Secret::new("Pw-1"))
        .await
        .unwrap();
    checked(&config, attempt, "alice")
}

fn generalized(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%SZ").to_string()
}

#[tokio::test]
async fn freeipa_kerberos_attributes() {
    let changed = Utc::now() - Duration::days(50);
    let principal = ("krbPrincipalName", "alice@IPA.EXAMPLE".to_string());
    let c = freeipa_check(
        vec![
            ("krbPasswordExpiration", generalized(in_days(40))),
            ("krbLastPwdChange", generalized(changed)),
            principal.clone(),
        ],
        None,
    )
    .await;
    expect(
        &c,
        "alice",
        PasswordState::Ok,
        Some(40),
        Source::LdapKrbPasswordExpiration,
    );

    // Reset by an administrator: the expiration is the change itself.
    let c = freeipa_check(
        vec![
            ("krbPasswordExpiration", generalized(changed)),
            ("krbLastPwdChange", generalized(changed)),
            principal.clone(),
        ],
        None,
    )
    .await;
    expect(
        &c,
        "alice reset",
        PasswordState::Expired,
        Some(0),
        Source::LdapKrbPasswordExpiration,
    );
    assert!(same_second(expires_at(&c), changed), "{}", c.json);

    // No expiration: "never" only from a readable policy without a maximum life.
    let no_expiration = vec![("krbLastPwdChange", generalized(changed)), principal];
    let c = freeipa_check(no_expiration.clone(), Some("0")).await;
    expect(
        &c,
        "alice ageless",
        PasswordState::NeverExpires,
        None,
        Source::LdapPasswordPolicy,
    );
    let c = freeipa_check(no_expiration, None).await;
    expect(
        &c,
        "alice unknown",
        PasswordState::Unknown,
        None,
        Source::LdapKrbPasswordExpiration,
    );
}

#[tokio::test]
async fn a_malformed_expiring_control_is_a_protocol_error() {
    for value in [&b"soon"[..], b"-5", b"99999999999999999999", b""] {
        let controls = fake_ldap::control(b"2.16.840.1.113730.3.4.5", value);
        let port = fake_ldap::serve(move |req| match req.op {
            0x60 => fake_ldap::message(
                &req.id,
                fake_ldap::result(0x61, 0, ""),
                Some(controls.clone()),
            ),
            _ => Vec::new(),
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("ldap://127.0.0.1:{port}");
        let (_, provider) = provider_at(dir.path(), &url, PEOPLE, SUFFIX, "389-ds");
        let err = provider
            .authenticate("alice", &Secret::new("Pw-1"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, signin_assistant::providers::ProviderError::Protocol { detail, .. } if detail.contains("expiring control")),
            "{value:?}: {err}"
        );
    }
}
