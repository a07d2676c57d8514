//! The real binary against a real Active Directory: a Samba AD domain controller provisioned in a
//! temporary folder (see `support/samba.rs`). For every kind of AD account, `sign-in
//! --password-stdin` then `check --json`, over ldaps with the test CA as `ca_file`, binding with
//! the UPN; once with `flavor = "active-directory"` and once with `flavor = "auto"`.
//!
//! Then `change-password` on the same domain controller: the AD self-change of `unicodePwd`
//! refused for complexity and history with the reason, accepted with the keyring in step, and an
//! expired password changed through MIT kpasswd against Samba's KDC (with a canary on the child's
//! argv and environment, every file and the trace log).
//!
//! `setup` finds the domain controller through DNS SRV records (dnsmasq on loopback) and its
//! root DSE, and writes a configuration with which sign-in and check work.
//!
//! Then `[ldap] auth = "kerberos"`: checks with a ticket from kinit, no password anywhere
//! (`samba_ad/kerberos.rs`).
//!
//! Samba's ports are fixed (389, 636, 88, 464), so this file has a single test and one domain
//! controller. It needs root and the Samba packages, and krb5-user for kpasswd (the test fails,
//! with the install command, without them).

#[path = "samba_ad/kerberos.rs"]
mod kerberos;
mod support;

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::dnsmasq::Dnsmasq;
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
/// - mover: a strict PSO (complexity, 8 characters, 3 remembered) -> its password is changed
/// - lapsed: password set 70 days ago -> expired, changed with kpasswd
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
        ("mover", normal, false),
        ("lapsed", normal, false),
    ] {
        dc.add_user(name, &password(name), control, must_change);
    }
    dc.add_pso("ten-days", 1, days(10), 0, "warned");
    dc.add_pso("lock-at-once", 2, days(60), 1, "locked");
    dc.add_strict_pso("strict", 3, 8, "mover");
    for name in ["expired", "lapsed"] {
        dc.set_password_at(name, &password(name), Utc::now() - Duration::days(70));
    }
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
    setup_finds_the_domain_controller(&dc);
    change_with_ldap(&dc);
    change_expired_with_kpasswd(&dc);
    eprintln!("samba: passwords changed after {:?}", began.elapsed());
    kerberos::kerberos_checks(&dc);
    eprintln!("samba: Kerberos checks done after {:?}", began.elapsed());
}

// ----- setup ------------------------------------------------------------------------------

/// `setup` from the e-mail address alone: the domain controller from DNS (dnsmasq on loopback
/// answers `_ldap._tcp.dc._msdcs.example.test` with this machine), StartTLS with the test CA,
/// the base DN and the flavor from the root DSE; then sign-in and check work with what it wrote.
fn setup_finds_the_domain_controller(dc: &Samba) {
    let dns = Dnsmasq::start(&format!(
        "_ldap._tcp.dc._msdcs.{},{DC_HOST},{},0,100",
        samba::REALM,
        samba::LDAP_PORT
    ));
    let session = Session::start(Keyring::Unlocked);
    // No Entra tenant answers for the domain here.
    session.write_config(
        "etc/config.toml",
        "[entra]\nauthority = \"http://127.0.0.1:1\"\ntimeout_secs = 2\n",
    );
    let mut command = on_the_domains_network(&session);
    command
        .args(["setup", "--email", &upn("fresh"), "--ca-file"])
        .arg(&dc.ca_file)
        .args(["--dns-server", &format!("127.0.0.1:{}", dns.port)])
        .args(["--yes", "--no-autostart"])
        .env("SIGNIN_ASSISTANT_KRB5_CONF", session.path("no-krb5.conf"));
    let out = support::run_to_end(command, "");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}\n{}", stderr(&out));
    assert!(
        said.contains("Active Directory: domain example.test"),
        "{said}"
    );
    let written =
        std::fs::read_to_string(session.home().join(".config/signin-assistant/config.toml"))
            .unwrap();
    for line in [
        "url = \"ldap://dc1.example.test\"",
        "starttls = true",
        "base = \"DC=example,DC=test\"",
        "bind = \"{username}\"",
        "flavor = \"active-directory\"",
        "username = \"fresh@example.test\"",
    ] {
        assert!(written.contains(line), "{line}: {written}");
    }
    let mut sign_in = on_the_domains_network(&session);
    sign_in.args(["sign-in", "--password-stdin"]);
    let out = support::run_to_end(sign_in, &format!("{}\n", password("fresh")));
    assert_eq!(out.status.code(), Some(0), "{}", said_of(&out));
    let mut check = on_the_domains_network(&session);
    check.args(["check", "--json", "--no-notify"]);
    let out = support::run_to_end(check, "");
    assert_eq!(json_of(&out)["state"], "ok", "{}", said_of(&out));
}

