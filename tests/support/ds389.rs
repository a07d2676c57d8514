//! A throwaway 389 Directory Server (Debian's `389-ds-base`), for tests that talk to the directory
//! FreeIPA and Red Hat Directory Server are built on.
//!
//! `dscreate ds-root` (the relocatable install) refuses to run as root, so the harness does what
//! it does by hand: it copies the server's data and configuration templates into a temporary
//! prefix, writes a private `defaults.inf` whose instance paths all point under it (no systemd,
//! the current user), lets the server listen on loopback only from its first start, and runs
//! `PREFIX=... dscreate from-file` (about 6 s here). The server then runs in the foreground as
//! this process's child (`ns-slapd -d 0`) and is killed on drop. The Directory Manager's password
//! is random and kept in a file of the prefix, which `ldapmodify`, `ldapsearch` and `dsconf` read
//! with `-y`. Creating a server takes seconds: a test binary starts one and shares it.
//!
//! The suffix `dc=example,dc=com` gets `ou=people`, whose people may read their own password
//! state (`passwordExpirationTime`, `pwdpolicysubentry`) and every signed-in user the local
//! password policies, and `ou=hidden`, whose people may read their entry but not its password
//! state. A missing package fails the test with the install command; nothing is skipped.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::slapd::{generalized, require, run};

pub const SUFFIX: &str = "dc=example,dc=com";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const HIDDEN: &str = "ou=hidden,dc=example,dc=com";
pub const MANAGER: &str = "cn=Directory Manager";
/// The bind template for the people of [`PEOPLE`].
pub const BIND_TEMPLATE: &str = "uid={username},ou=people,dc=example,dc=com";
const INSTANCE: &str = "test";
const NS_SLAPD: &str = "/usr/sbin/ns-slapd";
const INSTALL: &str =
    "install with: apt-get install -y --no-install-recommends 389-ds-base ldap-utils";

/// A running 389 Directory Server; dropped = killed.
pub struct Ds389 {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
    /// How long `dscreate` and the first start took, for the test's report.
    pub create_time: Duration,
}

impl Ds389 {
    /// Creates and starts a server with the suffix, `ou=people` and `ou=hidden` (see the module).
    pub fn start() -> Ds389 {
        for program in ["/usr/sbin/dscreate", "/usr/sbin/dsconf", NS_SLAPD] {
            require(program, INSTALL);
        }
        require("ldapmodify", INSTALL);
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("ds389-test")
            .tempdir()
            .unwrap();
        let prefix = dir.path();
        let port = free_port();
        make_prefix(prefix);
        let password: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        std::fs::write(prefix.join("manager.pw"), &password).unwrap();
        std::fs::write(prefix.join("instance.inf"), instance_inf(port, &password)).unwrap();
        run(
            Command::new("/usr/sbin/dscreate")
                .env("PREFIX", prefix)
                .arg("from-file")
                .arg(prefix.join("instance.inf")),
            None,
        );
        let config_dir = prefix.join(format!("etc/dirsrv/slapd-{INSTANCE}"));
        let child = Command::new(NS_SLAPD)
            .arg("-D")
            .arg(&config_dir)
            .arg("-i")
            .arg(prefix.join(format!("run/dirsrv/slapd-{INSTANCE}.pid")))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ns-slapd: {e}; {INSTALL}"));
        let mut server = Ds389 {
            dir,
            child,
            port,
            create_time: Duration::ZERO,
        };
        server.wait_until_listening();
        server.add_tree();
        server.create_time = started.elapsed();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("ns-slapd ended ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "ns-slapd did not listen on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn add_tree(&self) {
        let self_read = "(targetattr=\"objectClass || uid || cn || passwordExpirationTime || pwdpolicysubentry\")\
                         (version 3.0; acl \"Self read of the password state\"; allow (read, search, compare) userdn=\"ldap:///self\";)";
        let policies = "(targetattr=\"objectClass || cn || passwordExp || passwordMaxAge || passwordWarning || passwordGraceLimit\")\
                        (targetfilter=\"(objectClass=passwordPolicy)\")\
                        (version 3.0; acl \"Users read the local password policies\"; allow (read, search, compare) userdn=\"ldap:///all\";)";
        let entry_only = "(targetattr=\"objectClass || uid || cn\")\
                          (version 3.0; acl \"Self read of the entry only\"; allow (read, search, compare) userdn=\"ldap:///self\";)";
        self.ldapmodify(&format!(
            "dn: {PEOPLE}\nchangetype: add\nobjectClass: organizationalUnit\nou: people\naci: {self_read}\naci: {policies}\n\n\
             dn: {HIDDEN}\nchangetype: add\nobjectClass: organizationalUnit\nou: hidden\naci: {entry_only}\n"
        ));
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn password_file(&self) -> PathBuf {
        self.dir.path().join("manager.pw")
    }

    /// The server's error log and the end of its access log, for assertion messages.
    pub fn log(&self) -> String {
        let logs = self
            .dir
            .path()
            .join(format!("var/log/dirsrv/slapd-{INSTANCE}"));
        let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
        let access = read("access");
        let tail: Vec<&str> = access.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "errors:\n{}\naccess (end):\n{}",
            read("errors"),
            tail.join("\n")
        )
    }

    /// `dsconf` against this server as the Directory Manager.
    pub fn dsconf(&self, args: &[&str]) -> String {
        run(
            Command::new("/usr/sbin/dsconf")
                .env("PREFIX", self.dir.path())
                .args(["-D", MANAGER, "-y"])
                .arg(self.password_file())
                .arg(self.ldap_url())
                .args(args),
            None,
        )
    }

    /// `ldapmodify` as the Directory Manager (LDIF with `changetype`).
    pub fn ldapmodify(&self, ldif: &str) {
        let mut cmd = Command::new("ldapmodify");
        cmd.args(["-x", "-H", &self.ldap_url(), "-D", MANAGER, "-y"])
            .arg(self.password_file());
        run(&mut cmd, Some(ldif));
    }

    /// One attribute of an entry as the Directory Manager sees it.
    pub fn attribute(&self, dn: &str, name: &str) -> Option<String> {
        let mut cmd = Command::new("ldapsearch");
        cmd.args([
            "-x",
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-H",
            &self.ldap_url(),
            "-D",
            MANAGER,
            "-y",
        ])
        .arg(self.password_file())
        .args(["-b", dn, "-s", "base", "(objectClass=*)", name]);
        let out = run(&mut cmd, None);
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        out.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].to_string())
    }

