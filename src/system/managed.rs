//! The admins' policy layer: settings imposed where each OS's admins impose them, above every
//! configuration file.
//!
//! - Windows: values under `HKLM\Software\Policies\signin-assistant`, which Group Policy writes
//!   (template: assets/windows/policy/signin-assistant.admx).
//! - macOS: managed preferences of the domain [`MACOS_BUNDLE_ID`](crate::system::paths::MACOS_BUNDLE_ID),
//!   installed by a configuration profile (example: assets/macos/signin-assistant.mobileconfig).
//! - Linux and the BSDs have no such store: admins use the system file (/etc).
//!
//! A policy value cannot be overridden by the user's file or `--config`, and errors and origins
//! name the policy setting (e.g. `policy HKLM\Software\Policies\signin-assistant\PortalUrl`).
//! Both stores are read as (name, value) pairs; which config key a name sets, and how its
//! value is read, is one table ([`MAPPINGS`]) and one pure function ([`to_config`]). Every key
//! that decides where a secret goes or which program receives it (`config::PROTECTED`) has a
//! name here, and the ADMX template and the example profile offer every name (unit tests keep
//! the three in step). Laying the result over the files is the configuration's business
//! (`config/managed_layer.rs`).

#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

/// The Windows policy key, under HKEY_LOCAL_MACHINE.
pub const WINDOWS_POLICY_KEY: &str = r"Software\Policies\signin-assistant";

/// A value as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyValue {
    /// REG_SZ; a plist string.
    Text(String),
    /// REG_DWORD or REG_QWORD; a plist integer or boolean (0 or 1).
    Number(i64),
    /// REG_MULTI_SZ (what an ADMX `<multiText>` writes); a plist array of strings.
    List(Vec<String>),
    /// Any other type, by its name (e.g. `REG_BINARY`).
    Unsupported(String),
}

/// One setting found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySetting {
    /// The value's name, e.g. `PortalUrl`.
    pub name: String,
    pub value: PolicyValue,
    /// Where it is, for messages: `HKLM\Software\Policies\signin-assistant\PortalUrl`.
    pub location: String,
}

/// The policy store exists but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {store}: {message}")]
pub struct PolicyReadError {
    /// The key or domain, e.g. `HKLM\Software\Policies\signin-assistant`.
    pub store: String,
    pub message: String,
}

/// What the admins imposed on this machine (empty where there is no policy store).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminPolicy {
    /// The key or domain read, for messages.
    pub source: String,
    pub settings: Vec<PolicySetting>,
}

/// How a policy value becomes a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    /// 0/1 (or the text `true`/`false`).
    Flag,
    /// Several texts: REG_MULTI_SZ or a plist array of strings, or one text with an entry per
    /// line or `;`-separated (for `reg add` and hand-written profiles).
    List,
}

/// One policy name and the config key it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub name: &'static str,
    pub key: &'static str,
    pub kind: Kind,
}

const fn map(name: &'static str, key: &'static str, kind: Kind) -> Mapping {
    Mapping { name, key, kind }
}

/// Every policy name, with the config key it sets. The ADMX template and the example profile
/// use these names.
pub const MAPPINGS: &[Mapping] = &[
    map("Provider", "provider.kind", Kind::Text),
    map("EntraTenant", "entra.tenant", Kind::Text),
    map("EntraClientId", "entra.client_id", Kind::Text),
    map("EntraAuthority", "entra.authority", Kind::Text),
    map("EntraGraph", "entra.graph", Kind::Text),
    map("EntraSignIn", "entra.sign_in", Kind::Text),
    map("PortalUrl", "portal.url", Kind::Text),
    map("PortalTrusted", "portal.trusted", Kind::List),
    map("MaxAgeDays", "policy.max_age_days", Kind::Number),
    map("WarningDays", "policy.warning_days", Kind::Number),
    map("UrgentDays", "policy.urgent_days", Kind::Number),
    map(
        "CheckIntervalMinutes",
        "agent.check_interval_minutes",
        Kind::Number,
    ),
    map("LdapUrl", "ldap.url", Kind::Text),
    map("LdapStartTls", "ldap.starttls", Kind::Flag),
    map("LdapAuth", "ldap.auth", Kind::Text),
    map("LdapBind", "ldap.bind", Kind::Text),
    map("LdapBase", "ldap.base", Kind::Text),
    map("LdapFlavor", "ldap.flavor", Kind::Text),
    map("LdapCaFile", "ldap.ca_file", Kind::Text),
    map("LdapAllowInsecure", "ldap.allow_insecure", Kind::Flag),
    map("LdapChange", "ldap.change", Kind::Text),
    map("LdapKerberosRealm", "ldap.kerberos_realm", Kind::Text),
    map("LdapKdc", "ldap.kdc", Kind::Text),
    map("LdapKpasswd", "ldap.kpasswd", Kind::Text),
    map("Pinentry", "prompt.pinentry", Kind::Text),
];