/// The domain controller's name, under the domain as `setup` requires of what DNS names.
const DC_HOST: &str = "dc1.example.test";

/// The binary in a mount namespace of its own whose /etc/hosts names [`DC_HOST`] as this
/// computer, as a domain-joined machine's resolver would (the test runs as root, as Samba needs;
/// nothing outside the namespace sees the file).
fn on_the_domains_network(session: &Session) -> std::process::Command {
    let hosts = session.path("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n127.0.0.1 {DC_HOST}\n"),
    )
    .expect("write the namespace's hosts file");
    let mut command = session.command("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
        .arg(&hosts)
        .arg(support::BIN);
    command
}

fn said_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ----- change-password ----------------------------------------------------------------------

/// The config for the change tests: ldaps, the KDC on loopback, and `extra` `[ldap]` keys.
fn change_config(session: &Session, dc: &Samba, extra: &str) -> String {
    let file = session.write_config(
        "config.toml",
        &format!(
            "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind = \"{{username}}\"\nbase = \"{}\"\nflavor = \"auto\"\ntimeout_secs = 10\n\
             kdc = \"127.0.0.1\"\n{extra}",
            dc.ldaps_url(),
            dc.ca_file.display(),
            samba::BASE
        ),
    );
    file.to_str().unwrap().to_string()
}

/// `change-password --password-stdin` (current, new, new again), with extra environment.
fn change(
    session: &Session,
    cfg: &str,
    user: &str,
    current: &str,
    new: &str,
    env: &[(&str, &str)],
) -> Output {
    use std::io::Write;
    let mut command = session.command(support::BIN);
    command
        .args([
            "--config",
            cfg,
            "change-password",
            "--user",
            user,
            "--password-stdin",
        ])
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("start signin-assistant");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{current}\n{new}\n{new}\n").as_bytes())
        .unwrap();
    support::wait_with_timeout(child, std::time::Duration::from_secs(90))
}

fn check_json(session: &Session, cfg: &str, dc: &Samba) -> Value {
    let out = session.run(&["--config", cfg, "check", "--json", "--no-notify"], "");
    assert_eq!(out.status.code(), Some(0), "{}", said("check", &out, dc));
    json_of(&out)
}

/// A password just set under a 60-day policy.
fn assert_fresh(json: &Value) {
    assert_eq!(json["state"], "ok", "{json}");
    let days = json["days_left"].as_i64().unwrap_or_default();
    assert!((59..=60).contains(&days), "{json}");
}

