//! The settings that protect the password, in one place.
//!
//! [`PROTECTED`]: the keys that decide where a secret goes or which program receives it. An
//! administrator can impose each of them on every system: in the enforced files (`layers`;
//! there any key can be imposed) and as a Group Policy value or managed preference (a unit test
//! checks that `system::managed::MAPPINGS` names each, and that the ADMX template and the
//! example profile offer every name). Adding a key is its line here and its line in `MAPPINGS`.
//! `account.username` is not one: it names the person's own account, not where the password
//! goes, and one machine-wide value would be wrong for everyone else who logs in.
//!
//! [`ADMIN_ONLY`]: the values that lower the protection this program gives the password even
//! at the right endpoint. A person's own file or `--config FILE` may not set them: anything
//! running as the person can write that file, and a person may be talked into copying one.
//! They are taken from the admins' layers only (the system file, the enforced files, the
//! policy). Values that only choose among safe ones stay the person's (`allow_insecure =
//! false`, `kpasswd = "kpasswd"`, `pinentry = "pinentry-qt"`).

use std::path::Path;

use super::{Config, LdapConfig, Origin};

/// A key that decides where a secret goes or which program receives it, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protected {
    /// "table.name".
    pub key: &'static str,
    pub why: &'static str,
}

const fn protect(key: &'static str, why: &'static str) -> Protected {
    Protected { key, why }
}

/// Every key an administrator must be able to impose, on every system.
pub const PROTECTED: &[Protected] = &[
    protect(
        "provider.kind",
        "which kind of endpoint receives the password",
    ),
    protect(
        "entra.tenant",
        "part of the token endpoint's path: where the password and tokens go",
    ),
    protect(
        "entra.client_id",
        "the application the tokens are issued to",
    ),
    protect(
        "entra.authority",
        "the token endpoint: receives the password and the refresh token",
    ),
    protect("entra.graph", "receives the access token"),
    protect(
        "entra.sign_in",
        "whether the password is typed into this program and sent on",
    ),
    protect("ldap.url", "the server the password is sent to"),
    protect(
        "ldap.starttls",
        "whether the connection the password goes over is encrypted",
    ),
    protect(
        "ldap.auth",
        "whether a password is typed into this program and sent on, or the Kerberos ticket is used",
    ),
    protect("ldap.bind", "the name the password is sent with"),
    protect(
        "ldap.base",
        "where the account and its password policy are read",
    ),
    protect(
        "ldap.flavor",
        "the server's rules, among them how a new password is sent",
    ),
    protect(
        "ldap.ca_file",
        "the certificate authority that vouches for the server",
    ),
    protect(
        "ldap.allow_insecure",
        "whether the password may cross the network unencrypted",
    ),
    protect(
        "ldap.change",
        "where a new password is typed: in this program or on the portal",
    ),
    protect(
        "ldap.kerberos_realm",
        "the realm an expired password is changed in",
    ),
    protect("ldap.kdc", "the KDC that receives the old and new password"),
    protect(
        "ldap.kpasswd",
        "the program that receives the old and new password",
    ),
    protect(
        "prompt.pinentry",
        "the program that receives the password typed in the tray",
    ),
    protect(
        "portal.url",
        "the page a click opens, where the password is typed",
    ),
    protect(
        "portal.trusted",
        "more pages an endpoint's answer may send a person to",
    ),
];

/// A setting that lowers the protection of the password: only an admin's layer may set it.
#[derive(Debug, Clone, Copy)]
pub struct AdminOnly {
    /// "table.name".
    pub key: &'static str,
    /// Whether the value `config` holds lowers the protection.
    pub lowers: fn(&Config) -> bool,
    /// Why, and what only the admins may do, for the error a person reads.
    pub what: &'static str,
}

/// Every admin-only setting.
pub const ADMIN_ONLY: &[AdminOnly] = &[
    AdminOnly {
        key: "ldap.allow_insecure",
        lowers: |c| c.ldap.allow_insecure,
        what: "`allow_insecure = true` lets the password cross the network unencrypted: only \
               your administrator can turn it on",
    },
    AdminOnly {
        key: "portal.trusted",
        lowers: |c| !c.portal.trusted.is_empty(),
        what: "a `trusted` page is one an answer from the network may send you to, to type \
               your password: only your administrator can add one",
    },
    AdminOnly {
        key: "ldap.kpasswd",
        lowers: |c| c.ldap.kpasswd.trim() != LdapConfig::default().kpasswd,
        what: "the `kpasswd` program receives your old and new password: only your \
               administrator can name another than `kpasswd`",
    },
    AdminOnly {
        key: "prompt.pinentry",
        lowers: |c| {
            c.prompt
                .pinentry
                .as_deref()
                .is_some_and(|p| !is_pinentry_name(p))
        },
        what: "the `pinentry` program receives the password you type: you may name a pinentry \
               on PATH (`pinentry-qt`), only your administrator a path or another program",
    },
];

