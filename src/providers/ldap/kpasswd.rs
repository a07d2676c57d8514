//! Changing an expired Active Directory password with Kerberos's change-password protocol
//! (RFC 3244), through MIT Kerberos's `kpasswd` run as a child process.
//!
//! An expired (or reset, "must change") AD password can no longer bind over LDAP (data 532/773),
//! but every domain controller's KDC accepts it for a ticket to `kadmin/changepw`, which is how
//! Windows changes it at the logon screen. No Rust Kerberos client was found sound enough to carry
//! a person's password (the candidates are young or pin pre-release cryptography crates), so the
//! well-known `kpasswd` does the protocol. The passwords go to it only on its standard input (a
//! pipe): never argv, never the environment, which is cleared for the child. Its output (prompts
//! and the KDC's answer, never a password) is read to tell what happened.
//!
//! The rules here are pure where they can be (principal, realm, the generated krb5.conf, what the
//! output means) and unit-tested; [`change`] runs the program.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use zeroize::Zeroizing;

use crate::system::config::{Config, ConfigError};
use crate::system::credentials::Secret;
use crate::system::programs;

/// Largest output read from kpasswd (its prompts and one answer are a few hundred bytes).
const MAX_OUTPUT: u64 = 64 * 1024;
/// The PATH of the child (it may be a wrapper script); nothing of the caller's environment.
const CHILD_PATH: &str = "/usr/bin:/bin";

/// How to reach the KDC, from the `[ldap]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The realm, in capitals; `None` when it could not be derived (then the change says so).
    pub realm: Option<String>,
    /// `host` or `host:port`; `None`: the system's Kerberos configuration decides.
    pub kdc: Option<String>,
    /// The program: a name on PATH (its absolute entries) or an absolute path.
    pub program: String,
}

impl Settings {
    /// Checks `kerberos_realm`, `kdc` and `kpasswd`; the realm defaults to the DC= parts of `base`.
    pub fn from_config(config: &Config) -> Result<Settings, ConfigError> {
        let ldap = &config.ldap;
        let realm = match ldap.kerberos_realm.as_deref().map(str::trim) {
            Some(realm) => {
                if !is_realm(realm) {
                    return Err(config.error_at(
                        "ldap.kerberos_realm",
                        "must be a realm name such as \"CORP.EXAMPLE.COM\" (letters, digits, dots and dashes)",
                    ));
                }
                Some(realm.to_ascii_uppercase())
            }
            None => ldap.base.as_deref().and_then(realm_from_base),
        };
        let kdc = match ldap.kdc.as_deref().map(str::trim) {
            Some(kdc) if is_host_and_port(kdc) => Some(kdc.to_string()),
            Some(_) => return Err(config.error_at(
                "ldap.kdc",
                "must be a host name or address, optionally with :port (e.g. \"dc1.example.com\")",
            )),
            None => None,
        };
        let program = ldap.kpasswd.trim();
        if program.is_empty() || program.chars().any(char::is_control) {
            return Err(config.error_at("ldap.kpasswd", "must name the kpasswd program"));
        }
        Ok(Settings {
            realm,
            kdc,
            program: program.to_string(),
        })
    }
}

/// What kpasswd reported, in terms the caller maps to its own words. Never holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KpasswdError {
    #[error("the Kerberos change-password program `{0}` was not found: install MIT Kerberos's kpasswd (apt-get install krb5-user, or dnf install krb5-workstation), or set [ldap] kpasswd")]
    NotInstalled(String),
    #[error("could not run `{program}`: {detail}")]
    Spawn { program: String, detail: String },
    #[error("no Kerberos realm is known: set [ldap] kerberos_realm (e.g. \"CORP.EXAMPLE.COM\")")]
    NoRealm,
    #[error("`{0}` is not a name Kerberos can change the password of")]
    BadName(String),
    /// The current password was not accepted.
    #[error("the current password was not accepted")]
    WrongCurrent,
    /// The KDC refused the new password; its own words.
    #[error("the domain refused the new password: {0}")]
    Refused(String),
    /// The KDC refused the account (locked, disabled, unknown).
    #[error("{0}")]
    Account(String),
    #[error("could not reach the Kerberos server: {0}")]
    Unreachable(String),
    /// It did not finish in time: the change may or may not have happened.
    #[error("kpasswd did not finish within {0} s")]
    Timeout(u64),
    #[error("kpasswd failed: {0}")]
    Failed(String),
}