/// The AD self-change over ldaps: complexity and history refused with Samba's reason, then a
/// good password, in the keyring at once, and the next check is ok.
fn change_with_ldap(dc: &Samba) {
    let session = Session::start(Keyring::Unlocked);
    let cfg = change_config(&session, dc, "");
    let user = upn("mover");
    let old = password("mover");
    let new = "Mover-New-Pass-2";
    let keyring = || session.keyring_lookup(SERVICE, &user);
    let out = sign_in(&session, &cfg, &user, &old);
    assert_eq!(out.status.code(), Some(0), "{}", said("mover", &out, dc));

    let out = change(&session, &cfg, &user, &old, "lowercaseletters", &[]);
    let text = said("mover: complexity", &out, dc);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("it is not complex enough"), "{text}");
    assert!(
        text.contains("does not meet the complexity criteria"),
        "{text}"
    );
    assert_eq!(keyring().as_deref(), Some(old.as_str()), "{text}");

    let out = change(&session, &cfg, &user, &old, new, &[]);
    let text = said("mover: change", &out, dc);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Password changed — good until "), "{text}");
    assert_eq!(keyring().as_deref(), Some(new), "{text}");
    let json = check_json(&session, &cfg, dc);
    assert_fresh(&json);
    assert_eq!(json["source"], "ad_computed_expiry", "{json}");

    let out = change(&session, &cfg, &user, new, &old, &[]);
    let text = said("mover: history", &out, dc);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("it was used before"), "{text}");
    assert_eq!(keyring().as_deref(), Some(new), "{text}");
    assert!(!text.contains(new) && !text.contains(&old), "{text}");
}

/// An expired password cannot bind; kpasswd changes it against Samba's KDC. kpasswd runs behind
/// a wrapper that records what the child got: argv and environment, from /proc. Everything
/// runs with trace logging, and neither password may appear anywhere.
fn change_expired_with_kpasswd(dc: &Samba) {
    support::require(&[("kpasswd", "krb5-user")]);
    let real = support::find_on_path("kpasswd").expect("kpasswd");
    let session = Session::start(Keyring::Unlocked);
    let record = session.path("kpasswd-record");
    std::fs::create_dir_all(&record).unwrap();
    let wrapper = session.path("bin/kpasswd-recorder");
    support::write_executable(
        &wrapper,
        &format!(
            "#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/cmdline > '{r}/argv'\n\
             tr '\\0' '\\n' < /proc/$$/environ > '{r}/environ'\nexec '{}' \"$@\"\n",
            real.display(),
            r = record.display()
        ),
    );
    // A kpasswd by path is the admins' to name.
    session.write_system_config(&format!("[ldap]\nkpasswd = \"{}\"\n", wrapper.display()));
    let cfg = change_config(&session, dc, "");
    let user = upn("lapsed");
    let old = password("lapsed");
    let new = "Lapsed-New-Pass-2";
    let trace = [("SIGNIN_ASSISTANT_LOG", "trace")];

    let out = sign_in(&session, &cfg, &user, &old);
    assert_eq!(out.status.code(), Some(0), "{}", said("lapsed", &out, dc));
    assert_eq!(check_json(&session, &cfg, dc)["state"], "expired");

    let out = change(&session, &cfg, &user, &old, new, &trace);
    let text = said("lapsed: kpasswd", &out, dc);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Password changed — good until "), "{text}");
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "trace logging was on: {text}"
    );
    assert!(
        text.contains("changing the password with kpasswd"),
        "{text}"
    );
    assert_eq!(
        session.keyring_lookup(SERVICE, &user).as_deref(),
        Some(new),
        "{text}"
    );
    assert_fresh(&check_json(&session, &cfg, dc));

    let argv = std::fs::read_to_string(record.join("argv")).expect("the wrapper ran");
    let environ = std::fs::read_to_string(record.join("environ")).unwrap();
    assert!(argv.ends_with("\nlapsed@EXAMPLE.TEST\n"), "{argv}");
    let names: Vec<&str> = environ
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    for name in &names {
        assert!(
            ["PATH", "LC_ALL", "KRB5CCNAME", "KRB5_CONFIG"].contains(name),
            "the child got {name} from the environment:\n{environ}"
        );
    }
    assert!(names.contains(&"KRB5_CONFIG"), "{environ}");
    for (what, text) in [
        ("argv", &argv),
        ("environment", &environ),
        ("output", &text),
    ] {
        assert!(
            !text.contains(new) && !text.contains(&old),
            "a password is in the child's {what}:\n{text}"
        );
    }
    for path in session.all_files() {
        assert_no_password(&path, &[&old, new]);
    }
}

fn assert_no_password(path: &Path, passwords: &[&str]) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    for password in passwords {
        assert!(
            !text.contains(password),
            "a password is in {}",
            path.display()
        );
    }
}
