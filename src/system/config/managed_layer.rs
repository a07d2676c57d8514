//! The admin policy laid over the configuration files: each value the admins imposed (Group
//! Policy, managed preferences; read by `system::managed`) replaces what any file said, and
//! remembers the policy setting as its origin, so errors and `config show` name it.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, Origin};
use crate::system::managed::{
    to_config, AdminPolicy, MappingError, PolicyReadError, PolicySetting,
};

/// The pseudo file name errors about a policy setting carry.
fn policy_file(location: &str) -> PathBuf {
    PathBuf::from(format!("policy {location}"))
}

impl From<PolicyReadError> for ConfigError {
    fn from(e: PolicyReadError) -> ConfigError {
        ConfigError {
            file: policy_file(&e.store),
            line: None,
            key: None,
            message: e.message,
        }
    }
}

impl Config {
    /// Lays `policy` over the configuration (after every file), so no file can override it; each key it
    /// sets remembers the policy setting as its origin. Unknown names are skipped with a
    /// warning (a newer template may reach an older agent); unusable values are errors.
    pub fn apply_policy(&mut self, policy: &AdminPolicy) -> Result<(), ConfigError> {
        let mut tables = toml::Table::new();
        let mut origins: Vec<(&'static str, &PolicySetting)> = Vec::new();
        for setting in &policy.settings {
            let (key, value) = match to_config(&setting.name, &setting.value) {
                Ok(mapped) => mapped,
                Err(MappingError::Unknown) => {
                    tracing::warn!(setting = %setting.location, "unknown policy value; ignored");
                    continue;
                }
                Err(MappingError::Value(message)) => {
                    return Err(ConfigError {
                        file: policy_file(&setting.location),
                        line: None,
                        key: None,
                        message,
                    })
                }
            };
            let (table, name) = key.split_once('.').expect("keys are table.name");
            tables
                .entry(table)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("a table")
                .insert(name.to_string(), value);
            origins.retain(|(k, _)| *k != key);
            origins.push((key, setting));
        }
        if origins.is_empty() {
            return Ok(());
        }
        let text = tables.to_string();
        let source = policy_file(&policy.source);
        self.apply_text(Path::new(&source), &text).map_err(|e| {
            // Name the setting behind the key, not a line of the generated text.
            let setting = origins
                .iter()
                .find(|(k, _)| Some(*k) == e.key.as_deref())
                .map(|(_, s)| s.location.as_str())
                .unwrap_or(&policy.source);
            ConfigError {
                file: policy_file(setting),
                line: None,
                ..e
            }
        })?;
        for (key, setting) in origins {
            self.set_origin(
                key,
                Origin::Policy {
                    setting: setting.location.clone(),
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::{Layer, LayerFile};
    use crate::system::managed::{Kind, PolicyValue, MAPPINGS};

    const SOURCE: &str = r"HKLM\Software\Policies\signin-assistant";

    fn policy(settings: &[(&str, PolicyValue)]) -> AdminPolicy {
        AdminPolicy {
            source: SOURCE.into(),
            settings: settings
                .iter()
                .map(|(name, value)| PolicySetting {
                    name: name.to_string(),
                    value: value.clone(),
                    location: format!(r"{SOURCE}\{name}"),
                })
                .collect(),
        }
    }

    fn text(s: &str) -> PolicyValue {
        PolicyValue::Text(s.into())
    }

    #[test]
    fn every_name_maps_to_a_real_config_key() {
        for m in MAPPINGS {
            let value = match m.kind {
                Kind::Text => text(match m.key {
                    "provider.kind" => "ldap",
                    "ldap.flavor" => "openldap",
                    "ldap.auth" => "kerberos",
                    "ldap.bind" => "{username}",
                    "ldap.url" => "ldaps://dc.example.com",
                    "ldap.change" => "portal",
                    "entra.sign_in" => "device_code",
                    "entra.tenant" => "contoso.example",
                    "portal.url" | "entra.authority" | "entra.graph" => "https://example.com/",
                    _ => "value",
                }),
                Kind::Number => PolicyValue::Number(7),
                Kind::Flag => PolicyValue::Number(1),
                Kind::List => PolicyValue::List(vec!["https://example.com/a/".into()]),
            };
            let mut config = Config::default();
            config
                .apply_policy(&policy(&[(m.name, value)]))
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            assert!(
                matches!(config.origin(m.key), Origin::Policy { .. }),
                "{} did not set {}",
                m.name,
                m.key
            );
        }
    }

    #[test]
    fn policy_wins_over_the_user_file_and_is_named_as_origin() {
        let mut config = Config::default();
        config
            .apply_text(
                Path::new("/home/u/config.toml"),
                "[portal]\nurl = \"https://user.example/\"\n[policy]\nwarning_days = 3\nurgent_days = 1\n",
            )
            .unwrap();
        config
            .apply_policy(&policy(&[
                ("PortalUrl", text("https://admin.example/change")),
                ("WarningDays", PolicyValue::Number(21)),
            ]))
            .unwrap();
        assert_eq!(config.portal.url.as_str(), "https://admin.example/change");
        assert_eq!(config.policy.warning_days, 21);
        assert_eq!(
            config.policy.urgent_days, 1,
            "keys the policy leaves alone stay"
        );
        let origin = config.origin("portal.url");
        assert_eq!(
            origin.to_string(),
            r"policy HKLM\Software\Policies\signin-assistant\PortalUrl"
        );
        assert_eq!(
            config.origin("policy.urgent_days").to_string(),
            "/home/u/config.toml:5"
        );
    }

    #[test]
    fn a_bad_policy_value_is_an_error_naming_the_setting() {
        let mut config = Config::default();
        let err = config
            .apply_policy(&policy(&[("Provider", text("kerberos"))]))
            .unwrap_err();
        assert_eq!(
            err.file,
            PathBuf::from(r"policy HKLM\Software\Policies\signin-assistant\Provider")
        );
        assert_eq!(err.key.as_deref(), Some("provider.kind"));
        assert_eq!(err.line, None);

        let err = config
            .apply_policy(&policy(&[("WarningDays", text("soon"))]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(r"policy HKLM\Software\Policies\signin-assistant\WarningDays: "),
            "{err}"
        );
    }

    #[test]
    fn validation_errors_point_at_the_policy() {
        let mut config = Config::default();
        config
            .apply_policy(&policy(&[("PortalUrl", text("http://portal.example/"))]))
            .unwrap();
        let err = config.error_at("portal.url", "must be https");
        assert_eq!(
            err.to_string(),
            r"policy HKLM\Software\Policies\signin-assistant\PortalUrl: key `portal.url`: must be https"
        );
    }

    #[test]
    fn merged_configuration_is_validated_with_the_policy_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[portal]\nurl = \"https://user.example/\"\n").unwrap();
        let user = [LayerFile::new(&user, Layer::User)];
        let config = Config::merge(
            &user,
            &policy(&[("PortalUrl", text("https://admin.example/"))]),
        )
        .unwrap();
        assert_eq!(config.portal.url.as_str(), "https://admin.example/");
        let err = Config::merge(
            &user,
            &policy(&[("PortalUrl", text("http://admin.example/"))]),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                r"policy HKLM\Software\Policies\signin-assistant\PortalUrl: key `portal.url`: "
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_names_are_skipped_and_an_empty_policy_changes_nothing() {
        let mut config = Config::default();
        config
            .apply_policy(&policy(&[("FutureSetting", text("x"))]))
            .unwrap();
        config.apply_policy(&AdminPolicy::default()).unwrap();
        assert_eq!(config.origin("portal.url"), Origin::Default);
    }
}
