//! A throwaway Samba Active Directory domain controller, for tests that talk to real AD.
//!
//! Everything lives in one temporary folder: `samba-tool domain provision --targetdir` writes the
//! domain `EXAMPLE.TEST` (smb.conf, sam.ldb, ...) there without touching /etc/samba or
//! /var/lib/samba, and the test CA and a server certificate for 127.0.0.1 (made with the `openssl`
//! CLI, as for slapd) are configured as Samba's TLS files: the certificate Samba generates by
//! itself has no subjectAltName, which rustls (rightly) refuses. Only the LDAP service and the
//! KDC (Kerberos, with its change-password service) run, in the foreground with one process, on
//! loopback.
//!
//! Samba's ports are fixed (LDAP 389 and 636, Kerberos 88 and 464): starting fails with a clear
//! message when another program holds them, and two [`Samba`] values must not run at once. Provisioning needs root
//! (it stores NT ACLs in `security.*` extended attributes). Samba reads its stdin and stops at
//! EOF, so it ends with the test process even when [`Drop`] never runs; it is also killed on drop.
//! Missing packages fail the test with the install command; nothing is skipped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::slapd::{make_certificates, require, run};
use base64::Engine;
use chrono::{DateTime, Utc};

pub const REALM: &str = "example.test";
pub const BASE: &str = "DC=example,DC=test";
pub const USERS: &str = "CN=Users,DC=example,DC=test";
const PSO_CONTAINER: &str = "CN=Password Settings Container,CN=System,DC=example,DC=test";
const ADMIN: &str = "Administrator@example.test";
const ADMIN_PASSWORD: &str = "Adm1n-Secret-Pass";
const SAMBA: &str = "/usr/sbin/samba";
/// samba-tool's interpreter: the Samba Python modules are installed for it.
const PYTHON: &str = "/usr/bin/python3";
const INSTALL: &str = "install with: apt-get install -y --no-install-recommends \
                       samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldap-utils openssl";
pub const LDAP_PORT: u16 = 389;
pub const LDAPS_PORT: u16 = 636;
pub const KDC_PORT: u16 = 88;
pub const KPASSWD_PORT: u16 = 464;
/// FILETIME and AD intervals count 100 ns ticks.
const TICKS_PER_SEC: i64 = 10_000_000;
const FILETIME_UNIX_OFFSET_SECS: i64 = 11_644_473_600;

/// `userAccountControl` values.
pub const UF_NORMAL_ACCOUNT: u32 = 0x200;
pub const UF_ACCOUNTDISABLE: u32 = 0x2;
pub const UF_DONT_EXPIRE_PASSWD: u32 = 0x10000;

/// A running Samba AD DC; dropped = killed.
pub struct Samba {
    dir: tempfile::TempDir,
    child: Child,
    /// Kept open: Samba stops when its stdin reaches EOF.
    stdin: Option<ChildStdin>,
    /// PEM file of the CA that signed the server certificate.
    pub ca_file: PathBuf,
    /// How long provisioning and starting took, for the test's report.
    pub provision_time: Duration,
    pub start_time: Duration,
}

/// Panics unless `port` on loopback is free (Samba's ports cannot be moved).
fn require_free_port(port: u16) {
    if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
        panic!(
            "127.0.0.1:{port} is not free ({e}); the Samba AD test needs ports {LDAP_PORT} and \
             {LDAPS_PORT} (LDAP) and {KDC_PORT} and {KPASSWD_PORT} (Kerberos) on loopback: stop the \
             program that holds it (e.g. `ss -ltnup | grep :{port}`)"
        );
    }
}

