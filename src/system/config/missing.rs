//! The values the product cannot work without, and what to tell a person who has not set them:
//! which file they belong in, who usually knows them, and the command that finds or asks for
//! them (`signin-assistant setup`).
//!
//! A fresh installation has none of them. The agent then waits in a "not set up" state instead
//! of stopping (`providers::missing` says what it waits for: each provider knows what its
//! table needs), and every command that needs one
//! names it in a single error ([`Config::missing_error`]).

use std::path::PathBuf;

use super::{Config, ConfigError};

/// The command that writes the missing values.
pub const SETUP_COMMAND: &str = "signin-assistant setup";

/// A required value no layer sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// "table.key".
    pub key: &'static str,
    /// What it is, in plain words: "the Entra application (client) id".
    pub what: &'static str,
    /// Who usually knows it, as advice: "ask your IT desk for …".
    pub who: &'static str,
}

impl Missing {
    /// The words for a required value without words of its own.
    pub const GENERIC: Missing = Missing {
        key: "configuration",
        what: "a required value",
        who: "ask your IT desk",
    };
}

/// "the Entra application (client) id and the Entra tenant".
pub fn describe(missing: &[Missing]) -> String {
    let words: Vec<&str> = missing.iter().map(|m| m.what).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Config {
    /// The error for a required `key` that is not set: located in the file it belongs in (the
    /// user's, or `--config`'s) at its table's line when the file has that table, with who
    /// usually knows the value and the command that writes it.
    pub fn missing_error(&self, missing: &Missing, requirement: &str) -> ConfigError {
        let key = missing.key;
        let file = self.file_for_user_values();
        let table = key.split('.').next().unwrap_or_default();
        let line = std::fs::read_to_string(&file).ok().and_then(|text| {
            text.lines()
                .position(|l| l.trim() == format!("[{table}]"))
                .map(|i| i + 1)
        });
        ConfigError {
            file,
            line,
            key: Some(key.to_string()),
            message: format!(
                "is not set, and {requirement}: {}, or run `{SETUP_COMMAND}`, which finds or asks for it and writes it here",
                missing.who
            ),
        }
    }

    /// Where a person's own values go: `--config FILE`, else the user file, else (no home
    /// directory) the last file read.
    pub fn file_for_user_values(&self) -> PathBuf {
        self.user_file
            .clone()
            .or_else(|| self.files.last().cloned())
            .unwrap_or_else(|| PathBuf::from("(no configuration file)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_names_the_user_file_the_table_line_and_who_knows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "[account]\nusername = \"a@b.example\"\n\n[entra]\ntenant = \"b.example\"\n",
        )
        .unwrap();
        let mut c = Config::from_files(std::slice::from_ref(&file)).unwrap();
        c.user_file = Some(file.clone());
        let client_id = Missing {
            key: "entra.client_id",
            what: "the Entra application (client) id",
            who: "ask your IT desk for the application (client) id",
        };
        let e = c.missing_error(&client_id, "Entra ID needs it");
        assert_eq!(e.file, file);
        assert_eq!(e.line, Some(4));
        assert_eq!(e.key.as_deref(), Some("entra.client_id"));
        let text = e.to_string();
        assert!(text.contains("ask your IT desk"), "{text}");
        assert!(text.contains("signin-assistant setup"), "{text}");
    }
}
