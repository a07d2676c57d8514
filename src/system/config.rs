//! Layered configuration: built-in defaults < system file (the admins' defaults) < user file,
//! where `--config FILE` takes the place of the user file, < the enforced files (what the admins
//! impose); the admin policy (Windows Group Policy, macOS managed preferences; see
//! `system::managed`) lies over all of them, so no file overrides it. Which files, in which
//! order, is `layers`; the keys that protect the password and the values only an admin may set
//! are `protected`.
//!
//! Admins deploy `/etc/signin-assistant/config.toml` to thousands of desktops, so every value
//! remembers where it came from and every error names the file, the line and the key. The keys
//! and their meaning are documented in `config/signin-assistant.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use url::Url;

use crate::rules::expiry::Policy;

mod layers;
mod managed_layer;
mod missing;
mod protected;
mod show;
pub use layers::{
    enforced_dir, enforced_file, system_config_path, user_config_path, watched_files, Layer,
    LayerFile, ENFORCED_DIR, ENFORCED_FILE, SYSTEM_CONFIG_ENV,
};
pub use missing::{describe as describe_missing, Missing, SETUP_COMMAND};
pub use protected::{AdminOnly, Protected, ADMIN_ONLY, PROTECTED};
pub use show::Setting;

/// A configuration error a person can fix: which file, which line, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File {
        path: PathBuf,
        line: usize,
    },
    /// An enforced file of the admins' (`enforced.toml`, `enforced.d/`), which no person's file
    /// overrides.
    Enforced {
        path: PathBuf,
        line: usize,
    },
    /// An admin policy setting, e.g. `HKLM\Software\Policies\signin-assistant\PortalUrl`.
    Policy {
        setting: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "built-in default"),
            Origin::File { path, line } | Origin::Enforced { path, line } => {
                write!(f, "{}:{line}", path.display())
            }
            Origin::Policy { setting } => write!(f, "policy {setting}"),
        }
    }
}

impl Origin {
    /// Whether the admins imposed the value (an enforced file or the policy): no person's file
    /// overrides it.
    pub fn is_enforced(&self) -> bool {
        matches!(self, Origin::Enforced { .. } | Origin::Policy { .. })
    }
}

/// Which identity endpoint to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Entra,
    Ldap,
}

/// How a person signs in to Entra ID (`[entra] sign_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// The system browser, authorization code with PKCE (RFC 8252): works with MFA and
    /// passwordless sign-in.
    Browser,
    /// A code to enter on another device (RFC 8628): for SSH sessions and machines without a
    /// browser.
    DeviceCode,
    /// The resource owner password grant: only where the tenant allows it (no MFA).
    Password,
}

/// Which directory server rules to apply over LDAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LdapFlavor {
    Auto,
    ActiveDirectory,
    Openldap,
    /// 389 Directory Server, and FreeIPA and Red Hat Directory Server, which are built on it.
    #[serde(rename = "389-ds")]
    Ds389,
}

impl LdapFlavor {
    /// Whether a failed bind's `data XXX` diagnostic may be Active Directory's.
    pub fn may_be_active_directory(self) -> bool {
        matches!(self, LdapFlavor::Auto | LdapFlavor::ActiveDirectory)
    }
}

/// How the agent proves who the person is to an LDAP directory (`[ldap] auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LdapAuth {
    /// A simple bind with the password the person gave, kept in the keyring.
    Password,
    /// A SASL GSSAPI bind with the person's Kerberos ticket: nothing is asked or kept.
    Kerberos,
}

/// Where a person changes an LDAP or Active Directory password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeMode {
    /// In this program's own dialog (`change-password`, the balloon, the tray).
    Here,
    /// On the web page `[portal] url`.
    Portal,
}

