//! The real binary against a real Active Directory: a Samba AD domain controller provisioned in a
//! temporary folder (see `support/samba.rs`). For every kind of AD account, `sign-in
//! --password-stdin` then `check --json`, over ldaps with the test CA as `ca_file`, binding with
//! the UPN; once with `flavor = "active-directory"` and once with `flavor = "auto"`.
//!
//! Samba's ports are fixed (389, 636), so this file has a single test and one domain controller.
//! It needs root and the Samba packages (the test fails, with the install command, without them).

mod support;

use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::samba::{self, Samba, UF_ACCOUNTDISABLE, UF_DONT_EXPIRE_PASSWD, UF_NORMAL_ACCOUNT};
use support::{json_of, stderr, Keyring, Session};

const SERVICE: &str = "signin-assistant";

fn password(name: &str) -> String {
    format!("Pw-{}-Secret-9", name.to_uppercase())
}

fn upn(name: &str) -> String {
    format!("{name}@{}", samba::REALM)
}

/// The domain's users. Ages are one hour past whole days so that `days_left` is exact.
///
/// - fresh: the domain policy (60 days) -> msDS-UserPasswordExpiryTimeComputed in 60 days
/// - warned: a PSO of 10 days -> computed expiry in 10 days
/// - ageless: userAccountControl DONT_EXPIRE_PASSWORD -> never
/// - reset: pwdLastSet = 0 (must change at next logon) -> bind fails with data 773
/// - expired: password set 70 days ago -> bind fails with data 532
/// - disabled: ACCOUNTDISABLE -> bind fails with data 533
/// - locked: a PSO locking after one bad password; the test's bad bind locks it -> data 775
fn domain() -> Samba {
    let dc = Samba::start();
    let days = |n: i64| Duration::days(n) + Duration::hours(1);
    dc.set_domain_policy(days(60));
    let normal = UF_NORMAL_ACCOUNT;
    for (name, control, must_change) in [
        ("fresh", normal, false),
        ("warned", normal, false),
        ("ageless", normal | UF_DONT_EXPIRE_PASSWD, false),
        ("reset", normal, true),
        ("expired", normal, false),
        ("disabled", normal | UF_ACCOUNTDISABLE, false),
        ("locked", normal, false),
    ] {
        dc.add_user(name, &password(name), control, must_change);
    }
    dc.add_pso("ten-days", 1, days(10), 0, "warned");
    dc.add_pso("lock-at-once", 2, days(60), 1, "locked");
    dc.set_password_at(
        "expired",
        &password("expired"),
        Utc::now() - Duration::days(70),
    );
    dc
}

/// What `check --json` must say after a successful sign-in.
struct Expect {
    name: &'static str,
    state: &'static str,
    days_left: Option<i64>,
    source: &'static str,
    reason: Option<&'static str>,
}

fn config(session: &Session, dc: &Samba, flavor: &str) -> String {
    let file = session.write_config(
        "config.toml",
        &format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind = \"{{username}}\"\nbase = \"{}\"\nflavor = \"{flavor}\"\ntimeout_secs = 10\n",
            dc.ldaps_url(),
            dc.ca_file.display(),
            samba::BASE
        ),
    );
    file.to_str().unwrap().to_string()
}

fn sign_in(session: &Session, cfg: &str, user: &str, password: &str) -> std::process::Output {
    session.run(
        &[
            "--config",
            cfg,
            "sign-in",
            "--user",
            user,
            "--password-stdin",
        ],
        &format!("{password}\n"),
    )
}

fn said(who: &str, out: &std::process::Output, dc: &Samba) -> String {
    format!(
        "{who}: exit {:?}\nstdout:\n{}\nstderr:\n{}\nsamba log:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr(out),
        dc.log()
    )
}

fn run_users(dc: &Samba, flavor: &str) {
    let accepted = [
        Expect {
            name: "fresh",
            state: "ok",
            days_left: Some(60),
            source: "ad_computed_expiry",
            reason: None,
        },
        Expect {
            name: "warned",
            state: "warning",
            days_left: Some(10),
            source: "ad_computed_expiry",
            reason: None,
        },
        Expect {
            name: "ageless",
            state: "never_expires",
            days_left: None,
            source: "ad_account_control",
            reason: None,
        },
        Expect {
            name: "reset",
            state: "expired",
            days_left: Some(0),
            source: "ad_bind_error",
            reason: Some("must be changed"),
        },
        Expect {
            name: "expired",
            state: "expired",
            days_left: Some(0),
            source: "ad_bind_error",
            reason: Some("has expired"),
        },
    ];
    for e in accepted {
        let who = format!("{} ({flavor})", e.name);
        let session = Session::start(Keyring::Unlocked);
        let cfg = config(&session, dc, flavor);
        let user = upn(e.name);
        let password = password(e.name);
        let out = sign_in(&session, &cfg, &user, &password);
        let said = said(&who, &out, dc);
        assert_eq!(out.status.code(), Some(0), "{said}");
        assert!(
            !said.contains(&password),
            "the password was printed: {said}"
        );
        assert_eq!(
            session.keyring_lookup(SERVICE, &user).as_deref(),
            Some(password.as_str()),
            "{said}"
        );

        let out = session.run(&["--config", &cfg, "check", "--json", "--no-notify"], "");
        assert_eq!(out.status.code(), Some(0), "{}", self::said(&who, &out, dc));
        let json: Value = json_of(&out);
        assert_eq!(json["account"], user.as_str(), "{who}: {json}");
        assert_eq!(
            json["state"],
            e.state,
            "{who}: {json}\nsamba log:\n{}",
            dc.log()
        );
        assert_eq!(json["days_left"].as_i64(), e.days_left, "{who}: {json}");
        assert_eq!(json["source"], e.source, "{who}: {json}");
        if let Some(reason) = e.reason {
            let said = json["reason"].as_str().unwrap_or_default();
            assert!(said.contains(reason), "{who}: {json}");
        }
        for f in session.all_files() {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&password),
                "{who}: {} holds the password",
                f.display()
            );
        }
    }

    // Refused: exit 1, the reason on stderr, nothing cached. The first bad password locks
    // "locked" (its PSO allows one); in the second round it is locked already.
    let mut refused = vec![
        ("fresh", "Not-The-Password-1".to_string(), "not accepted"),
        ("disabled", password("disabled"), "disabled"),
    ];
    if flavor == "active-directory" {
        refused.push(("locked", "Not-The-Password-1".to_string(), "not accepted"));
    }
    refused.push(("locked", password("locked"), "locked"));
    for (name, password, expected) in refused {
        let who = format!("{name} ({flavor})");
        let session = Session::start(Keyring::Unlocked);
        let cfg = config(&session, dc, flavor);
        let user = upn(name);
        let out = sign_in(&session, &cfg, &user, &password);
        let said = said(&who, &out, dc);
        let stderr = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(!stderr.contains(&password), "{said}");
        assert!(stderr.contains(expected), "{said}");
        assert_eq!(
            session.keyring_lookup(SERVICE, &user),
            None,
            "{who} was cached"
        );
    }
}

#[test]
fn every_kind_of_account_on_a_samba_domain_controller() {
    let began = Instant::now();
    let dc = domain();
    eprintln!(
        "samba: provisioned in {:?}, started in {:?}, users ready after {:?}",
        dc.provision_time,
        dc.start_time,
        began.elapsed()
    );
    run_users(&dc, "active-directory");
    run_users(&dc, "auto");
    eprintln!("samba: every account checked after {:?}", began.elapsed());
}
