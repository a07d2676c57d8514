//! The real binary against a real slapd: `sign-in --password-stdin` then `check --json` for every
//! kind of OpenLDAP user, over StartTLS and over ldaps with the test CA given as `ca_file`; and
//! `change-password` (Password Modify with the ppolicy control) refused by each rule, accepted,
//! through the scripted pinentry dialog, with the keyring in step and a canary for leaks; and
//! the running agent, whose warning balloon, clicked, opens that dialog and changes the password.
//! Each user gets its own isolated session (HOME, D-Bus, gnome-keyring) from `support`.

mod support;

use std::process::Output;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::pinentry::FakePinentry;
use support::slapd::{self, Slapd};
use support::{json_of, stderr, Keyring, Session, SessionBuilder};

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
            source: "ldap_password_policy",
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

// ----- change-password against slapd ------------------------------------------------------

/// slapd with a strict policy (8 characters, quality checked, the last 3 passwords remembered,
/// no minimum age) and a slow one (one change a day); `users` under the strict one, their
/// passwords changed 80 days ago (inside the warning window).
fn changing_population(users: &[&str]) -> Slapd {
    let s = Slapd::start();
    s.add_policy(
        "strict",
        &[
            ("pwdMaxAge", "7776000"),
            ("pwdExpireWarning", "1209600"),
            ("pwdMinLength", "8"),
            ("pwdCheckQuality", "2"),
            ("pwdInHistory", "3"),
            ("pwdMinAge", "0"),
        ],
    );
    s.add_policy("slow", &[("pwdMaxAge", "7776000"), ("pwdMinAge", "86400")]);
    for uid in users {
        s.add_user(uid, &old_password(uid), Some("strict"));
        s.set_changed(uid, Utc::now() - Duration::days(80) + Duration::hours(1));
    }
    s
}

fn old_password(uid: &str) -> String {
    format!("{uid}-Old-pw1")
}

/// The config for the change tests (StartTLS with the test CA), plus `extra` tables.
fn change_config(session: &Session, s: &Slapd, extra: &str) -> String {
    let file = session.write_config(
        "config.toml",
        &format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"{}\"\nstarttls = true\nca_file = \"{}\"\n\
             bind = \"{}\"\nbase = \"{}\"\nflavor = \"openldap\"\ntimeout_secs = 5\n\n{extra}",
            s.ldap_url(),
            s.ca_file.display(),
            slapd::BIND_TEMPLATE,
            slapd::SUFFIX
        ),
    );
    file.to_str().unwrap().to_string()
}

/// `change-password --user UID --password-stdin` with the three lines.
fn change(session: &Session, cfg: &str, uid: &str, lines: [&str; 3]) -> Output {
    session.run(
        &[
            "--config",
            cfg,
            "change-password",
            "--user",
            uid,
            "--password-stdin",
        ],
        &format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
    )
}

/// What the program said, after checking that it exited with `code` (else the slapd log too).
fn exited(out: &Output, code: i32, slapd: &Slapd) -> String {
    let text = said(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{text}\nslapd log:\n{}",
        slapd.log()
    );
    text
}

