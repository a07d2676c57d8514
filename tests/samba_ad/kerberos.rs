//! `[ldap] auth = "kerberos"` against the Samba domain controller: `kinit` (the password on its
//! standard input) into a private FILE ticket cache or DIR collection (`KRB5CCNAME`) with a
//! private krb5.conf
//! (`KRB5_CONFIG`: the KDC on loopback, no reverse DNS, no canonicalisation), then `check
//! --json` without any sign-in, over plain LDAP on port 389 (the bind seals the connection),
//! StartTLS and ldaps (no security layer, channel binding). The DC is reached as
//! dc1.example.test, its name in the namespace's hosts file, so the service principal is
//! `ldap/dc1.example.test@EXAMPLE.TEST`. No ticket, an expired ticket, and an account whose
//! password must change (kinit gets KDC_ERR_KEY_EXPIRED) are a reason to sign in. Nothing is
//! kept in the keyring, and no file holds a password.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Instant;

use chrono::Duration;
use serde_json::Value;

use super::support::samba::{self, Samba, UF_DONT_EXPIRE_PASSWD, UF_NORMAL_ACCOUNT};
use super::support::{self, json_of, Keyring, Session};
use super::{on_the_domains_network, password, said, said_of, DC_HOST, SERVICE};

const REALM: &str = "EXAMPLE.TEST";

/// The Kerberos accounts: one whose password expires in 12 days (a PSO), one whose password
/// never expires, one that must change its password at the next logon.
fn kerberos_users(dc: &Samba) {
    let days = |n: i64| Duration::days(n) + Duration::hours(1);
    dc.add_user("krbwarn", &password("krbwarn"), UF_NORMAL_ACCOUNT, false);
    dc.add_pso("twelve-days", 4, days(12), 0, "krbwarn");
    let never = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD;
    dc.add_user("krbnever", &password("krbnever"), never, false);
    dc.add_user("krbreset", &password("krbreset"), UF_NORMAL_ACCOUNT, true);
    dc.register_spns();
}

/// A person's Kerberos environment in `session`: a krb5.conf for the test realm and a FILE
/// ticket cache of their own.
struct Tickets<'a> {
    session: &'a Session,
    krb5_conf: PathBuf,
    /// `KRB5CCNAME`: `FILE:path`, or `DIR:path` for a collection of caches.
    cache: String,
}

