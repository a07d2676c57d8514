//! The effective configuration as a person reads it (`signin-assistant config show`, `doctor`):
//! every key with its value and the file and line that set it, grouped in the tables of the
//! file, so an admin sees at once which layer won and can copy a line into their own file. A
//! value the admins imposed (an enforced file, the policy) says "enforced by your
//! administrator", so a person knows why their own file does not change it.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use url::Url;

use super::{ChangeMode, Config, LdapAuth, LdapFlavor, Origin, ProviderKind, SignInMethod};

/// One effective value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// "table.key".
    pub key: &'static str,
    /// The value as TOML writes it (strings quoted); None when it is not set.
    pub value: Option<String>,
    /// "FILE:LINE", "policy SETTING", or "built-in default".
    #[serde(serialize_with = "as_text")]
    pub origin: Origin,
    /// Imposed by the admins (an enforced file or the policy): no person's file overrides it.
    pub enforced: bool,
}

/// What a value imposed by the admins says beside its origin.
pub const ENFORCED: &str = "enforced by your administrator";

fn as_text<S: serde::Serializer>(origin: &Origin, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(origin)
}

/// A value as TOML writes it.
pub(super) trait ShowValue {
    fn show(&self) -> Option<String>;
}

fn quoted(text: &str) -> Option<String> {
    Some(toml::Value::String(text.to_string()).to_string())
}

impl ShowValue for String {
    fn show(&self) -> Option<String> {
        quoted(self)
    }
}

impl ShowValue for Url {
    fn show(&self) -> Option<String> {
        quoted(self.as_str())
    }
}

impl ShowValue for PathBuf {
    fn show(&self) -> Option<String> {
        quoted(&self.to_string_lossy())
    }
}

