//! What an LDAP directory needs from the `[ldap]` table before it can be asked, where its
//! password is changed, and the words for a person who has not set it. The table's keys and
//! defaults are parsed by `system::config`, which knows no provider; what they mean is said here.

use crate::system::config::{ChangeMode, Config, LdapAuth, Missing, PortalConfig};

/// The directory server.
pub const URL: Missing = Missing {
    key: "ldap.url",
    what: "the directory server",
    who: "ask your IT desk for the directory server (ldaps://host)",
};

/// The base DN searched for accounts.
pub const BASE: Missing = Missing {
    key: "ldap.base",
    what: "the directory's base DN",
    who: "ask your IT desk for the directory's base DN (e.g. dc=example,dc=com)",
};

/// The bind DN template.
pub const BIND: Missing = Missing {
    key: "ldap.bind",
    what: "how accounts are named in the directory",
    who: "ask your IT desk how accounts are named in the directory (e.g. uid={username},ou=people,dc=example,dc=com)",
};

/// The values `[ldap]` may lack, with their words.
pub const WORDS: &[Missing] = &[URL, BASE, BIND];

/// The values the directory cannot be asked without that no layer sets.
pub fn missing(config: &Config) -> Vec<Missing> {
    let unset = |v: Option<&str>| v.is_none_or(|v| v.trim().is_empty());
    let ldap = &config.ldap;
    [
        (URL, ldap.url.is_none()),
        (BASE, unset(ldap.base.as_deref())),
        (BIND, needs_bind(config) && unset(ldap.bind.as_deref())),
    ]
    .into_iter()
    .filter_map(|(words, missing)| missing.then_some(words))
    .collect()
}

/// Whether accounts are named through the `bind` template: with a Kerberos ticket the account
/// is the ticket's principal, and no bind name is sent.
pub fn needs_bind(config: &Config) -> bool {
    config.ldap.auth == LdapAuth::Password
}

/// Whether the password is changed in this program's dialog: `[ldap] change`, and when that is
/// not set, here unless `[portal] url` names a page other than the built-in default (Microsoft's,
/// which cannot change an on-premises password).
pub fn changes_password_here(config: &Config) -> bool {
    match config.ldap.change {
        Some(ChangeMode::Here) => true,
        Some(ChangeMode::Portal) => false,
        None => config.portal.url == PortalConfig::default().url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Result<Config, crate::system::config::ConfigError> {
        let mut config = Config::default();
        config.apply_text(Path::new("/etc/sa.toml"), text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn kerberos_needs_no_bind_template() {
        let text = "[provider]\nkind = \"ldap\"\n[ldap]\nurl = \"ldap://dc1.example.com\"\n\
                    base = \"dc=example,dc=com\"\nauth = \"kerberos\"\n";
        let config = load(text).unwrap();
        assert_eq!(config.ldap.auth, LdapAuth::Kerberos);
        assert!(missing(&config).is_empty());
        let password = load(&text.replace("kerberos", "password")).unwrap();
        let keys: Vec<&str> = missing(&password).iter().map(|m| m.key).collect();
        assert_eq!(keys, ["ldap.bind"]);
    }

    #[test]
    fn an_unknown_auth_names_file_line_and_key() {
        let err = load("[ldap]\n\nauth = \"ntlm\"\n").unwrap_err();
        assert_eq!(err.file, Path::new("/etc/sa.toml"));
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("ldap.auth"));
        assert_eq!(Config::default().ldap.auth, LdapAuth::Password);
    }
}