/// Records the origin of every key set by a file.
#[derive(Debug, Default, Clone)]
struct Origins(BTreeMap<&'static str, Origin>);

impl Origins {
    fn record(&mut self, key: &'static str, file: &Path, text: &str, span: std::ops::Range<usize>) {
        let origin = Origin::File {
            path: file.to_path_buf(),
            line: line_of(text, span.start),
        };
        self.0.insert(key, origin);
    }

    /// The values `file` set become enforced.
    fn enforce(&mut self, file: &Path) {
        for origin in self.0.values_mut() {
            if let Origin::File { path, line } = origin {
                if path == file {
                    let (path, line) = (std::mem::take(path), *line);
                    *origin = Origin::Enforced { path, line };
                }
            }
        }
    }
}

/// Declares a config section once: the resolved struct, its defaults, the per-file layer that
/// rejects unknown keys and keeps spans, and how a layer overrides the values below it.
macro_rules! section {
    ($name:ident, $layer:ident, $table:literal {
        $( $(#[$doc:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)?
    }) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $( $(#[$doc])* pub $field: $ty, )* }

        impl Default for $name {
            fn default() -> Self { $name { $( $field: $default, )* } }
        }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $layer { $( #[serde(default)] $field: Option<Spanned<$ty>>, )* }

        impl $name {
            /// Every key of the section, as "table.key".
            #[cfg(test)]
            const KEYS: &'static [&'static str] = &[$(concat!($table, ".", stringify!($field)),)*];

            /// Every key of the section with its value as TOML writes it (None: not set).
            fn values(&self, out: &mut Vec<(&'static str, Option<String>)>) {
                $( out.push((
                    concat!($table, ".", stringify!($field)),
                    show::ShowValue::show(&self.$field),
                )); )*
            }

            fn apply(&mut self, layer: $layer, file: &Path, text: &str, origins: &mut Origins) {
                $(
                    if let Some(value) = layer.$field {
                        origins.record(concat!($table, ".", stringify!($field)), file, text, value.span());
                        self.$field = value.into_inner();
                    }
                )*
            }
        }
    };
}

section!(AccountConfig, AccountLayer, "account" {
    /// The account whose password is watched (UPN for Entra and AD, uid for OpenLDAP).
    username: Option<String> = None,
});

section!(ProviderConfig, ProviderLayer, "provider" {
    kind: ProviderKind = ProviderKind::Entra,
});

section!(EntraConfig, EntraLayer, "entra" {
    /// Tenant id or verified domain; unset means `organizations` (any work or school account).
    tenant: Option<String> = None,
    /// Public client application id.
    client_id: Option<String> = None,
    authority: Url = Url::parse("https://login.microsoftonline.com").expect("valid default"),
    graph: Url = Url::parse("https://graph.microsoft.com").expect("valid default"),
    /// Timeout of every HTTP request.
    timeout_secs: u64 = 20,
    /// Longest `Retry-After` the agent waits for inside one check.
    max_retry_after_secs: u64 = 30,
    /// How "Sign in" signs in: the browser, a device code, or the password grant.
    sign_in: SignInMethod = SignInMethod::Browser,
    /// How long the browser sign-in waits for the browser to come back.
    browser_timeout_secs: u64 = 300,
});

section!(LdapConfig, LdapLayer, "ldap" {
    url: Option<Url> = None,
    starttls: bool = false,
    /// A password, or the person's Kerberos ticket.
    auth: LdapAuth = LdapAuth::Password,
    /// Bind DN template with `{username}`.
    bind: Option<String> = None,
    base: Option<String> = None,
    flavor: LdapFlavor = LdapFlavor::Auto,
    ca_file: Option<PathBuf> = None,
    timeout_secs: u64 = 10,
    allow_insecure: bool = false,
    /// Where the password is changed; unset: here unless `[portal] url` is configured.
    change: Option<ChangeMode> = None,
    /// Kerberos realm for changing an expired AD password; unset: from the DC= parts of `base`.
    kerberos_realm: Option<String> = None,
    /// The KDC (host or host:port) kpasswd talks to; unset: the system's Kerberos configuration.
    kdc: Option<String> = None,
    /// The MIT kpasswd program (a name on PATH, its absolute entries, or an absolute path).
    kpasswd: String = "kpasswd".to_string(),
});

section!(PolicyConfig, PolicyLayer, "policy" {
    max_age_days: i64 = Policy::DEFAULT.max_age_days,
    warning_days: i64 = Policy::DEFAULT.warning_days,
    urgent_days: i64 = Policy::DEFAULT.urgent_days,
    balloon_timeout_secs: u64 = 5,
});

section!(PortalConfig, PortalLayer, "portal" {
    url: Url = Url::parse("https://passwordreset.microsoftonline.com/").expect("valid default"),
    /// More change-password pages an endpoint may send people to (exact origin + path prefix),
    /// besides Microsoft's own and `url`'s origin.
    trusted: Vec<Url> = Vec::new(),
});

section!(AgentConfig, AgentLayer, "agent" {
    /// Minutes between two periodic checks (a random jitter of up to 10 % is added).
    check_interval_minutes: u64 = 240,
});

section!(PromptConfig, PromptLayer, "prompt" {
    /// Linux: the pinentry program used by "Sign in…" in the tray.
    pinentry: Option<String> = None,
});

/// One configuration file as written, before it is merged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    #[serde(default)]
    account: AccountLayer,
    #[serde(default)]
    provider: ProviderLayer,
    #[serde(default)]
    entra: EntraLayer,
    #[serde(default)]
    ldap: LdapLayer,
    #[serde(default)]
    policy: PolicyLayer,
    #[serde(default)]
    portal: PortalLayer,
    #[serde(default)]
    agent: AgentLayer,
    #[serde(default)]
    prompt: PromptLayer,
}

/// The effective configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub account: AccountConfig,
    pub provider: ProviderConfig,
    pub entra: EntraConfig,
    pub ldap: LdapConfig,
    pub policy: PolicyConfig,
    pub portal: PortalConfig,
    pub agent: AgentConfig,
    pub prompt: PromptConfig,
    origins: Origins,
    /// The files that were read, lowest layer first.
    pub files: Vec<PathBuf>,
    /// Those of them that are enforced.
    enforced_files: Vec<PathBuf>,
    /// The person's own file (`--config FILE` or the user file), read or not: where their
    /// values go.
    pub user_file: Option<PathBuf>,
}

impl Config {
    /// Parses one file's text and lays it over the current values, without the rules of its
    /// layer (`apply_layer` applies them).
    pub fn apply_text(&mut self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let layer: FileLayer = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
        let o = &mut self.origins;
        self.account.apply(layer.account, file, text, o);
        self.provider.apply(layer.provider, file, text, o);
        self.entra.apply(layer.entra, file, text, o);
        self.ldap.apply(layer.ldap, file, text, o);
        self.policy.apply(layer.policy, file, text, o);
        self.portal.apply(layer.portal, file, text, o);
        self.agent.apply(layer.agent, file, text, o);
        self.prompt.apply(layer.prompt, file, text, o);
        Ok(())
    }

    /// Where `key` ("section.name") was set.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.0.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// Every key, in the documented order, with its value and where it was set.
    pub fn settings(&self) -> Vec<Setting> {
        let mut values = Vec::new();
        self.account.values(&mut values);
        self.provider.values(&mut values);
        self.entra.values(&mut values);
        self.ldap.values(&mut values);
        self.policy.values(&mut values);
        self.portal.values(&mut values);
        self.agent.values(&mut values);
        self.prompt.values(&mut values);
        values
            .into_iter()
            .map(|(key, value)| {
                let origin = self.origin(key);
                Setting {
                    key,
                    value,
                    enforced: origin.is_enforced(),
                    origin,
                }
            })
            .collect()
    }

    /// Records where `key` was set (the admin policy layer names its setting).
    pub(crate) fn set_origin(&mut self, key: &'static str, origin: Origin) {
        self.origins.0.insert(key, origin);
    }

    /// The date rules the policy core applies when the endpoint does not say.
    pub fn policy(&self) -> Policy {
        Policy {
            max_age_days: self.policy.max_age_days,
            warning_days: self.policy.warning_days,
            urgent_days: self.policy.urgent_days,
        }
    }

    /// An error about a key, located where that key was set.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let (file, line) = match self.origin(key) {
            Origin::File { path, line } | Origin::Enforced { path, line } => (path, Some(line)),
            Origin::Policy { setting } => (PathBuf::from(format!("policy {setting}")), None),
            Origin::Default => (PathBuf::from("(built-in defaults)"), None),
        };
        ConfigError {
            file,
            line,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (key, url) in [
            ("entra.authority", &self.entra.authority),
            ("entra.graph", &self.entra.graph),
            ("portal.url", &self.portal.url),
        ] {
            check_web_url(url).map_err(|m| self.error_at(key, m))?;
        }
        for url in &self.portal.trusted {
            check_web_url(url).map_err(|m| self.error_at("portal.trusted", m))?;
        }
        if let Some(tenant) = &self.entra.tenant {
            check_tenant(tenant).map_err(|m| self.error_at("entra.tenant", m))?;
        }
        if let Some(url) = &self.ldap.url {
            check_ldap_url(url).map_err(|m| self.error_at("ldap.url", m))?;
        }
        // (key, value, least, most): the bounds keep every later date and duration computation
        // far from overflow, and catch typos such as minutes written as seconds.
        let ranges: [(&str, i128, i128, i128); 9] = [
            (
                "policy.max_age_days",
                self.policy.max_age_days.into(),
                1,
                2_147_483_647,
            ),
            (
                "policy.warning_days",
                self.policy.warning_days.into(),
                0,
                3650,
            ),
            (
                "policy.urgent_days",
                self.policy.urgent_days.into(),
                0,
                3650,
            ),
            (
                "policy.balloon_timeout_secs",
                self.policy.balloon_timeout_secs.into(),
                1,
                3600,
            ),
            (
                "agent.check_interval_minutes",
                self.agent.check_interval_minutes.into(),
                1,
                43_200,
            ),
            ("entra.timeout_secs", self.entra.timeout_secs.into(), 1, 600),
            (
                "entra.max_retry_after_secs",
                self.entra.max_retry_after_secs.into(),
                0,
                3600,
            ),
            ("ldap.timeout_secs", self.ldap.timeout_secs.into(), 1, 600),
            (
                "entra.browser_timeout_secs",
                self.entra.browser_timeout_secs.into(),
                1,
                3600,
            ),
        ];
        for (key, value, least, most) in ranges {
            if value < least || value > most {
                return Err(self.error_at(key, format!("must be between {least} and {most}")));
            }
        }
        if let Some(bind) = &self.ldap.bind {
            if !bind.contains("{username}") {
                return Err(self.error_at("ldap.bind", "must contain {username}"));
            }
        }
        Ok(())
    }
}

/// `https://` anywhere; `http://` only for loopback hosts (tests, emulators).
pub fn check_web_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "`{url}` uses http://, which is allowed only for loopback hosts; use https://"
        )),
        _ => Err(format!("`{url}` must be an https:// URL")),
    }
}