impl ShowValue for bool {
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl ShowValue for u64 {
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl ShowValue for i64 {
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Choices are shown by the name a file gives them (the same serde names they are read by).
macro_rules! show_by_name {
    ($($choice:ty),*) => {$(
        impl ShowValue for $choice {
            fn show(&self) -> Option<String> {
                toml::Value::try_from(self).ok().map(|value| value.to_string())
            }
        }
    )*};
}

show_by_name!(ProviderKind, LdapAuth, LdapFlavor, SignInMethod, ChangeMode);

impl<T: ShowValue> ShowValue for Vec<T> {
    fn show(&self) -> Option<String> {
        let shown: Vec<String> = self.iter().filter_map(ShowValue::show).collect();
        Some(format!("[{}]", shown.join(", ")))
    }
}

impl<T: ShowValue> ShowValue for Option<T> {
    fn show(&self) -> Option<String> {
        self.as_ref().and_then(ShowValue::show)
    }
}

impl Config {
    /// The effective configuration as TOML with the origin of each value in a comment, e.g.
    /// `warning_days = 10   # /etc/signin-assistant/config.toml:4`.
    pub fn show(&self) -> String {
        let mut text = String::new();
        if self.files.is_empty() {
            text.push_str("# No configuration file was read: built-in defaults only.\n");
        } else {
            text.push_str("# Files read, later ones win:\n");
            for file in &self.files {
                let enforced = if self.enforced_files.contains(file) {
                    format!("  ({ENFORCED})")
                } else {
                    String::new()
                };
                let _ = writeln!(text, "#   {}{enforced}", file.display());
            }
        }
        let settings = self.settings();
        let width = settings.iter().map(|s| line_of(s).len()).max().unwrap_or(0);
        let mut table = "";
        for setting in &settings {
            let (this_table, _) = setting.key.split_once('.').unwrap_or(("", setting.key));
            if this_table != table {
                table = this_table;
                let _ = write!(text, "\n[{table}]\n");
            }
            let line = line_of(setting);
            match setting.value {
                Some(_) if setting.enforced => {
                    let _ = writeln!(text, "{line:width$}  # {ENFORCED}: {}", setting.origin);
                }
                Some(_) => {
                    let _ = writeln!(text, "{line:width$}  # {}", setting.origin);
                }
                None => {
                    let _ = writeln!(text, "{line}");
                }
            }
        }
        text
    }
}

/// `key = value`, or `# key is not set`.
fn line_of(setting: &Setting) -> String {
    let name = setting.key.split_once('.').map_or(setting.key, |(_, k)| k);
    match &setting.value {
        Some(value) => format!("{name} = {value}"),
        None => format!("# {name} is not set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::Layer;
    use std::path::Path;

    #[test]
    fn every_key_with_its_value_and_origin() {
        let mut config = Config::default();
        config
            .apply_text(
                Path::new("/etc/sa.toml"),
                "[account]\nusername = \"adele@contoso.com\"\n\n[policy]\nwarning_days = 10\n",
            )
            .unwrap();
        config.files.push("/etc/sa.toml".into());
        let settings = config.settings();
        let get = |key: &str| settings.iter().find(|s| s.key == key).unwrap().clone();
        assert_eq!(
            get("account.username").value.as_deref(),
            Some("\"adele@contoso.com\"")
        );
        assert_eq!(get("account.username").origin.to_string(), "/etc/sa.toml:2");
        assert_eq!(get("policy.warning_days").value.as_deref(), Some("10"));
        assert_eq!(get("policy.max_age_days").origin, Origin::Default);
        assert_eq!(get("entra.tenant").value, None);
        assert_eq!(get("provider.kind").value.as_deref(), Some("\"entra\""));

        let text = config.show();
        assert!(text.contains("#   /etc/sa.toml\n"), "{text}");
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no {start} in\n{text}"))
                .to_string()
        };
        assert!(line("warning_days = 10").ends_with("# /etc/sa.toml:5"));
        assert!(line("max_age_days = 90").ends_with("# built-in default"));
        assert_eq!(line("# tenant"), "# tenant is not set");
        assert!(text.contains("\n[ldap]\n"), "{text}");
        // What is printed is TOML that reads back to the same values.
        let mut again = Config::default();
        again.apply_text(Path::new("/x.toml"), &text).unwrap();
        assert_eq!(again.policy, config.policy);
        assert_eq!(again.account, config.account);
    }

    #[test]
    fn values_the_admins_impose_say_so() {
        let mut config = Config::default();
        config
            .apply_layer(
                Path::new("/home/u/config.toml"),
                "[ldap]\nurl = \"ldaps://elsewhere.example.net\"\n[policy]\nwarning_days = 7\n",
                Layer::User,
            )
            .unwrap();
        config
            .apply_layer(
                Path::new("/etc/signin-assistant/enforced.toml"),
                "[ldap]\nurl = \"ldaps://dc.corp.example\"\n",
                Layer::Enforced,
            )
            .unwrap();
        config.set_origin(
            "portal.url",
            Origin::Policy {
                setting: r"HKLM\Software\Policies\signin-assistant\PortalUrl".into(),
            },
        );
        let text = config.show();
        let line = |start: &str| text.lines().find(|l| l.starts_with(start)).unwrap();
        assert!(
            line("url = \"ldaps://dc.corp.example\"").ends_with(
                "# enforced by your administrator: /etc/signin-assistant/enforced.toml:2"
            ),
            "{text}"
        );
        assert!(
            line("url = \"https://passwordreset").ends_with(
                r"# enforced by your administrator: policy HKLM\Software\Policies\signin-assistant\PortalUrl"
            ),
            "{text}"
        );
        assert!(
            line("warning_days = 7").ends_with("# /home/u/config.toml:4"),
            "{text}"
        );
        assert!(
            text.contains(
                "#   /etc/signin-assistant/enforced.toml  (enforced by your administrator)\n"
            ),
            "{text}"
        );
        let settings = config.settings();
        let get = |key: &str| settings.iter().find(|s| s.key == key).unwrap();
        assert!(get("ldap.url").enforced && get("portal.url").enforced);
        assert!(!get("policy.warning_days").enforced);
        let json = serde_json::to_value(get("ldap.url")).unwrap();
        assert_eq!(json["enforced"], true);
        assert_eq!(json["origin"], "/etc/signin-assistant/enforced.toml:2");
    }

    #[test]
    fn json_names_the_origin_in_words() {
        let config = Config::default();
        let json = serde_json::to_value(&config.settings()[0]).unwrap();
        assert_eq!(json["key"], "account.username");
        assert_eq!(json["value"], serde_json::Value::Null);
        assert_eq!(json["origin"], "built-in default");
    }
}
