//! A throwaway OpenLDAP server with the ppolicy overlay, for tests that talk real LDAP.
//!
//! Everything lives in one temporary folder: cn=config (built with `slapadd`), the mdb database,
//! a test CA and a server certificate for 127.0.0.1 (made with the `openssl` CLI), and slapd's log.
//! slapd listens on two free loopback ports (ldap:// with StartTLS, and ldaps://) and is killed
//! when the [`Slapd`] value is dropped. A missing slapd fails the test with the install command.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub const SUFFIX: &str = "dc=example,dc=com";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const POLICIES: &str = "ou=policies,dc=example,dc=com";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
/// The bind template for the users made by [`Slapd::add_user`].
pub const BIND_TEMPLATE: &str = "uid={username},ou=people,dc=example,dc=com";
const SLAPD: &str = "/usr/sbin/slapd";
const INSTALL: &str = "install with: apt-get install -y slapd ldap-utils";

/// A running slapd; dropped = killed.
pub struct Slapd {
    dir: tempfile::TempDir,
    child: Child,
    pub ldap_port: u16,
    pub ldaps_port: u16,
    /// PEM file of the CA that signed the server certificate.
    pub ca_file: PathBuf,
}

/// Fails the test (never skips it) when a tool the harness needs is missing.
pub fn require(program: &str, install: &str) -> PathBuf {
    let found = if program.contains('/') {
        Path::new(program).is_file().then(|| PathBuf::from(program))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(program))
                .find(|p| p.is_file())
        })
    };
    found.unwrap_or_else(|| panic!("{program} is missing; {install}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs a program to completion with `stdin`; panics with its output unless it succeeds.
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// LDAP GeneralizedTime.
pub fn generalized(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%SZ").to_string()
}

impl Slapd {
    /// Starts slapd with an empty `dc=example,dc=com` (people, policies, and the default policy
    /// `cn=default`: 90-day passwords, 14-day warning, lockout after 3 failures).
    pub fn start() -> Slapd {
        require(SLAPD, INSTALL);
        require("ldapmodify", INSTALL);
        require("openssl", "install with: apt-get install -y openssl");
        let dir = tempfile::Builder::new()
            .prefix("slapd-test")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("slapd.d")).unwrap();
        std::fs::create_dir_all(d.join("db")).unwrap();
        make_certificates(d);
        std::fs::write(d.join("rootpw"), "root-secret").unwrap();
        std::fs::write(d.join("config.ldif"), config_ldif(d)).unwrap();
        run(
            Command::new(SLAPD)
                .arg("-T")
                .arg("add")
                .args(["-n0", "-F"])
                .arg(d.join("slapd.d"))
                .arg("-l")
                .arg(d.join("config.ldif")),
            None,
        );
        let (ldap_port, ldaps_port) = (free_port(), free_port());
        let log = std::fs::File::create(d.join("slapd.log")).unwrap();
        let child = Command::new(SLAPD)
            .arg("-F")
            .arg(d.join("slapd.d"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
            ))
            .args(["-d", "256"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start slapd: {e}; {INSTALL}"));
        let slapd = Slapd {
            ca_file: d.join("ca.pem"),
            dir,
            child,
            ldap_port,
            ldaps_port,
        };
        slapd.wait_until_listening();
        slapd.modify(
            "add",
            &format!(
                "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
                 dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
                 dn: {POLICIES}\nobjectClass: organizationalUnit\nou: policies\n"
            ),
        );
        slapd.add_policy(
            "default",
            &[
                ("pwdMaxAge", "7776000"),
                ("pwdExpireWarning", "1209600"),
                ("pwdGraceAuthNLimit", "0"),
                ("pwdLockout", "TRUE"),
                ("pwdMaxFailure", "3"),
            ],
        );
        slapd
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [self.ldap_port, self.ldaps_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "slapd did not listen on {port}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// slapd's own log (stats level), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// `ldapadd` / `ldapmodify` as the root DN; `relax` lets it set operational attributes.
    fn ldapmodify(&self, ldif: &str, relax: bool, add: bool) {
        let mut cmd = Command::new("ldapmodify");
        cmd.args(["-x", "-H", &self.ldap_url(), "-D", ROOT_DN, "-y"])
            .arg(self.dir.path().join("rootpw"));
        if relax {
            cmd.args(["-e", "relax"]);
        }
        if add {
            cmd.arg("-a");
        }
        run(&mut cmd, Some(ldif));
    }

    fn modify(&self, kind: &str, ldif: &str) {
        self.ldapmodify(ldif, false, kind == "add");
    }

    /// A `pwdPolicy` entry `cn=NAME,ou=policies,...` with the given attributes.
    pub fn add_policy(&self, name: &str, attrs: &[(&str, &str)]) {
        let mut ldif = format!(
            "dn: cn={name},{POLICIES}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: {name}\npwdAttribute: userPassword\n"
        );
        for (k, v) in attrs {
            ldif.push_str(&format!("{k}: {v}\n"));
        }
        self.modify("add", &ldif);
    }

    /// A person `uid=UID,ou=people,...`, under `policy` (`cn=...,ou=policies`) or the default.
    pub fn add_user(&self, uid: &str, password: &str, policy: Option<&str>) {
        let mut ldif = format!(
            "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {password}\n"
        );
        if let Some(policy) = policy {
            ldif.push_str(&format!("pwdPolicySubentry: cn={policy},{POLICIES}\n"));
        }
        self.modify("add", &ldif);
    }

    /// Pretends the password was last changed at `at`.
    pub fn set_changed(&self, uid: &str, at: DateTime<Utc>) {
        self.ldapmodify(
            &format!(
                "dn: uid={uid},{PEOPLE}\nchangetype: modify\nreplace: pwdChangedTime\npwdChangedTime: {}\n",
                generalized(at)
            ),
            true,
            false,
        );
    }

    /// Locks the account until an administrator unlocks it.
    pub fn lock(&self, uid: &str) {
        self.ldapmodify(
            &format!(
                "dn: uid={uid},{PEOPLE}\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
            ),
            true,
            false,
        );
    }

    /// Marks the password as reset by an administrator (must be changed at next use).
    pub fn reset(&self, uid: &str) {
        self.ldapmodify(
            &format!(
                "dn: uid={uid},{PEOPLE}\nchangetype: modify\nreplace: pwdReset\npwdReset: TRUE\n"
            ),
            true,
            false,
        );
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 / localhost signed by it
/// (`server.pem`, key `server.key`), made in `d`.
pub fn make_certificates(d: &Path) {
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(d).args(args), None);
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=signin-assistant test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        d.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:dc1.example.test\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

fn config_ldif(d: &Path) -> String {
    let d = d.display();
    format!(
        "dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {d}/slapd.pid
olcArgsFile: {d}/slapd.args
olcTLSCACertificateFile: {d}/ca.pem
olcTLSCertificateFile: {d}/server.pem
olcTLSCertificateKeyFile: {d}/server.key

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * break

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {d}/db
olcSuffix: {SUFFIX}
olcRootDN: {ROOT_DN}
olcRootPW: root-secret
olcDbMaxSize: 104857600
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to dn.subtree=\"{POLICIES}\" by users read by * none
olcAccess: {{2}}to * by self read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,{POLICIES}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
"
    )
}