/// Panics unless a Samba library directory holds `relative` (a module of an optional package).
fn require_module(relative: &str, package: &str) {
    let mut roots = vec![
        PathBuf::from("/usr/lib/samba"),
        PathBuf::from("/usr/lib64/samba"),
    ];
    for entry in std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
    {
        roots.push(entry.path().join("samba"));
    }
    if !roots.iter().any(|r| r.join(relative).is_file()) {
        panic!("Samba's {relative} is missing (package {package}); {INSTALL}");
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// An instant as a FILETIME (100 ns ticks since 1601-01-01 UTC).
pub fn filetime(at: DateTime<Utc>) -> i64 {
    (at.timestamp() + FILETIME_UNIX_OFFSET_SECS) * TICKS_PER_SEC
}

/// A duration as an AD interval (`maxPwdAge`, `msDS-MaximumPasswordAge`): negative ticks.
pub fn interval(d: chrono::Duration) -> i64 {
    -d.num_seconds() * TICKS_PER_SEC
}

/// `unicodePwd` as LDIF wants it: the password in double quotes, UTF-16LE, base64.
fn unicode_pwd(password: &str) -> String {
    let utf16: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

impl Samba {
    /// Provisions `EXAMPLE.TEST` and starts its LDAP service on 127.0.0.1:389 and :636. The
    /// domain's own policy is left as provisioned (42-day passwords, complexity on, no lockout).
    pub fn start() -> Samba {
        assert!(
            is_root(),
            "the Samba AD test must run as root: provisioning a domain stores NT ACLs in \
             security.* extended attributes; run the tests as root"
        );
        require(SAMBA, INSTALL);
        require("samba-tool", INSTALL);
        require(PYTHON, INSTALL);
        require("ldapmodify", INSTALL);
        require("openssl", INSTALL);
        if !Path::new("/usr/share/samba/setup/ad-schema").is_dir() {
            panic!("Samba's AD schema is missing (package samba-ad-provision); {INSTALL}");
        }
        require_module("ldb/acl.so", "samba-dsdb-modules");
        require_module("vfs/acl_xattr.so", "samba-vfs-modules");
        for port in [LDAP_PORT, LDAPS_PORT, KDC_PORT, KPASSWD_PORT] {
            require_free_port(port);
        }

        let dir = tempfile::Builder::new()
            .prefix("samba-test")
            .tempdir()
            .unwrap();
        let d = dir.path();
        make_certificates(d);
        std::fs::create_dir_all(d.join("run")).unwrap();
        let began = Instant::now();
        let option = |o: String| format!("--option={o}");
        run(
            Command::new("samba-tool")
                .current_dir(d)
                .args([
                    "domain",
                    "provision",
                    "--server-role=dc",
                    "--dns-backend=NONE",
                ])
                .arg(format!("--realm={}", REALM.to_uppercase()))
                .args(["--domain=EXAMPLE", "--host-name=dc1"])
                .arg(format!("--adminpass={ADMIN_PASSWORD}"))
                .arg(format!("--targetdir={}", d.display()))
                .arg(option("netbios name = DC1".into()))
                .arg(option("interfaces = lo".into()))
                .arg(option("bind interfaces only = yes".into()))
                .arg(option("server services = ldap, kdc".into()))
                // Samba before 4.20 refuses a Kerberos bind over TLS without a SASL security
                // layer (as Active Directory and Samba 4.20 accept it) unless told so; it
                // refuses one with a layer over TLS in any case. Plain LDAP still needs a layer.
                .arg(option(
                    "ldap server require strong auth = allow_sasl_over_tls".into(),
                ))
                .arg(option(format!(
                    "pid directory = {}",
                    d.join("run").display()
                )))
                .arg(option(format!("log file = {}", d.join("log.%m").display())))
                .arg(option("tls enabled = yes".into()))
                .arg(option(format!(
                    "tls cafile = {}",
                    d.join("ca.pem").display()
                )))
                .arg(option(format!(
                    "tls certfile = {}",
                    d.join("server.pem").display()
                )))
                .arg(option(format!(
                    "tls keyfile = {}",
                    d.join("server.key").display()
                ))),
            None,
        );
        let provision_time = began.elapsed();

        let began = Instant::now();
        let log = std::fs::File::create(d.join("samba.log")).unwrap();
        let mut child = Command::new(SAMBA)
            .args(["--interactive", "--model=single", "--debuglevel=1"])
            .arg(format!("--configfile={}", d.join("etc/smb.conf").display()))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start samba: {e}; {INSTALL}"));
        let stdin = child.stdin.take();
        let mut samba = Samba {
            ca_file: d.join("ca.pem"),
            dir,
            child,
            stdin,
            provision_time,
            start_time: Duration::ZERO,
        };
        samba.wait_until_listening();
        samba.start_time = began.elapsed();
        samba
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [LDAP_PORT, LDAPS_PORT] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("samba exited ({status}) before listening:\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "samba did not listen on {port} within 30 s:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Samba's own log, for assertion messages.
    pub fn log(&self) -> String {
        let mut text =
            std::fs::read_to_string(self.dir.path().join("samba.log")).unwrap_or_default();
        if text.len() > 20_000 {
            text = text.split_off(text.len() - 20_000);
        }
        text
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ldap_url(&self) -> String {
        "ldap://127.0.0.1".into()
    }

    pub fn ldaps_url(&self) -> String {
        "ldaps://127.0.0.1".into()
    }

    /// `ldapmodify` as the domain Administrator over ldaps (Samba wants passwords set over TLS).
    pub fn modify(&self, ldif: &str) {
        run(
            Command::new("ldapmodify")
                .env("LDAPTLS_CACERT", &self.ca_file)
                .env("LDAPTLS_REQCERT", "demand")
                .args([
                    "-x",
                    "-H",
                    &self.ldaps_url(),
                    "-D",
                    ADMIN,
                    "-w",
                    ADMIN_PASSWORD,
                ]),
            Some(ldif),
        );
    }

    /// Sets the domain's password policy: maximum age `max_age`, no minimum age, no complexity
    /// rules, no lockout.
    pub fn set_domain_policy(&self, max_age: chrono::Duration) {
        self.modify(&format!(
            "dn: {BASE}\nchangetype: modify\nreplace: maxPwdAge\nmaxPwdAge: {}\n-\n\
             replace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdProperties\npwdProperties: 0\n-\n\
             replace: lockoutThreshold\nlockoutThreshold: 0\n",
            interval(max_age)
        ));
    }

    /// A user `CN=NAME,CN=Users,...` with the UPN `NAME@example.test`, the given
    /// `userAccountControl`, and the password set now, or to be changed at next logon
    /// (`pwdLastSet` = 0) when `must_change`.
    pub fn add_user(&self, name: &str, password: &str, account_control: u32, must_change: bool) {
        let mut ldif = format!(
            "dn: CN={name},{USERS}\nchangetype: add\nobjectClass: user\nsAMAccountName: {name}\n\
             userPrincipalName: {name}@{REALM}\nunicodePwd:: {}\nuserAccountControl: {account_control}\n",
            unicode_pwd(password)
        );
        if must_change {
            ldif.push_str("pwdLastSet: 0\n");
        }
        self.modify(&ldif);
    }

    /// A fine-grained password policy (PSO) for one user: maximum age `max_age`, and lockout
    /// after `lockout_threshold` bad passwords (0 = never) for 30 minutes.
    pub fn add_pso(
        &self,
        name: &str,
        precedence: u32,
        max_age: chrono::Duration,
        lockout_threshold: u32,
        user: &str,
    ) {
        let thirty_minutes = interval(chrono::Duration::minutes(30));
        self.modify(&format!(
            "dn: CN={name},{PSO_CONTAINER}\nchangetype: add\nobjectClass: msDS-PasswordSettings\n\
             msDS-PasswordSettingsPrecedence: {precedence}\n\
             msDS-PasswordReversibleEncryptionEnabled: FALSE\nmsDS-PasswordHistoryLength: 0\n\
             msDS-PasswordComplexityEnabled: FALSE\nmsDS-MinimumPasswordLength: 1\n\
             msDS-MinimumPasswordAge: 0\nmsDS-MaximumPasswordAge: {}\n\
             msDS-LockoutThreshold: {lockout_threshold}\n\
             msDS-LockoutObservationWindow: {thirty_minutes}\nmsDS-LockoutDuration: {thirty_minutes}\n\
             msDS-PSOAppliesTo: CN={user},{USERS}\n",
            interval(max_age)
        ));
    }

    /// A fine-grained password policy (PSO) for one user with the usual strict rules: complexity
    /// on, at least `min_length` characters, the last 3 passwords remembered, no minimum age,
    /// 60-day passwords, no lockout.
    pub fn add_strict_pso(&self, name: &str, precedence: u32, min_length: u32, user: &str) {
        let thirty_minutes = interval(chrono::Duration::minutes(30));
        self.modify(&format!(
            "dn: CN={name},{PSO_CONTAINER}\nchangetype: add\nobjectClass: msDS-PasswordSettings\n\
             msDS-PasswordSettingsPrecedence: {precedence}\n\
             msDS-PasswordReversibleEncryptionEnabled: FALSE\nmsDS-PasswordHistoryLength: 3\n\
             msDS-PasswordComplexityEnabled: TRUE\nmsDS-MinimumPasswordLength: {min_length}\n\
             msDS-MinimumPasswordAge: 0\nmsDS-MaximumPasswordAge: {}\n\
             msDS-LockoutThreshold: 0\n\
             msDS-LockoutObservationWindow: {thirty_minutes}\nmsDS-LockoutDuration: {thirty_minutes}\n\
             msDS-PSOAppliesTo: CN={user},{USERS}\n",
            interval(chrono::Duration::days(60))
        ));
    }

    /// Registers the DC's service principal names (`ldap/dc1.example.test` among them), as the
    /// DNS update service would, which does not run here: Kerberos binds to LDAP need them.
    pub fn register_spns(&self) {
        run(
            Command::new("samba_spnupdate").arg(format!(
                "--configfile={}",
                self.dir.path().join("etc/smb.conf").display()
            )),
            None,
        );
    }

    /// Sets the user's password again as if it had been set at `at`. Over LDAP `pwdLastSet` only
    /// takes 0 and -1, so this writes sam.ldb directly (Samba keeps running: ldb locks the file)
    /// with Samba's "bypass last set" control, which keeps the `pwdLastSet` given with the
    /// password.
    pub fn set_password_at(&self, name: &str, password: &str, at: DateTime<Utc>) {
        run(
            Command::new(PYTHON)
                .args(["-c", SET_PASSWORD_AT])
                .arg(self.dir.path().join("etc/smb.conf"))
                .arg(format!("CN={name},{USERS}"))
                .arg(filetime(at).to_string()),
            Some(password),
        );
    }
}

/// argv: smb.conf, user DN, pwdLastSet; stdin: the password.
const SET_PASSWORD_AT: &str = r#"
import sys
import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

conf, dn, last_set = sys.argv[1:4]
password = sys.stdin.read()
lp = LoadParm()
lp.load(conf)
db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
m = ldb.Message(ldb.Dn(db, dn))
m["unicodePwd"] = ldb.MessageElement(
    ('"%s"' % password).encode("utf-16-le"), ldb.FLAG_MOD_REPLACE, "unicodePwd")
m["pwdLastSet"] = ldb.MessageElement(last_set, ldb.FLAG_MOD_REPLACE, "pwdLastSet")
# DSDB_CONTROL_PASSWORD_BYPASS_LAST_SET_OID: keep the pwdLastSet given here.
db.modify(m, controls=["local_oid:1.3.6.1.4.1.7165.4.3.20:0"])
got = db.search(dn, scope=ldb.SCOPE_BASE, attrs=["pwdLastSet"])[0]["pwdLastSet"][0]
if str(got) != last_set:
    sys.exit("pwdLastSet is %s, not %s" % (got, last_set))
"#;

impl Drop for Samba {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