/// `ldap://host[:port]` or `ldaps://host[:port]`.
pub fn check_ldap_url(url: &Url) -> Result<(), String> {
    if matches!(url.scheme(), "ldap" | "ldaps") && url.host_str().is_some() {
        Ok(())
    } else {
        Err("must be ldap://host[:port] or ldaps://host[:port]".into())
    }
}

/// Who knows the Entra tenant: said when it is missing (`providers::entra::settings`) and when
/// it is not one ([`check_tenant`]).
pub const TENANT_WHO: &str = "ask your IT desk for the Entra tenant (its id or domain)";

/// Tenant names that are not a tenant but a class of accounts.
pub const TENANT_ALIASES: [&str; 3] = ["organizations", "common", "consumers"];

/// `[entra] tenant` is joined into the token endpoint's path, so only the documented forms are
/// accepted: a directory id (GUID), a DNS name (the tenant's verified domain), or one of
/// [`TENANT_ALIASES`]. Anything else (`http:host`, `..`, a backslash, a `@`) could move the
/// request, with the password in it, to another place.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    if is_guid(tenant)
        || is_dns_name(tenant)
        || TENANT_ALIASES
            .iter()
            .any(|alias| alias.eq_ignore_ascii_case(tenant))
    {
        return Ok(());
    }
    Err(format!(
        "`{}` is not a tenant: use the directory (tenant) id, a GUID such as \
         4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59, or a verified domain such as contoso.onmicrosoft.com \
         ({}, or run `{SETUP_COMMAND}`)",
        crate::rules::untrusted::clean(tenant, 80),
        TENANT_WHO
    ))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fully qualified host name: at least two dot-separated labels of letters, digits and inner
