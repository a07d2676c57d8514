//! The setup's result as a configuration file a person can read: each value with a comment that
//! says where it came from, written atomically, never over an existing file unless the person
//! said so (the old one is kept beside it as `config.toml.bak`). Only names and addresses are
//! written: no password, no token.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Plan;

/// Why the file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} exists already; run `signin-assistant setup --force` to replace it (it is kept as {0}.bak)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {detail}")]
    Io { path: PathBuf, detail: String },
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The file's text for `plan`.
pub fn render(plan: &Plan, today: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# signin-assistant: your configuration, written by `signin-assistant setup` on {today}.\n\
         # `signin-assistant config show` lists every value in effect and where it was set;\n\
         # values your administrator sets in the system file are not repeated here.\n\
         # Run `signin-assistant setup --force` to start again.\n\n"
    ));
    let mut table = |name: &str, lines: &[(&str, String, Option<&String>)]| {
        out.push_str(&format!("[{name}]\n"));
        for (key, value, note) in lines {
            if let Some(note) = note {
                for line in note.lines() {
                    out.push_str(&format!("# {line}\n"));
                }
            }
            out.push_str(&format!("{key} = {value}\n"));
        }
        out.push('\n');
    };
    table(
        "account",
        &[(
            "username",
            quoted(&plan.account),
            plan.notes.get("account.username"),
        )],
    );
    let kind = crate::providers::registration(plan.kind).name;
    table(
        "provider",
        &[("kind", quoted(kind), plan.notes.get("provider.kind"))],
    );
    if let Some(entra) = &plan.entra {
        let mut lines = Vec::new();
        if let Some(tenant) = &entra.tenant {
            lines.push(("tenant", quoted(tenant), plan.notes.get("entra.tenant")));
        }
        if let Some(client_id) = &entra.client_id {
            lines.push((
                "client_id",
                quoted(client_id),
                plan.notes.get("entra.client_id"),
            ));
        }
        if !lines.is_empty() {
            table("entra", &lines);
        }
    }
    if let Some(ldap) = &plan.ldap {
        let mut lines = vec![("url", quoted(ldap.url.as_str()), plan.notes.get("ldap.url"))];
        if ldap.starttls {
            lines.push(("starttls", "true".into(), None));
        }
        if let Some(ca_file) = &ldap.ca_file {
            lines.push((
                "ca_file",
                quoted(&ca_file.to_string_lossy()),
                plan.notes.get("ldap.ca_file"),
            ));
        }
        lines.push(("base", quoted(&ldap.base), plan.notes.get("ldap.base")));
        lines.push(("bind", quoted(&ldap.bind), plan.notes.get("ldap.bind")));
        let flavor = match ldap.flavor {
            crate::system::config::LdapFlavor::ActiveDirectory => "active-directory",
            crate::system::config::LdapFlavor::Openldap => "openldap",
            crate::system::config::LdapFlavor::Ds389 => "389-ds",
            crate::system::config::LdapFlavor::Auto => "auto",
        };
        lines.push(("flavor", quoted(flavor), plan.notes.get("ldap.flavor")));
        table("ldap", &lines);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Writes `text` to `path` (creating its directory); an existing file is replaced only when
/// `replace`, and then kept as `<path>.bak`.
pub fn write(path: &Path, text: &str, replace: bool) -> Result<(), WriteError> {
    let io = |e: std::io::Error| WriteError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    if path.exists() {
        if !replace {
            return Err(WriteError::Exists(path.to_path_buf()));
        }
        let mut backup = path.as_os_str().to_owned();
        backup.push(".bak");
        std::fs::copy(path, PathBuf::from(backup)).map_err(io)?;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{EntraPlan, LdapPlan};
    use crate::system::config::ProviderKind;
    use crate::system::config::{Config, LdapFlavor};

    fn entra_plan() -> Plan {
        let mut plan = Plan::new("adele@contoso.com".into(), ProviderKind::Entra);
        plan.entra = Some(EntraPlan {
            tenant: Some("4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59".into()),
            client_id: Some("11111111-2222-3333-4444-555555555555".into()),
        });
        plan.note(
            "entra.tenant",
            "Found: contoso.com's OpenID Connect discovery document.",
        );
        plan
    }

    #[test]
    fn the_file_loads_and_says_where_values_came_from() {
        let text = render(&entra_plan(), "2026-11-25");
        assert!(text.contains("# Found: contoso.com's"), "{text}");
        let mut config = Config::default();
        config
            .apply_text(Path::new("/home/u/config.toml"), &text)
            .unwrap();
        assert_eq!(
            config.account.username.as_deref(),
            Some("adele@contoso.com")
        );
        assert_eq!(
            config.entra.client_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert!(crate::providers::missing(&config).is_empty());
    }

    #[test]
    fn an_ldap_file_loads() {
        let mut plan = Plan::new("alice".into(), ProviderKind::Ldap);
        plan.ldap = Some(LdapPlan {
            url: url::Url::parse("ldap://127.0.0.1:3890").unwrap(),
            starttls: false,
            ca_file: None,
            base: "dc=example,dc=com".into(),
            bind: "uid={username},ou=people,dc=example,dc=com".into(),
            flavor: LdapFlavor::Openldap,
        });
        let text = render(&plan, "2026-11-25");
        let mut config = Config::default();
        config.apply_text(Path::new("/u.toml"), &text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.ldap.flavor, LdapFlavor::Openldap);
        assert!(crate::providers::missing(&config).is_empty(), "{text}");
    }

    #[test]
    fn an_existing_file_is_kept_unless_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        write(&path, "a = 1\n", false).unwrap();
        assert!(matches!(
            write(&path, "b = 2\n", false),
            Err(WriteError::Exists(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
        write(&path, "b = 2\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b = 2\n");
        let backup = dir.path().join("sub/config.toml.bak");
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "a = 1\n");
    }
}