fn said(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check_json(session: &Session, cfg: &str) -> Value {
    let out = session.run(&["--config", cfg, "check", "--json", "--no-notify"], "");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    json_of(&out)
}

/// A fresh password under the strict policy: 90 days, read from pwdChangedTime.
fn assert_fresh(json: &Value) {
    assert_eq!(json["state"], "ok", "{json}");
    let days = json["days_left"].as_i64().unwrap_or_default();
    assert!((89..=90).contains(&days), "{json}");
    assert_eq!(json["source"], "ldap_pwd_changed_time", "{json}");
}

#[test]
fn change_password_refusals_in_words_then_success_and_the_keyring_follows() {
    let s = changing_population(&["changer"]);
    let session = Session::start(Keyring::Unlocked);
    let cfg = change_config(&session, &s, "");
    let old = old_password("changer");
    let new = "Changer-New-pw2";
    let keyring = || session.keyring_lookup(SERVICE, "changer");
    let out = session.run(
        &[
            "--config",
            &cfg,
            "sign-in",
            "--user",
            "changer",
            "--password-stdin",
        ],
        &format!("{old}\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(check_json(&session, &cfg)["state"], "warning");

    // Too short: refused with the policy's reason and rule; the keyring keeps the old password.
    let out = change(&session, &cfg, "changer", [&old, "Sh0rt", "Sh0rt"]);
    let text = exited(&out, 1, &s);
    assert!(text.contains("The password was not changed"), "{text}");
    assert!(text.contains("it is too short"), "{text}");
    assert!(text.contains("at least 8 characters"), "{text}");
    assert_eq!(keyring().as_deref(), Some(old.as_str()));

    // The two entries differ: nothing is sent.
    let out = change(&session, &cfg, "changer", [&old, new, "something-else"]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("differ"), "{}", said(&out));

    // A good one: changed, and the keyring holds it at once.
    let out = change(&session, &cfg, "changer", [&old, new, new]);
    let text = exited(&out, 0, &s);
    assert!(text.contains("Password changed — good until "), "{text}");
    assert_eq!(keyring().as_deref(), Some(new));
    assert_fresh(&check_json(&session, &cfg));
    assert_eq!(
        keyring().as_deref(),
        Some(new),
        "the check kept the new password"
    );

    // Back to the old one: in the history.
    let out = change(&session, &cfg, "changer", [new, &old, &old]);
    let text = exited(&out, 1, &s);
    assert!(text.contains("it was used before"), "{text}");
    assert!(text.contains("not one of your last 3 passwords"), "{text}");

    // A wrong current password changes nothing either.
    let out = change(
        &session,
        &cfg,
        "changer",
        ["not-my-password", "Other-New-pw3", "Other-New-pw3"],
    );
    let text = exited(&out, 1, &s);
    assert!(text.contains("current password was not accepted"), "{text}");
    assert_eq!(keyring().as_deref(), Some(new));
    assert_fresh(&check_json(&session, &cfg));
    assert!(!text.contains(new) && !text.contains(&old), "{text}");
}

#[test]
fn change_password_too_soon_after_the_last_change_is_refused_with_the_rule() {
    let s = changing_population(&[]);
    s.add_user("young", "young-Old-pw1", Some("slow"));
    let session = Session::start(Keyring::Unlocked);
    let cfg = change_config(&session, &s, "");
    let out = change(
        &session,
        &cfg,
        "young",
        ["young-Old-pw1", "Young-New-pw2", "Young-New-pw2"],
    );
    let text = exited(&out, 1, &s);
    assert!(text.contains("changed too recently"), "{text}");
    assert!(text.contains("at most one change every 1 day"), "{text}");
    assert_eq!(session.keyring_lookup(SERVICE, "young"), None);
}

#[test]
fn change_password_in_the_dialog_asks_again_with_the_reason() {
    let s = changing_population(&["dialog"]);
    let session = Session::start(Keyring::Unlocked);
    let pinentry = FakePinentry::in_dir(&session.path("pinentry"), None);
    let old = old_password("dialog");
    let new = "Dialog-New-pw2";
    // First try too short; the dialog comes back with the reason; the second try is good.
    pinentry.set_replies(&[&old, "Sh0rt", &old, new]);
    session.write_system_config(&pinentry.config());
    let cfg = change_config(&session, &s, "");
    // No --password-stdin and no terminal: the desktop's dialog.
    let out = session.run(
        &["--config", &cfg, "change-password", "--user", "dialog"],
        "",
    );
    let text = said(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\npinentry:\n{}",
        pinentry.log()
    );
    assert!(text.contains("Password changed — good until "), "{text}");
    let log = pinentry.log();
    assert!(
        log.contains("SETERROR The new password was refused: it is too short"),
        "{log}"
    );
    assert!(log.contains("SETREPEAT "), "{log}");
    assert_eq!(log.matches("GETPIN").count(), 4, "{log}");
    assert!(!log.contains(new) && !log.contains(&old), "{log}");
    assert_eq!(
        session.keyring_lookup(SERVICE, "dialog").as_deref(),
        Some(new)
    );
    assert_fresh(&check_json(&session, &cfg));
}

/// The canary: with the most verbose logging, neither password reaches an output or a file.
#[test]
fn change_password_canary_passwords_reach_no_file_and_no_log() {
    let s = changing_population(&[]);
    let old = "Canary-Old-5e1b7c";
    let new = "Canary-New-9a4f2d";
    s.add_user("canary", old, Some("strict"));
    let session = Session::start(Keyring::Unlocked);
    let cfg = change_config(&session, &s, "");
    let traced = |args: &[&str], stdin: &str| {
        let mut command = session.command(support::BIN);
        command
            .args(["--config", &cfg])
            .args(args)
            .env("SIGNIN_ASSISTANT_LOG", "trace");
        support::run_to_end(command, stdin)
    };
    let lines = |a: &str, b: &str| format!("{a}\n{b}\n{b}\n");
    let outputs = [
        traced(
            &["sign-in", "--user", "canary", "--password-stdin"],
            &format!("{old}\n"),
        ),
        traced(&["change-password", "--password-stdin"], &lines(old, "x")),
        traced(&["change-password", "--password-stdin"], &lines(old, new)),
        traced(&["check", "--json", "--no-notify"], ""),
    ];
    assert_eq!(outputs[0].status.code(), Some(0), "{}", said(&outputs[0]));
    assert_eq!(outputs[1].status.code(), Some(1), "{}", said(&outputs[1]));
    assert_eq!(outputs[2].status.code(), Some(0), "{}", said(&outputs[2]));
    assert_eq!(json_of(&outputs[3])["state"], "ok", "{}", said(&outputs[3]));
    assert_eq!(
        session.keyring_lookup(SERVICE, "canary").as_deref(),
        Some(new)
    );
    for out in &outputs {
        let text = said(out);
        assert!(
            text.contains("TRACE") || text.contains("DEBUG"),
            "trace logging was on: {text}"
        );
        assert!(
            !text.contains(old) && !text.contains(new),
            "a password was printed:\n{text}"
        );
    }
    let files = session.all_files();
    assert!(files.iter().any(|p| p.ends_with("state.json")), "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(old) && !text.contains(new),
            "a password is in {}",
            path.display()
        );
    }
}

/// The product's one click for a directory account: the agent's warning balloon, clicked, opens
/// the change dialog; the directory and the keyring get the new password and one balloon says
/// until when it is good.
#[test]
fn the_agents_warning_clicked_changes_the_password_in_the_dialog() {
    let s = changing_population(&["clicker"]);
    let session = SessionBuilder::desktop().tray(false).start();
    let pinentry = FakePinentry::in_dir(&session.path("pinentry"), None);
    let old = old_password("clicker");
    let new = "Clicker-New-pw2";
    pinentry.set_replies(&[&old, new]);
    session.write_system_config(&pinentry.config());
    let cfg = change_config(&session, &s, "");
    let out = session.run(
        &[
            "--config",
            &cfg,
            "sign-in",
            "--user",
            "clicker",
            "--password-stdin",
        ],
        &format!("{old}\n"),
    );
    exited(&out, 0, &s);

    let agent = session.start_agent("agent", std::path::Path::new(&cfg), &["--no-tray"]);
    session.wait_displayed(1);
    session.dunst_action();
    session.wait_until("the new password in the keyring", || {
        session.keyring_lookup(SERVICE, "clicker").as_deref() == Some(new)
    });
    session.wait_until("the balloon that says so", || {
        session
            .dunst_summaries()
            .iter()
            .any(|t| t.starts_with("Password changed — good until "))
    });
    assert_eq!(
        pinentry.log().matches("GETPIN").count(),
        2,
        "{}",
        pinentry.log()
    );
    assert!(
        session.opened_urls().is_empty(),
        "no portal for a directory account"
    );
    let log = agent.log();
    assert!(log.contains("password changed"), "{log}");
    assert!(
        !log.contains(&old) && !log.contains(new),
        "a password reached the log: {log}"
    );
    agent.terminate(std::time::Duration::from_secs(5));
    assert_fresh(&check_json(&session, &cfg));
}

// ----- a kept password and a changed server -------------------------------------------------

/// Signed in at slapd (A), the configuration then names another directory server (B: a scripted
/// listener on loopback that notes every request and accepts any bind): the check sends B
/// nothing (no simple bind with the password in clear), forgets the password and asks for a
/// sign-in.
#[test]
fn a_password_kept_for_one_directory_is_never_sent_to_another() {
    let s = changing_population(&["mover"]);
    let session = Session::start(Keyring::Unlocked);
    let cfg = change_config(&session, &s, "");
    let password = old_password("mover");
    let out = session.run(
        &[
            "--config",
            &cfg,
            "sign-in",
            "--user",
            "mover",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    exited(&out, 0, &s);
    assert_eq!(
        session.keyring_lookup(SERVICE, "mover"),
        Some(password.clone())
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let port = runtime.block_on(support::fake_ldap::serve({
        let seen = seen.clone();
        move |req: &support::fake_ldap::Request| {
            seen.lock().unwrap().push(req.raw.clone());
            match req.op {
                0x60 => support::fake_ldap::message(
                    &req.id,
                    support::fake_ldap::result(0x61, 0, ""),
                    None,
                ),
                0x63 => support::fake_ldap::message(
                    &req.id,
                    support::fake_ldap::result(0x65, 0, ""),
                    None,
                ),
                _ => Vec::new(),
            }
        }
    }));
    let b = session.write_config(
        "config-b.toml",
        &format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"ldap://127.0.0.1:{port}\"\n\
             bind = \"{}\"\nbase = \"{}\"\nflavor = \"openldap\"\ntimeout_secs = 5\n",
            slapd::BIND_TEMPLATE,
            slapd::SUFFIX
        ),
    );
    let out = session.run(
        &[
            "--config",
            b.to_str().unwrap(),
            "check",
            "--json",
            "--no-notify",
        ],
        "",
    );
    let seen = seen.lock().unwrap().clone();
    let with_password = seen
        .iter()
        .filter(|raw| {
            raw.windows(password.len())
                .any(|w| w == password.as_bytes())
        })
        .count();
    assert_eq!(with_password, 0, "B received the password: {}", said(&out));
    assert!(seen.is_empty(), "B was asked {} times", seen.len());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let json = json_of(&out);
    assert_eq!(json["state"], "sign_in_required", "{json}");
    let reason = json["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the configured sign-in server changed"),
        "{json}"
    );
    assert_eq!(session.keyring_lookup(SERVICE, "mover"), None, "forgotten");
}