/// hyphens, each 1..=63 long, 253 at most in all, the last one not all digits (so no IP address).
pub(crate) fn is_dns_name(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the URL's host is this machine. For schemes the url crate does not know (`ldap:`),
/// `127.0.0.1` stays a domain name, so the host text is parsed here.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Names the key at `offset`: the nearest `[table]` header above it and the key on its line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim();
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) if line.starts_with('[') => {
            Some(line.trim_matches(['[', ']']).to_string()).or(Some(t))
        }
        (t, None) => t,
    }
}

fn parse_error(file: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map(|s| s.start);
    let mut message = e.message().trim().to_string();
    let mut key = offset.and_then(|o| key_at(text, o));
    // An unknown key inside a table is reported at the key itself; an unknown table at its header.
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
    {
        let unknown = unknown.to_string();
        if key.as_deref().is_none_or(|k| !k.ends_with(&unknown)) {
            key = Some(unknown);
        }
        message = format!("unknown key ({message})");
    }
    ConfigError {
        file: file.to_path_buf(),
        line: offset.map(|o| line_of(text, o)),
        key,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_text(Path::new("/etc/test.toml"), text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults_match_the_documented_policy() {
        let config = load("").unwrap();
        assert_eq!(config.policy.max_age_days, 90);
        assert_eq!(config.policy.warning_days, 14);
        assert_eq!(config.policy.balloon_timeout_secs, 5);
        assert_eq!(config.provider.kind, ProviderKind::Entra);
        assert_eq!(config.origin("policy.max_age_days"), Origin::Default);
    }

    #[test]
    fn later_layers_win_and_remember_their_line() {
        let mut config = Config::default();
        config
            .apply_text(
                Path::new("/etc/sys.toml"),
                "[policy]\nmax_age_days = 60\nwarning_days = 7\n",
            )
            .unwrap();
        config
            .apply_text(
                Path::new("/home/u.toml"),
                "\n\n[policy]\nwarning_days = 10\n",
            )
            .unwrap();
        assert_eq!(config.policy.max_age_days, 60);
        assert_eq!(config.policy.warning_days, 10);
        assert_eq!(
            config.origin("policy.max_age_days"),
            Origin::File {
                path: "/etc/sys.toml".into(),
                line: 2
            }
        );
        assert_eq!(
            config.origin("policy.warning_days"),
            Origin::File {
                path: "/home/u.toml".into(),
                line: 4
            }
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load("[policy]\nmax_age_days = 60\nwarnings_days = 3\n").unwrap_err();
        assert_eq!(err.file, Path::new("/etc/test.toml"));
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("policy.warnings_days"));
        assert!(err.to_string().contains("/etc/test.toml:3"), "{err}");
    }

    #[test]
    fn unknown_table_is_named() {
        let err =
            load("[account]\nusername = \"a@b.c\"\n\n[polcy]\nmax_age_days = 1\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("polcy"));
        assert_eq!(err.line, Some(4));
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = load("[policy]\nmax_age_days = \"ninety\"\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.key.as_deref(), Some("policy.max_age_days"));
    }

    #[test]
    fn bad_url_names_the_key() {
        let err = load("[entra]\n\nauthority = \"not a url\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("entra.authority"));
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let err = load("[portal]\nurl = \"http://example.com/change\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("portal.url"));
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("loopback"));
        for ok in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::1]:9/",
            "https://example.com/",
        ] {
            load(&format!("[portal]\nurl = \"{ok}\"\n")).unwrap();
        }
        let err = load("[portal]\nurl = \"ftp://example.com/\"\n").unwrap_err();
        assert!(err.message.contains("https"));
    }

    #[test]
    fn documented_example_loads_and_covers_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/signin-assistant.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = Config::from_files(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            config.policy.max_age_days,
            Config::default().policy.max_age_days
        );
        let all = [
            AccountConfig::KEYS,
            ProviderConfig::KEYS,
            EntraConfig::KEYS,
            LdapConfig::KEYS,
            PolicyConfig::KEYS,
            PortalConfig::KEYS,
            AgentConfig::KEYS,
            PromptConfig::KEYS,
        ];
        for key in all.concat() {
            let (table, name) = key.split_once('.').unwrap();
            let section = text
                .split(&format!("\n[{table}]\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("no [{table}]"));
            let section = section.split("\n[").next().unwrap();
            let documented = section.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{name} ="))
            });
            assert!(documented, "{key} is not documented in {}", path.display());
        }
    }

    #[test]
    fn out_of_range_values_are_refused_at_their_key() {
        let cases = [
            (
                "[agent]\ncheck_interval_minutes = 18446744073709551615\n",
                "agent.check_interval_minutes",
            ),
            (
                "[agent]\ncheck_interval_minutes = 0\n",
                "agent.check_interval_minutes",
            ),
            (
                "[policy]\nballoon_timeout_secs = 18446744073709551615\n",
                "policy.balloon_timeout_secs",
            ),
            (
                "[policy]\nwarning_days = 9223372036854775807\n",
                "policy.warning_days",
            ),
            ("[policy]\nurgent_days = -1\n", "policy.urgent_days"),
            ("[policy]\nmax_age_days = 0\n", "policy.max_age_days"),
            ("[entra]\ntimeout_secs = 100000\n", "entra.timeout_secs"),
        ];
        for (text, key) in cases {
            let err = load(text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{text}");
            assert_eq!(err.line, Some(2), "{text}");
            assert!(err.message.contains("between"), "{text}: {err}");
        }
    }

    #[test]
    fn tenant_must_be_a_guid_or_a_domain_name() {
        for good in [
            "contoso.onmicrosoft.com",
            "corp.example",
            "xn--bcher-kva.example",
            "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59",
            "4B1F0C51-7A3E-4D2B-9C5E-0E1D2C3B4A59",
            "organizations",
            "common",
            "consumers",
        ] {
            load(&format!("[entra]\ntenant = \"{good}\"\n"))
                .unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "http:evil.example",
            "https:evil.example",
            "\\\\evil.example",
            "evil.example\\",
            "a@evil.example",
            "..",
            "contoso",
            "contoso..com",
            "-contoso.com",
            "contoso-.com",
            "127.0.0.1",
            "contoso.com:8443",
            "contoso.com/",
            "%2e%2e",
            "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a5",
            "",
            " contoso.com",
        ] {
            let text = format!(
                "[account]\nusername = \"a\"\n[entra]\ntenant = {}\n",
                toml_string(bad)
            );
            let err = load(&text).expect_err(bad);
            assert_eq!(err.key.as_deref(), Some("entra.tenant"), "{bad}");
            assert_eq!(err.line, Some(4), "{bad}");
            assert_eq!(err.file, Path::new("/etc/test.toml"));
            assert!(err.message.contains("not a tenant"), "{bad}: {err}");
        }
    }

    fn toml_string(text: &str) -> String {
        toml::Value::String(text.to_string()).to_string()
    }

    #[test]
    fn trusted_portal_pages_must_be_web_urls() {
        let config =
            load("[portal]\ntrusted = [\"https://sso.corp.example/password/\"]\n").unwrap();
        assert_eq!(config.portal.trusted.len(), 1);
        let err = load("[portal]\ntrusted = [\n  \"http://intranet.example/\",\n]\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("portal.trusted"));
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = load("[policy]\nmax_age_days = = 3\n").unwrap_err();
        assert_eq!(err.line, Some(2));
    }
}
