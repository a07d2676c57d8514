//! The configuration: whether it loads, and from which files. The values themselves, with the
//! file and line of each, are printed by the doctor above the checks (`Config::show`).

use super::Item;
use crate::system::config::{Config, ConfigError};

const CHECK: &str = "configuration";

pub fn check(config: &Result<Config, ConfigError>) -> Item {
    match config {
        Ok(config) if config.files.is_empty() => Item::warning(
            CHECK,
            "no configuration file was read: built-in defaults only",
            format!(
                "ask your IT department for the settings of your directory, or put them in {}",
                crate::system::config::user_config_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "your configuration file".into())
            ),
        ),
        Ok(config) => Item::ok(
            CHECK,
            format!(
                "read {}",
                config
                    .files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Err(e) => Item::problem(
            CHECK,
            e.to_string(),
            "correct that line; the other checks that need the configuration were skipped",
        ),
    }
}