/// The first admin-only value that `file`, just laid over `config`, set and that lowers the
/// protection; `None` when it set none.
pub(super) fn lowered_by(config: &Config, file: &Path) -> Option<&'static AdminOnly> {
    ADMIN_ONLY.iter().find(|rule| {
        let set_here = matches!(config.origin(rule.key), Origin::File { path, .. } if path == file);
        set_here && (rule.lowers)(config)
    })
}

/// A pinentry named as the ones tried by default are and found on PATH the same way:
/// `pinentry`, or `pinentry-` and letters, digits, `-` or `_` (no path).
fn is_pinentry_name(name: &str) -> bool {
    name == "pinentry"
        || name.strip_prefix("pinentry-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::{ConfigError, Layer};
    use crate::system::managed::MAPPINGS;

    const USER: &str = "/home/u/.config/signin-assistant/config.toml";

    /// `text` laid over the defaults as `layer`.
    fn lay(text: &str, layer: Layer) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_layer(Path::new(USER), text, layer)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn every_protected_key_is_a_key_and_has_a_policy_name() {
        let keys: Vec<&str> = Config::default().settings().iter().map(|s| s.key).collect();
        for p in PROTECTED {
            assert!(keys.contains(&p.key), "{} is no configuration key", p.key);
            assert!(
                MAPPINGS.iter().any(|m| m.key == p.key),
                "{} has no policy name in system::managed::MAPPINGS",
                p.key
            );
        }
        for rule in ADMIN_ONLY {
            assert!(
                PROTECTED.iter().any(|p| p.key == rule.key),
                "{} is admin-only but not protected",
                rule.key
            );
        }
    }

    #[test]
    fn a_user_file_cannot_turn_on_what_lowers_protection() {
        let cases = [
            (
                "[ldap]\nurl = \"ldap://dc.example.com\"\nallow_insecure = true\n",
                "ldap.allow_insecure",
                3,
            ),
            (
                "[portal]\ntrusted = [\"https://evil.example/\"]\n",
                "portal.trusted",
                2,
            ),
            ("[ldap]\nkpasswd = \"/tmp/grab\"\n", "ldap.kpasswd", 2),
            ("[ldap]\nkpasswd = \"heimdal-kpasswd\"\n", "ldap.kpasswd", 2),
            (
                "\n[prompt]\npinentry = \"/home/u/bin/pinentry-qt\"\n",
                "prompt.pinentry",
                3,
            ),
            ("[prompt]\npinentry = \"sh\"\n", "prompt.pinentry", 2),
            (
                "[prompt]\npinentry = \"pinentry-../x\"\n",
                "prompt.pinentry",
                2,
            ),
        ];
        for (text, key, line) in cases {
            let err = lay(text, Layer::User).expect_err(text);
            assert_eq!(err.file, Path::new(USER), "{text}");
            assert_eq!(err.key.as_deref(), Some(key), "{text}");
            assert_eq!(err.line, Some(line), "{text}");
            assert!(err.message.contains("only your administrator"), "{err}");
            assert!(err.message.contains("enforced.toml"), "{err}");
            // The admins' layers may set it.
            lay(text, Layer::System).unwrap_or_else(|e| panic!("{text}: {e}"));
            lay(text, Layer::Enforced).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn a_user_file_may_choose_among_safe_values() {
        for text in [
            "[ldap]\nallow_insecure = false\n",
            "[portal]\ntrusted = []\n",
            "[ldap]\nkpasswd = \"kpasswd\"\n",
            "[prompt]\npinentry = \"pinentry-qt\"\n",
            "[prompt]\npinentry = \"pinentry\"\n",
            "[prompt]\npinentry = \"pinentry-gtk-2\"\n",
            "[ldap]\nurl = \"ldaps://dc.example.com\"\nca_file = \"/home/u/ca.pem\"\n",
        ] {
            lay(text, Layer::User).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn an_admin_value_below_a_user_file_stays_allowed() {
        // The system file turns it on; the person's file says nothing about it.
        let mut config = Config::default();
        config
            .apply_layer(
                Path::new("/etc/signin-assistant/config.toml"),
                "[ldap]\nallow_insecure = true\n",
                Layer::System,
            )
            .unwrap();
        config
            .apply_layer(Path::new(USER), "[ldap]\ntimeout_secs = 5\n", Layer::User)
            .unwrap();
        assert!(config.ldap.allow_insecure);
    }
}