/// The realm from the DC= parts of a base DN: `OU=x,DC=corp,DC=example,DC=com` → `CORP.EXAMPLE.COM`.
pub fn realm_from_base(base: &str) -> Option<String> {
    let parts: Vec<String> = base
        .split(',')
        .filter_map(|rdn| {
            let (kind, value) = rdn.split_once('=')?;
            kind.trim()
                .eq_ignore_ascii_case("dc")
                .then(|| value.trim().to_ascii_uppercase())
        })
        .collect();
    let realm = parts.join(".");
    (!parts.is_empty() && is_realm(&realm)).then_some(realm)
}

/// The principal for the account: the name part of `EXAMPLE\name`, `name@upn.suffix` or `name`,
/// at `realm`. (AD finds a principal by its sAMAccountName, usually the UPN's name part.)
pub fn principal(account: &str, realm: &str) -> Result<String, KpasswdError> {
    let name = account.trim();
    let name = name.rsplit_once('\\').map_or(name, |(_, n)| n);
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    let allowed = |c: char| !(c.is_control() || c.is_whitespace() || matches!(c, '/' | '@' | '\\'));
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(KpasswdError::BadName(account.to_string()));
    }
    Ok(format!("{name}@{realm}"))
}

fn is_realm(realm: &str) -> bool {
    !realm.is_empty()
        && realm.len() <= 255
        && realm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`: nothing that could break out of a krb5.conf line.
fn is_host_and_port(text: &str) -> bool {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, after)) if v6.parse::<std::net::Ipv6Addr>().is_ok() => {
                (v6, after.strip_prefix(':'))
            }
            _ => return false,
        },
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (text.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    host_ok && port_ok
}

/// The host part of `host[:port]` (the change-password service has its own port, 464).
fn host_only(kdc: &str) -> &str {
    if kdc.starts_with('[') {
        return kdc
            .split_once(']')
            .map_or(kdc, |(h, _)| &kdc[..h.len() + 1]);
    }
    kdc.rsplit_once(':').map_or(kdc, |(h, _)| h)
}

/// A krb5.conf that sends everything for `realm` to `kdc`, without DNS lookups.
pub fn krb5_conf(realm: &str, kdc: &str) -> String {
    format!(
        "[libdefaults]\n\tdefault_realm = {realm}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\
         \trdns = false\n\tdns_canonicalize_hostname = false\n\n[realms]\n\t{realm} = {{\n\
         \t\tkdc = {kdc}\n\t\tkpasswd_server = {}\n\t}}\n",
        host_only(kdc)
    )
}

/// What kpasswd's exit status and output (stdout and stderr together) mean.
pub fn interpret(success: bool, output: &str) -> Result<(), KpasswdError> {
    if let Some(at) = output.find("Password change rejected:") {
        let rest = &output[at + "Password change rejected:".len()..];
        return Err(KpasswdError::Refused(clean(
            rest.lines().next().unwrap_or(""),
        )));
    }
    if success {
        return Ok(());
    }
    let said = |s: &str| output.contains(s);
    if said("Password incorrect") || said("Preauthentication failed") {
        return Err(KpasswdError::WrongCurrent);
    }
    if said("credentials have been revoked") {
        return Err(KpasswdError::Account(
            "the domain says the account is locked or disabled; ask your IT desk".into(),
        ));
    }
    if said("not found in Kerberos database") {
        return Err(KpasswdError::Account(
            "the domain's Kerberos server does not know this account; check [ldap] kerberos_realm"
                .into(),
        ));
    }
    if said("Cannot contact any KDC")
        || said("Cannot find KDC")
        || said("Cannot resolve network address")
    {
        return Err(KpasswdError::Unreachable(last_words(output)));
    }
    Err(KpasswdError::Failed(last_words(output)))
}

/// The last line that is not one of kpasswd's prompts, cleaned.
fn last_words(output: &str) -> String {
    let line = output
        .lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with("Password for ")
                && !l.starts_with("Enter new password")
                && !l.starts_with("Enter it again")
        })
        .unwrap_or("it gave no reason");
    clean(line.rsplit_once("kpasswd: ").map_or(line, |(_, l)| l))
}

/// Printable characters only, trimmed, not too long.
fn clean(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    clean.trim().to_string()
}

/// Changes `account`'s password from `current` to `new` with kpasswd, within `timeout`.
pub async fn change(
    settings: &Settings,
    account: &str,
    current: &Secret,
    new: &Secret,
    timeout: Duration,
) -> Result<(), KpasswdError> {
    let realm = settings.realm.as_deref().ok_or(KpasswdError::NoRealm)?;
    let principal = principal(account, realm)?;
    let program = programs::find(&settings.program)
        .ok_or_else(|| KpasswdError::NotInstalled(settings.program.clone()))?;
    // Only what kpasswd needs: no secret, nothing of the caller's environment.
    let mut command = Command::new(&program);
    command
        .arg(&principal)
        .env_clear()
        .env("PATH", CHILD_PATH)
        .env("LC_ALL", "C")
        .env("KRB5CCNAME", "MEMORY:signin-assistant")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Kept until kpasswd has finished: it holds the generated krb5.conf.
    let _conf_dir = match &settings.kdc {
        Some(kdc) => {
            let dir = write_krb5_conf(realm, kdc)?;
            command.env("KRB5_CONFIG", dir.path().join("krb5.conf"));
            Some(dir)
        }
        None => {
            if let Some(conf) = std::env::var_os("KRB5_CONFIG") {
                command.env("KRB5_CONFIG", conf);
            }
            None
        }
    };
    tracing::info!(%principal, program = %program.display(), "changing the password with kpasswd");
    let child = command.spawn().map_err(|e| KpasswdError::Spawn {
        program: program.display().to_string(),
        detail: e.to_string(),
    })?;
    match tokio::time::timeout(timeout, converse(child, current, new)).await {
        Ok(result) => {
            let (success, output) = result?;
            tracing::debug!(success, "kpasswd finished");
            interpret(success, &output)
        }
        Err(_) => Err(KpasswdError::Timeout(timeout.as_secs())),
    }
}

/// A private folder (0700) with the krb5.conf for the child.
fn write_krb5_conf(realm: &str, kdc: &str) -> Result<tempfile::TempDir, KpasswdError> {
    let failed =
        |e: std::io::Error| KpasswdError::Failed(format!("cannot write its krb5.conf: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("signin-assistant-krb5-")
        .tempdir()
        .map_err(failed)?;
    std::fs::write(dir.path().join("krb5.conf"), krb5_conf(realm, kdc)).map_err(failed)?;
    Ok(dir)
}

/// Gives kpasswd the three answers on its stdin and reads everything it says.
async fn converse(
    mut child: tokio::process::Child,
    current: &Secret,
    new: &Secret,
) -> Result<(bool, String), KpasswdError> {
    let failed = |e: std::io::Error| KpasswdError::Failed(e.to_string());
    let mut answers = Zeroizing::new(String::with_capacity(
        current.expose().len() + 2 * new.expose().len() + 3,
    ));
    for line in [current.expose(), new.expose(), new.expose()] {
        answers.push_str(line);
        answers.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child
        .stdout
        .take()
        .expect("stdout is piped")
        .take(MAX_OUTPUT);
    let mut stderr = child
        .stderr
        .take()
        .expect("stderr is piped")
        .take(MAX_OUTPUT);
    let feed = async move {
        // kpasswd stops reading after a wrong current password: a closed pipe is fine then.
        let _ = stdin.write_all(answers.as_bytes()).await;
        drop(stdin);
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ((), read_out, read_err) = tokio::join!(
        feed,
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err)
    );
    read_out.map_err(failed)?;
    read_err.map_err(failed)?;
    let status = child.wait().await.map_err(failed)?;
    out.extend_from_slice(b"\n");
    out.extend_from_slice(&err);
    Ok((status.success(), String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(text: &str) -> Result<Settings, ConfigError> {
        let mut config = Config::default();
        config
            .apply_text(Path::new("/etc/sa.toml"), text)
            .expect("valid toml");
        Settings::from_config(&config)
    }

    #[test]
    fn realm_comes_from_the_base_or_the_setting() {
        assert_eq!(
            realm_from_base("OU=Staff,DC=corp,DC=example,DC=com").as_deref(),
            Some("CORP.EXAMPLE.COM")
        );
        assert_eq!(
            realm_from_base("dc=example, dc=test").as_deref(),
            Some("EXAMPLE.TEST")
        );
        assert_eq!(realm_from_base("o=Example"), None);
        let s = settings("[ldap]\nbase = \"DC=example,DC=test\"\n").unwrap();
        assert_eq!(s.realm.as_deref(), Some("EXAMPLE.TEST"));
        assert_eq!(s.program, "kpasswd");
        let s =
            settings("[ldap]\nbase = \"DC=x\"\nkerberos_realm = \"corp.example.com\"\n").unwrap();
        assert_eq!(s.realm.as_deref(), Some("CORP.EXAMPLE.COM"));
    }

    #[test]
    fn bad_settings_are_named() {
        let err = settings("[ldap]\nkerberos_realm = \"A B\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.kerberos_realm"));
        assert_eq!(err.line, Some(2));
        for bad in [
            "dc1 }\\n[realms]",
            "dc1.example.com:0",
            "dc1:port",
            "[zz]:88",
            "",
            "a b",
        ] {
            let err = settings(&format!("[ldap]\nkdc = {bad:?}\n")).unwrap_err();
            assert_eq!(err.key.as_deref(), Some("ldap.kdc"), "{bad}");
        }
        for good in ["dc1.example.com", "127.0.0.1:88", "[::1]", "[::1]:88"] {
            let s = settings(&format!("[ldap]\nkdc = {good:?}\n")).unwrap();
            assert_eq!(s.kdc.as_deref(), Some(good));
        }
    }

    #[test]
    fn principals_take_the_name_part() {
        for account in ["alice", "alice@example.test", "EXAMPLE\\alice", " alice "] {
            assert_eq!(
                principal(account, "EXAMPLE.TEST").unwrap(),
                "alice@EXAMPLE.TEST"
            );
        }
        for bad in ["", "a b@x", "x/admin", "a\nb"] {
            assert!(principal(bad, "EXAMPLE.TEST").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_generated_krb5_conf_names_the_kdc() {
        let conf = krb5_conf("EXAMPLE.TEST", "127.0.0.1:8888");
        assert!(conf.contains("default_realm = EXAMPLE.TEST"), "{conf}");
        assert!(conf.contains("kdc = 127.0.0.1:8888"), "{conf}");
        assert!(conf.contains("kpasswd_server = 127.0.0.1\n"), "{conf}");
        assert!(krb5_conf("R", "[::1]:88").contains("kpasswd_server = [::1]\n"));
        assert!(krb5_conf("R", "dc1").contains("kpasswd_server = dc1\n"));
    }

    // Output of MIT kpasswd 1.20 against Samba 4.17's KDC, as seen.
    const PROMPTS: &str =
        "Password for bob@EXAMPLE.TEST: \nEnter new password: \nEnter it again: \n";

    #[test]
    fn what_kpasswd_said() {
        assert_eq!(
            interpret(true, &format!("{PROMPTS}Password changed.\n")),
            Ok(())
        );
        assert_eq!(
            interpret(
                false,
                &format!("{PROMPTS}Password change rejected: Password too short, password must be at least 7 characters long.\n")
            ),
            Err(KpasswdError::Refused(
                "Password too short, password must be at least 7 characters long.".into()
            ))
        );
        assert_eq!(
            interpret(
                false,
                "Password for bob@EXAMPLE.TEST: \n\n/usr/bin/kpasswd: Preauthentication failed getting initial ticket\n"
            ),
            Err(KpasswdError::WrongCurrent)
        );
        assert!(matches!(
            interpret(false, "\n/usr/bin/kpasswd: Client not found in Kerberos database getting initial ticket\n"),
            Err(KpasswdError::Account(_))
        ));
        assert_eq!(
            interpret(
                false,
                "\n/usr/bin/kpasswd: Cannot find KDC for requested realm getting initial ticket\n"
            ),
            Err(KpasswdError::Unreachable(
                "Cannot find KDC for requested realm getting initial ticket".into()
            ))
        );
        assert_eq!(
            interpret(
                false,
                &format!("{PROMPTS}\n/usr/bin/kpasswd: Password mismatch while reading password\n")
            ),
            Err(KpasswdError::Failed(
                "Password mismatch while reading password".into()
            ))
        );
        assert_eq!(
            interpret(false, ""),
            Err(KpasswdError::Failed("it gave no reason".into()))
        );
    }
}
