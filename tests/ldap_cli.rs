//! The real binary against a real slapd: `sign-in --password-stdin` then `check --json` for every
//! kind of OpenLDAP user, over StartTLS and over ldaps with the test CA given as `ca_file`.
//! Each user gets its own isolated session (HOME, D-Bus, gnome-keyring) from `support`.

mod support;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::slapd::{self, Slapd};
use support::{json_of, stderr, Keyring, Session};

const SERVICE: &str = "signin-assistant";

/// Users and their policies; change times one hour short of whole days so days_left is exact.
fn population() -> Slapd {
    let s = Slapd::start();
    let ago = |days: i64| Utc::now() - Duration::days(days) + Duration::hours(1);
    s.add_policy(
        "grace",
        &[("pwdMaxAge", "7776000"), ("pwdGraceAuthNLimit", "10")],
    );
    s.add_policy("noaging", &[("pwdMaxAge", "0")]);
    for (uid, policy, days) in [
        ("fresh", None, 30),
        ("warned", None, 80),
        ("expired", None, 100),
        ("graced", Some("grace"), 100),
        ("ageless", Some("noaging"), 400),
        ("locked", None, 10),
    ] {
        s.add_user(uid, &format!("{uid}-pw"), policy);
        s.set_changed(uid, ago(days));
    }
    s.lock("locked");
    s
}

/// What `check --json` must say after a successful sign-in.
struct Expect {
    uid: &'static str,
    state: &'static str,
    days_left: Option<i64>,
    source: &'static str,
}

fn run_users(s: &Slapd, ldap_settings: &str) {
    let config = |session: &Session| {
        session.write_config(
            "config.toml",
            &format!(
                "[provider]\nkind = \"ldap\"\n\n[ldap]\n{ldap_settings}bind = \"{}\"\nbase = \"{}\"\nflavor = \"openldap\"\ntimeout_secs = 5\n",
                slapd::BIND_TEMPLATE,
                slapd::SUFFIX
            ),
        )
    };
    let accepted = [
        Expect {
            uid: "fresh",
            state: "ok",
            days_left: Some(60),
            source: "ldap_pwd_changed_time",
        },
        Expect {
            uid: "warned",
            state: "warning",
            days_left: Some(10),
            source: "ldap_ppolicy_control",
        },
        Expect {
            uid: "expired",
            state: "expired",
            days_left: Some(0),
            source: "ldap_ppolicy_control",
        },
        Expect {
            uid: "graced",
            state: "expired",
            days_left: Some(0),
            source: "ldap_ppolicy_control",
        },
        Expect {
            uid: "ageless",
            state: "never_expires",
            days_left: None,
            source: "ldap_pwd_changed_time",
        },
    ];
    for e in accepted {
        let session = Session::start(Keyring::Unlocked);
        let file = config(&session);
        let cfg = file.to_str().unwrap();
        let password = format!("{}-pw", e.uid);
        let out = session.run(
            &[
                "--config",
                cfg,
                "sign-in",
                "--user",
                e.uid,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        );
        let said = format!(
            "{}: sign-in stdout:\n{}\nstderr:\n{}",
            e.uid,
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
        assert_eq!(out.status.code(), Some(0), "{said}");
        assert!(
            !said.contains(&password),
            "the password was printed: {said}"
        );
        assert_eq!(
            session.keyring_lookup(SERVICE, e.uid).as_deref(),
            Some(password.as_str()),
            "{said}"
        );

        let out = session.run(&["--config", cfg, "check", "--json", "--no-notify"], "");
        assert_eq!(out.status.code(), Some(0), "{}: {:?}", e.uid, out);
        let json: Value = json_of(&out);
        assert_eq!(json["account"], e.uid, "{json}");
        assert_eq!(
            json["state"],
            e.state,
            "{}: {json}\nslapd log:\n{}",
            e.uid,
            s.log()
        );
        assert_eq!(json["days_left"].as_i64(), e.days_left, "{}: {json}", e.uid);
        assert_eq!(json["source"], e.source, "{}: {json}", e.uid);
        if e.uid == "graced" {
            let reason = json["reason"].as_str().unwrap_or_default();
            assert!(reason.contains("8 grace logins left"), "{json}");
        }
        for f in session.all_files() {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&password),
                "{} holds the password",
                f.display()
            );
        }
    }

    // Refused: exit 1, nothing cached.
    for (uid, password) in [("locked", "locked-pw"), ("fresh", "wrong-password")] {
        let session = Session::start(Keyring::Unlocked);
        let file = config(&session);
        let out = session.run_with_config(
            &file,
            &["sign-in", "--user", uid, "--password-stdin"],
            &format!("{password}\n"),
        );
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{uid}: {stderr}");
        assert!(!stderr.contains(password));
        let expected = if uid == "locked" {
            "locked"
        } else {
            "not accepted"
        };
        assert!(stderr.contains(expected), "{uid}: {stderr}");
        assert_eq!(
            session.keyring_lookup(SERVICE, uid),
            None,
            "{uid} was cached"
        );
    }
}

#[test]
fn every_user_over_starttls() {
    let s = population();
    run_users(
        &s,
        &format!(
            "url = \"{}\"\nstarttls = true\nca_file = \"{}\"\n",
            s.ldap_url(),
            s.ca_file.display()
        ),
    );
}

#[test]
fn every_user_over_ldaps() {
    let s = population();
    run_users(
        &s,
        &format!(
            "url = \"{}\"\nca_file = \"{}\"\n",
            s.ldaps_url(),
            s.ca_file.display()
        ),
    );
}

#[test]
fn cleartext_ldap_off_loopback_is_a_config_error() {
    let session = Session::start(Keyring::Absent);
    let file = session.write_config(
        "config.toml",
        "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"ldap://dc1.example.com\"\nbind = \"{username}\"\nbase = \"dc=example,dc=com\"\n",
    );
    let out = session.run_with_config(
        &file,
        &["sign-in", "--user", "a@example.com", "--password-stdin"],
        "pw\n",
    );
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config.toml:5"), "{stderr}");
    assert!(stderr.contains("ldap.url"), "{stderr}");
}