impl<'a> Tickets<'a> {
    fn new(session: &'a Session, name: &str) -> Tickets<'a> {
        let krb5_conf = session.path("krb5.conf");
        std::fs::write(
            &krb5_conf,
            format!(
                "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_kdc = false\n\
                 \tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n\
                 [realms]\n\t{REALM} = {{\n\t\tkdc = 127.0.0.1\n\t}}\n\
                 [domain_realm]\n\t.{} = {REALM}\n",
                samba::REALM
            ),
        )
        .unwrap();
        Tickets {
            session,
            krb5_conf,
            cache: format!("FILE:{}", session.path(format!("ccache-{name}")).display()),
        }
    }

    /// A DIR collection: one cache per principal, as sssd and `kinit` keep them.
    fn collection(session: &'a Session) -> Tickets<'a> {
        let dir = session.path("ccache-dir");
        std::fs::create_dir_all(&dir).unwrap();
        Tickets {
            cache: format!("DIR:{}", dir.display()),
            ..Tickets::new(session, "unused")
        }
    }

    fn env(&self, command: &mut Command) {
        command
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5CCNAME", &self.cache);
    }

    /// `kinit` with the password on standard input (and `extra` options).
    fn kinit(&self, principal: &str, password: &str, extra: &[&str]) -> Output {
        let mut kinit = self.session.command("kinit");
        self.env(&mut kinit);
        kinit.args(extra).arg(principal);
        support::run_to_end(kinit, &format!("{password}\n"))
    }

    /// `check --json --no-notify` with `config`, on the domain's network.
    fn check(&self, config: &str) -> Output {
        let mut check = on_the_domains_network(self.session);
        self.env(&mut check);
        check.args(["--config", config, "check", "--json", "--no-notify"]);
        support::run_to_end(check, "")
    }
}

/// The `[ldap]` table for one transport, with Kerberos and `extra` lines.
fn config(session: &Session, dc: &Samba, transport: &str, extra: &str) -> String {
    config_at(session, dc, DC_HOST, transport, extra)
}

/// As [`config`], with the DC named `host` in the URL.
fn config_at(session: &Session, dc: &Samba, host: &str, transport: &str, extra: &str) -> String {
    let (url, starttls) = match transport {
        "ldap" => (format!("ldap://{host}"), false),
        "starttls" => (format!("ldap://{host}"), true),
        _ => (format!("ldaps://{host}"), false),
    };
    let file = session.write_config(
        "config.toml",
        &format!(
            "{extra}[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"{url}\"\nstarttls = {starttls}\n\
             ca_file = \"{}\"\nbase = \"{}\"\nauth = \"kerberos\"\nflavor = \"auto\"\n\
             timeout_secs = 10\n",
            dc.ca_file.display(),
            samba::BASE
        ),
    );
    file.to_str().unwrap().to_string()
}

/// Nothing in the keyring for `account`, and no file of the session holds `password`.
fn assert_nothing_kept(session: &Session, account: &str, password: &str, who: &str) {
    assert_eq!(
        session.keyring_lookup(SERVICE, account),
        None,
        "{who}: a secret was kept"
    );
    for file in session.all_files() {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(password),
            "{who}: {} holds the password",
            file.display()
        );
    }
}

pub fn kerberos_checks(dc: &Samba) {
    support::require(&[("kinit", "krb5-user")]);
    kerberos_users(dc);
    for transport in ["ldap", "starttls", "ldaps"] {
        expiry_with_a_ticket(dc, transport);
    }
    never_expires_with_a_ticket(dc);
    no_ticket_is_a_reason_to_sign_in(dc);
    must_change_gets_no_ticket(dc);
    an_unknown_server_is_named(dc);
    latency(dc);
}

/// The PSO's 12 days, read with the ticket alone; the account is the ticket's principal.
fn expiry_with_a_ticket(dc: &Samba, transport: &str) {
    let who = format!("krbwarn over {transport}");
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::new(&session, "krbwarn");
    let secret = password("krbwarn");
    let principal = format!("krbwarn@{REALM}");
    let out = tickets.kinit(&principal, &secret, &[]);
    assert_eq!(out.status.code(), Some(0), "kinit: {}", said_of(&out));
    let cfg = config(&session, dc, transport, "");
    let began = Instant::now();
    let out = tickets.check(&cfg);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", said(&who, &out, dc));
    let json: Value = json_of(&out);
    eprintln!("samba: {who}: one Kerberos check in {took:?}: {json}");
    assert_eq!(json["account"], principal.as_str(), "{who}: {json}");
    assert_eq!(json["state"], "warning", "{who}: {json}");
    assert_eq!(json["days_left"].as_i64(), Some(12), "{who}: {json}");
    assert_eq!(json["source"], "ad_computed_expiry", "{who}: {json}");
    if transport == "ldap" {
        let mut doctor = on_the_domains_network(&session);
        tickets.env(&mut doctor);
        doctor.args(["--config", &cfg, "doctor"]);
        let text = said_of(&support::run_to_end(doctor, ""));
        let line = format!("a Kerberos ticket for {principal}, valid for ");
        assert!(text.contains(&line), "doctor: {text}");
        assert!(
            text.contains("the Kerberos bind will seal it"),
            "doctor: {text}"
        );
    }
    assert_nothing_kept(&session, &principal, &secret, &who);
}

/// DONT_EXPIRE_PASSWORD, found for the configured UPN (`krbnever@example.test` maps to the
/// principal `krbnever@EXAMPLE.TEST`) in a DIR collection whose default cache is another
/// principal's (krbwarn's, got last).
fn never_expires_with_a_ticket(dc: &Samba) {
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::collection(&session);
    let secret = password("krbnever");
    for (name, secret) in [("krbnever", &secret), ("krbwarn", &password("krbwarn"))] {
        let out = tickets.kinit(&format!("{name}@{REALM}"), secret, &[]);
        assert_eq!(out.status.code(), Some(0), "kinit: {}", said_of(&out));
    }
    let upn = format!("krbnever@{}", samba::REALM);
    let account = format!("[account]\nusername = \"{upn}\"\n\n");
    let cfg = config(&session, dc, "ldap", &account);
    let out = tickets.check(&cfg);
    assert_eq!(out.status.code(), Some(0), "{}", said("krbnever", &out, dc));
    let json: Value = json_of(&out);
    assert_eq!(json["account"], upn.as_str(), "{json}");
    assert_eq!(json["state"], "never_expires", "{json}");
    assert_eq!(json["source"], "ad_account_control", "{json}");
    // There is no password to sign in with: `sign-in` says so and sends and keeps nothing.
    let mut sign_in = on_the_domains_network(&session);
    tickets.env(&mut sign_in);
    sign_in.args(["--config", &cfg, "sign-in", "--password-stdin"]);
    let out = support::run_to_end(sign_in, &format!("{secret}\n"));
    let text = said_of(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no password to sign in with"), "{text}");
    assert_nothing_kept(&session, &upn, &secret, "krbnever");
}

/// No ticket cache at all, then an expired ticket: `sign_in_required`, saying how to get one.
fn no_ticket_is_a_reason_to_sign_in(dc: &Samba) {
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::new(&session, "krbwarn");
    let upn = format!("krbwarn@{}", samba::REALM);
    let account = format!("[account]\nusername = \"{upn}\"\n\n");
    let cfg = config(&session, dc, "ldaps", &account);
    let assert_sign_in = |what: &str| {
        let out = tickets.check(&cfg);
        let json: Value = json_of(&out);
        assert_eq!(json["state"], "sign_in_required", "{what}: {json}");
        let reason = json["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("Kerberos ticket"), "{what}: {json}");
        assert!(reason.contains("kinit"), "{what}: {json}");
        eprintln!("samba: {what}: {json}");
    };
    assert_sign_in("no ticket cache");
    let out = tickets.kinit(
        &format!("krbwarn@{REALM}"),
        &password("krbwarn"),
        &["-l", "3s"],
    );
    assert_eq!(out.status.code(), Some(0), "kinit: {}", said_of(&out));
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert_sign_in("an expired ticket");
    assert_nothing_kept(&session, &upn, &password("krbwarn"), "no ticket");
}

/// An account whose password must change at the next logon gets no ticket: kinit fails (the
/// KDC answers KDC_ERR_KEY_EXPIRED and kinit then asks for a new password, which it cannot
/// read), so the check finds no ticket.
fn must_change_gets_no_ticket(dc: &Samba) {
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::new(&session, "krbreset");
    let out = tickets.kinit(&format!("krbreset@{REALM}"), &password("krbreset"), &[]);
    let kinit = said_of(&out);
    assert_ne!(out.status.code(), Some(0), "kinit: {kinit}");
    assert!(kinit.contains("expired"), "kinit: {kinit}");
    eprintln!("samba: kinit of a must-change account: {}", kinit.trim());
    let upn = format!("krbreset@{}", samba::REALM);
    let account = format!("[account]\nusername = \"{upn}\"\n\n");
    let cfg = config(&session, dc, "ldap", &account);
    let out = tickets.check(&cfg);
    let json: Value = json_of(&out);
    eprintln!("samba: check of a must-change account without a ticket: {json}");
    assert_eq!(json["state"], "sign_in_required", "{json}");
}

/// A host the KDC has no service principal for (`localhost`, which the namespace maps to the
/// DC too): an error that names the principal it asked for.
fn an_unknown_server_is_named(dc: &Samba) {
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::new(&session, "krbwarn");
    let out = tickets.kinit(&format!("krbwarn@{REALM}"), &password("krbwarn"), &[]);
    assert_eq!(out.status.code(), Some(0), "kinit: {}", said_of(&out));
    let cfg = config_at(&session, dc, "localhost", "ldaps", "");
    let out = tickets.check(&cfg);
    let text = said("unknown service", &out, dc);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("with Kerberos failed: the Kerberos server does not know the directory's service principal ldap/localhost@EXAMPLE.TEST"),
        "{text}"
    );
    eprintln!(
        "samba: an unknown service principal: {}",
        json_of(&out)["reason"]
    );
}

/// The time of `runs` checks in a row with the ticket and with a kept password, against the
/// same DC (each run is a process of its own, as the agent's periodic check is a bind of its own).
fn latency(dc: &Samba) {
    const RUNS: u32 = 10;
    let session = Session::start(Keyring::Unlocked);
    let tickets = Tickets::new(&session, "krbwarn");
    let secret = password("krbwarn");
    let out = tickets.kinit(&format!("krbwarn@{REALM}"), &secret, &[]);
    assert_eq!(out.status.code(), Some(0), "kinit: {}", said_of(&out));
    let upn = format!("krbwarn@{}", samba::REALM);
    let account = format!("[account]\nusername = \"{upn}\"\n\n");
    let mut timings = Vec::new();
    for (what, transport, password_bind) in [
        ("Kerberos, ldap:// sealed", "ldap", false),
        ("Kerberos, ldaps://", "ldaps", false),
        ("password, ldaps://", "ldaps", true),
    ] {
        let mut cfg = config(&session, dc, transport, &account);
        if password_bind {
            let text = std::fs::read_to_string(&cfg).unwrap().replace(
                "auth = \"kerberos\"",
                "auth = \"password\"\nbind = \"{username}\"",
            );
            cfg = session
                .write_config("password.toml", &text)
                .display()
                .to_string();
            let mut sign_in = on_the_domains_network(&session);
            sign_in.args(["--config", &cfg, "sign-in", "--password-stdin"]);
            let out = support::run_to_end(sign_in, &format!("{secret}\n"));
            assert_eq!(out.status.code(), Some(0), "{}", said(what, &out, dc));
        }
        let began = Instant::now();
        for _ in 0..RUNS {
            let out = tickets.check(&cfg);
            assert_eq!(json_of(&out)["days_left"].as_i64(), Some(12), "{what}");
        }
        timings.push(format!("{what}: {:?}", began.elapsed() / RUNS));
    }
    eprintln!("samba: one check --json on average: {}", timings.join("; "));
}