/// Why a policy value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("not a known policy name")]
    Unknown,
    #[error("{0}")]
    Value(String),
}

/// The config key a policy setting sets, and its value as TOML. Names are matched without
/// regard to case, as the registry does.
pub fn to_config(
    name: &str,
    value: &PolicyValue,
) -> Result<(&'static str, toml::Value), MappingError> {
    let mapping = MAPPINGS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .ok_or(MappingError::Unknown)?;
    let wrong = |wanted: &str| MappingError::Value(format!("must be {wanted}"));
    let toml = match (mapping.kind, value) {
        (kind, PolicyValue::Unsupported(found)) => {
            return Err(MappingError::Value(format!(
                "has the unsupported type {found}; use {}",
                stored_as(kind)
            )))
        }
        (Kind::Text, PolicyValue::Text(text)) => toml::Value::String(text.clone()),
        (Kind::Number, PolicyValue::Number(n)) => toml::Value::Integer(*n),
        // Group Policy editors sometimes write numbers as text.
        (Kind::Number, PolicyValue::Text(text)) => text
            .trim()
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| wrong("a whole number (REG_DWORD, plist integer)"))?,
        (Kind::Flag, PolicyValue::Number(0)) => toml::Value::Boolean(false),
        (Kind::Flag, PolicyValue::Number(1)) => toml::Value::Boolean(true),
        (Kind::Flag, PolicyValue::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "0" | "false" => toml::Value::Boolean(false),
            "1" | "true" => toml::Value::Boolean(true),
            _ => return Err(wrong("0 or 1")),
        },
        (Kind::Flag, PolicyValue::Number(_)) => return Err(wrong("0 or 1")),
        (Kind::List, PolicyValue::List(items)) => list(items.iter().map(String::as_str)),
        (Kind::List, PolicyValue::Text(text)) => list(text.split(['\n', '\r', ';'])),
        (kind, _) => return Err(wrong(stored_as(kind))),
    };
    Ok((mapping.key, toml))
}

/// How a store holds a value of `kind`, for messages.
fn stored_as(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a text (REG_SZ, plist string)",
        Kind::Number | Kind::Flag => "a number (REG_DWORD, plist integer)",
        Kind::List => "a list of texts (REG_MULTI_SZ, plist array of strings)",
    }
}

/// The entries of a list, trimmed, the empty ones (a trailing `;`, a blank line) left out.
fn list<'a>(entries: impl Iterator<Item = &'a str>) -> toml::Value {
    toml::Value::Array(
        entries
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| toml::Value::String(entry.to_string()))
            .collect(),
    )
}

/// Where an admin sets `key` ("table.name") as a policy on this system, for messages:
/// `None` where there is no policy store (Linux, the BSDs) or no name for the key.
pub fn policy_place(key: &str) -> Option<String> {
    let name = MAPPINGS.iter().find(|m| m.key == key)?.name;
    #[cfg(windows)]
    {
        Some(format!(
            r"the policy value HKLM\{WINDOWS_POLICY_KEY}\{name}"
        ))
    }
    #[cfg(target_os = "macos")]
    {
        Some(format!(
            "the managed preference {name} of {}",
            crate::system::paths::MACOS_BUNDLE_ID
        ))
    }
    #[cfg(freedesktop)]
    {
        let _ = name;
        None
    }
}

// Registry value types (winnt.h); managed/windows.rs checks them against windows-sys.
pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;
pub const REG_BINARY: u32 = 3;
pub const REG_DWORD: u32 = 4;
pub const REG_MULTI_SZ: u32 = 7;
pub const REG_QWORD: u32 = 11;

