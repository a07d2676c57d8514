//! What an LDAP directory needs from the `[ldap]` table before it can be asked, where its
//! password is changed, and the words for a person who has not set it. The table's keys and
//! defaults are parsed by `system::config`, which knows no provider; what they mean is said here.

use crate::system::config::{ChangeMode, Config, Missing, PortalConfig};

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
        (BIND, unset(ldap.bind.as_deref())),
    ]
    .into_iter()
    .filter_map(|(words, missing)| missing.then_some(words))
    .collect()
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