    /// A person `uid=UID` under `ou` ([`PEOPLE`] or [`HIDDEN`]); the server stamps its
    /// `passwordExpirationTime` from the global policy in force.
    pub fn add_user(&self, ou: &str, uid: &str, password: &str) {
        self.ldapmodify(&format!(
            "dn: uid={uid},{ou}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {password}\n"
        ));
    }

    /// Sets the person's `passwordExpirationTime`, and whether the server already gave its one
    /// warning (`passwordExpWarned`: without it, the first bind inside the server's warning
    /// window moves the deadline to now + the window).
    pub fn set_expiration(&self, dn: &str, at: DateTime<Utc>, warned: bool) {
        self.ldapmodify(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: passwordExpirationTime\npasswordExpirationTime: {}\n-\nreplace: passwordExpWarned\npasswordExpWarned: {}\n",
            generalized(at),
            u8::from(warned)
        ));
    }
}

impl Drop for Ds389 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The private prefix: the server's data and configuration templates, a `defaults.inf` that puts
/// every instance path under `prefix`, and a template that listens on loopback only.
fn make_prefix(prefix: &Path) {
    copy_tree(Path::new("/usr/share/dirsrv"), &prefix.join("share/dirsrv"));
    for part in ["config", "schema"] {
        copy_tree(
            &Path::new("/etc/dirsrv").join(part),
            &prefix.join("etc/dirsrv").join(part),
        );
    }
    std::fs::create_dir_all(prefix.join("tmp")).unwrap();
    let inf = prefix.join("share/dirsrv/inf/defaults.inf");
    let defaults = std::fs::read_to_string(&inf).unwrap();
    std::fs::write(&inf, private_defaults(&defaults, prefix)).unwrap();
    let template = prefix.join("share/dirsrv/data/template-dse.ldif");
    let dse = std::fs::read_to_string(&template).unwrap();
    let first = "dn: cn=config\n";
    assert!(dse.starts_with(first), "unexpected {}", template.display());
    let listening = dse.replacen(first, &format!("{first}nsslapd-listenhost: 127.0.0.1\n"), 1);
    std::fs::write(&template, listening).unwrap();
}

/// The system's `defaults.inf` with every absolute path moved under `prefix`, no systemd or
/// SELinux, and the current user; the programs, libraries and plugins stay the system's.
fn private_defaults(defaults: &str, prefix: &Path) -> String {
    const SYSTEM: [&str; 4] = ["bin_dir", "sbin_dir", "lib_dir", "plugin_dir"];
    let p = prefix.display().to_string();
    let id = |flag: &str| run(Command::new("id").arg(flag), None).trim().to_string();
    let overrides = [
        ("with_systemd", "0".to_string()),
        ("with_selinux", "no".to_string()),
        ("user", id("-un")),
        ("group", id("-gn")),
        ("prefix", p.clone()),
        ("data_dir", format!("{p}/share")),
        ("system_schema_dir", format!("{p}/share/dirsrv/schema")),
        ("inst_dir", format!("{p}/lib/slapd-{{instance_name}}")),
    ];
    let line = |line: &str| {
        let Some((key, value)) = line.split_once(" = ") else {
            return line.to_string();
        };
        match overrides.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => format!("{key} = {v}"),
            None if value.starts_with('/') && !SYSTEM.contains(&key) => {
                format!("{key} = {p}{value}")
            }
            None => line.to_string(),
        }
    };
    defaults.lines().map(line).collect::<Vec<_>>().join("\n") + "\n"
}

/// The `[general]`, `[slapd]` and `[backend-userroot]` of `dscreate from-file`.
fn instance_inf(port: u16, password: &str) -> String {
    format!(
        "[general]\nconfig_version = 2\nsystemd = False\nstart = False\nstrict_host_checking = False\n\n\
         [slapd]\ninstance_name = {INSTANCE}\nport = {port}\nsecure_port = 0\nroot_password = {password}\n\
         self_sign_cert = False\n\n\
         [backend-userroot]\nsuffix = {SUFFIX}\ncreate_suffix_entry = True\n"
    )
}

/// `cp -r FROM TO`, TO's parents made.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    run(Command::new("cp").arg("-r").arg(from).arg(to), None);
}