/// A registry value's bytes as a policy value: REG_SZ is UTF-16 (its terminating NULs
/// dropped), REG_MULTI_SZ UTF-16 texts each ended by a NUL (the list by one more),
/// REG_DWORD and REG_QWORD little-endian numbers; other types are unsupported.
pub fn registry_value(kind: u32, data: &[u8]) -> PolicyValue {
    let unsupported = |name: &str| PolicyValue::Unsupported(name.to_string());
    match kind {
        REG_SZ => utf16(data)
            .map(|text| PolicyValue::Text(text.trim_end_matches('\0').to_string()))
            .unwrap_or_else(|| unsupported("REG_SZ that is not valid UTF-16")),
        REG_MULTI_SZ => utf16(data)
            .map(|text| {
                PolicyValue::List(
                    text.split('\0')
                        .filter(|entry| !entry.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            })
            .unwrap_or_else(|| unsupported("REG_MULTI_SZ that is not valid UTF-16")),
        REG_DWORD => match <[u8; 4]>::try_from(data) {
            Ok(bytes) => PolicyValue::Number(u32::from_le_bytes(bytes).into()),
            Err(_) => unsupported("REG_DWORD of a wrong size"),
        },
        REG_QWORD => match <[u8; 8]>::try_from(data) {
            Ok(bytes) => PolicyValue::Number(i64::from_le_bytes(bytes)),
            Err(_) => unsupported("REG_QWORD of a wrong size"),
        },
        REG_EXPAND_SZ => unsupported("REG_EXPAND_SZ"),
        REG_BINARY => unsupported("REG_BINARY"),
        other => PolicyValue::Unsupported(format!("registry type {other}")),
    }
}

/// Little-endian UTF-16 bytes as text; `None` when they are not valid UTF-16.
fn utf16(data: &[u8]) -> Option<String> {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

impl AdminPolicy {
    /// Reads this machine's policy store; a store without our key or domain is an empty policy.
    pub fn read() -> Result<AdminPolicy, PolicyReadError> {
        #[cfg(windows)]
        {
            windows::read()
        }
        #[cfg(target_os = "macos")]
        {
            macos::read()
        }
        #[cfg(freedesktop)]
        {
            Ok(AdminPolicy::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn text(s: &str) -> PolicyValue {
        PolicyValue::Text(s.into())
    }

    #[test]
    fn values_convert_by_kind() {
        type Case = (
            &'static str,
            PolicyValue,
            Result<(&'static str, toml::Value), MappingError>,
        );
        let cases: &[Case] = &[
            (
                "PortalUrl",
                text("https://p.example/"),
                Ok((
                    "portal.url",
                    toml::Value::String("https://p.example/".into()),
                )),
            ),
            (
                "portalurl",
                text("https://p.example/"),
                Ok((
                    "portal.url",
                    toml::Value::String("https://p.example/".into()),
                )),
            ),
            (
                "WarningDays",
                PolicyValue::Number(21),
                Ok(("policy.warning_days", toml::Value::Integer(21))),
            ),
            (
                "WarningDays",
                text(" 21 "),
                Ok(("policy.warning_days", toml::Value::Integer(21))),
            ),
            (
                "LdapStartTls",
                PolicyValue::Number(1),
                Ok(("ldap.starttls", toml::Value::Boolean(true))),
            ),
            (
                "LdapStartTls",
                text("false"),
                Ok(("ldap.starttls", toml::Value::Boolean(false))),
            ),
            (
                "LdapStartTls",
                PolicyValue::Number(2),
                Err(MappingError::Value("must be 0 or 1".into())),
            ),
            (
                "WarningDays",
                text("two weeks"),
                Err(MappingError::Value(
                    "must be a whole number (REG_DWORD, plist integer)".into(),
                )),
            ),
            (
                "EntraTenant",
                PolicyValue::Number(3),
                Err(MappingError::Value(
                    "must be a text (REG_SZ, plist string)".into(),
                )),
            ),
            ("Shoe", text("x"), Err(MappingError::Unknown)),
            (
                "PortalTrusted",
                PolicyValue::List(vec!["https://a.example/".into(), " ".into()]),
                Ok((
                    "portal.trusted",
                    toml::Value::Array(vec![toml::Value::String("https://a.example/".into())]),
                )),
            ),
            (
                "PortalTrusted",
                text("https://a.example/ ; https://b.example/x\nhttps://c.example/;"),
                Ok((
                    "portal.trusted",
                    toml::Value::Array(
                        [
                            "https://a.example/",
                            "https://b.example/x",
                            "https://c.example/",
                        ]
                        .map(|u| toml::Value::String(u.into()))
                        .to_vec(),
                    ),
                )),
            ),
            (
                "PortalTrusted",
                PolicyValue::Number(1),
                Err(MappingError::Value(
                    "must be a list of texts (REG_MULTI_SZ, plist array of strings)".into(),
                )),
            ),
            (
                "LdapUrl",
                PolicyValue::List(vec!["ldaps://a.example".into()]),
                Err(MappingError::Value(
                    "must be a text (REG_SZ, plist string)".into(),
                )),
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(&to_config(name, value), expected, "{name} = {value:?}");
        }
        let err = to_config(
            "WarningDays",
            &PolicyValue::Unsupported("REG_BINARY".into()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("REG_BINARY"), "{err}");
    }

    #[test]
    fn registry_bytes_decode_by_type() {
        let wide: Vec<u8> = "https://p.example/\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(registry_value(REG_SZ, &wide), text("https://p.example/"));
        assert_eq!(registry_value(REG_SZ, &[]), text(""));
        assert_eq!(
            registry_value(REG_DWORD, &21u32.to_le_bytes()),
            PolicyValue::Number(21)
        );
        assert_eq!(
            registry_value(REG_DWORD, &u32::MAX.to_le_bytes()),
            PolicyValue::Number(4_294_967_295)
        );
        assert_eq!(
            registry_value(REG_QWORD, &(-1i64).to_le_bytes()),
            PolicyValue::Number(-1)
        );
        assert_eq!(
            registry_value(REG_DWORD, &[1, 2]),
            PolicyValue::Unsupported("REG_DWORD of a wrong size".into())
        );
        assert_eq!(
            registry_value(REG_BINARY, &[1]),
            PolicyValue::Unsupported("REG_BINARY".into())
        );
        let multi: Vec<u8> = "https://a.example/\0https://b.example/x\0\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            registry_value(REG_MULTI_SZ, &multi),
            PolicyValue::List(vec![
                "https://a.example/".into(),
                "https://b.example/x".into()
            ])
        );
        assert_eq!(
            registry_value(REG_MULTI_SZ, &[0, 0]),
            PolicyValue::List(vec![])
        );
        // An unpaired surrogate is no text.
        assert!(matches!(
            registry_value(REG_SZ, &[0x00, 0xD8]),
            PolicyValue::Unsupported(_)
        ));
    }

    /// Every `attribute="…"` value (or `<key>…</key>` text) in `text`.
    fn all_between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
        text.split(open)
            .skip(1)
            .filter_map(|rest| rest.split(close).next())
            .collect()
    }

    fn asset(path: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    #[test]
    fn the_admx_template_writes_known_values_under_the_policy_key() {
        let admx = asset("assets/windows/policy/signin-assistant.admx");
        let names = all_between(&admx, "valueName=\"", "\"");
        assert!(names.len() >= 7, "{names:?}");
        for name in names {
            assert!(
                !matches!(to_config(name, &text("x")), Err(MappingError::Unknown)),
                "the ADMX writes {name}, which the agent does not know"
            );
        }
        for key in all_between(&admx, " key=\"", "\"") {
            assert_eq!(key, WINDOWS_POLICY_KEY);
        }
        let adml = asset("assets/windows/policy/en-US/signin-assistant.adml");
        for id in all_between(&admx, "$(string.", ")") {
            assert!(
                adml.contains(&format!("<string id=\"{id}\">")),
                "no string {id}"
            );
        }
        for id in all_between(&admx, "$(presentation.", ")") {
            assert!(
                adml.contains(&format!("<presentation id=\"{id}\">")),
                "no presentation {id}"
            );
        }
    }

    #[test]
    fn the_template_and_the_profile_offer_every_policy_name() {
        let admx = asset("assets/windows/policy/signin-assistant.admx");
        let profile = asset("assets/macos/signin-assistant.mobileconfig");
        for m in MAPPINGS {
            assert!(
                admx.contains(&format!("valueName=\"{}\"", m.name)),
                "the ADMX template does not offer {}",
                m.name
            );
            assert!(
                profile.contains(&format!("<key>{}</key>", m.name)),
                "the example profile does not show {}",
                m.name
            );
        }
        // A list is written by a multiText element (REG_MULTI_SZ), a flag as 1 or 0.
        for m in MAPPINGS.iter().filter(|m| m.kind == Kind::List) {
            assert!(admx.contains(&format!("<multiText id=\"{0}\" valueName=\"{0}\"", m.name)));
        }
    }

    #[test]
    fn the_example_profile_and_bundle_use_the_bundle_id_and_known_keys() {
        let profile = asset("assets/macos/signin-assistant.mobileconfig");
        let keys: Vec<_> = all_between(&profile, "<key>", "</key>")
            .into_iter()
            .filter(|k| !k.starts_with("Payload"))
            .collect();
        assert!(keys.len() >= 5, "{keys:?}");
        for key in keys {
            assert!(
                !matches!(to_config(key, &text("x")), Err(MappingError::Unknown)),
                "the profile sets {key}, which the agent does not know"
            );
        }
        let domain = crate::system::paths::MACOS_BUNDLE_ID;
        assert!(profile.contains(&format!(
            "<key>PayloadType</key>\n      <string>{domain}</string>"
        )));
        let info = asset("assets/macos/Info.plist");
        assert!(info.contains(&format!(
            "<key>CFBundleIdentifier</key>\n  <string>{domain}</string>"
        )));
    }
}
