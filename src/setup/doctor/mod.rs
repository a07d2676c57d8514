//! `signin-assistant doctor`: looks at everything the product depends on, one line per item
//! with ok / warning / problem and what to do, so a person (or a helpdesk reading it over the
//! phone) finds what is missing without knowing how the program works.
//!
//! The checks, one file per family: `settings` (the configuration and where each value came
//! from), `keyring` (a round trip with a throwaway entry), `desktop` (notification server,
//! tray host), `endpoint` (name, TLS, token endpoint or LDAP connection, and the clock against
//! the endpoint's), `local` (starting at login, a running agent). Each family runs with a
//! time limit, so a hung service is reported instead of hanging the doctor. A *problem* is
//! something that stops the product from warning in time; a *warning* is something that makes
//! it worse; only problems make the command exit non-zero.

mod desktop;
mod endpoint;
mod keyring;
mod local;
mod settings;

use std::fmt::{self, Write as _};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::system::autostart::{AutostartError, LoginItem};
use crate::system::config::{Config, ConfigError, Setting};
use crate::system::credentials::CredentialCache;

/// The endpoint's checks alone (name, connection, answer, clock), e.g. for a configuration
/// before it is written.
pub async fn check_endpoint(config: &Config) -> Vec<Item> {
    endpoint::check(Some(config)).await
}

/// How long one family of checks may take (the endpoint's has up to four steps of 10 s).
const FAMILY_LIMIT: Duration = Duration::from_secs(45);

/// How an item looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "problem",
        })
    }
}

/// One line of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What was looked at, e.g. "keyring".
    pub check: &'static str,
    pub level: Level,
    /// What was found, in plain words.
    pub summary: String,
    /// What to do about it, when there is something to do.
    pub fix: Option<String>,
}

impl Item {
    pub fn ok(check: &'static str, summary: impl Into<String>) -> Item {
        Item {
            check,
            level: Level::Ok,
            summary: summary.into(),
            fix: None,
        }
    }

    pub fn warning(
        check: &'static str,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item::with_fix(Level::Warning, check, summary.into(), fix.into())
    }

    pub fn problem(
        check: &'static str,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item::with_fix(Level::Problem, check, summary.into(), fix.into())
    }

    fn with_fix(level: Level, check: &'static str, summary: String, fix: String) -> Item {
        Item {
            check,
            level,
            summary,
            fix: Some(fix),
        }
    }
}

/// What the doctor works with; the real program builds it with [`Inputs::for_this_user`].
pub struct Inputs {
    /// The configuration, or why it does not load.
    pub config: Result<Config, ConfigError>,
    /// The keyring to try a throwaway entry in.
    pub keyring: CredentialCache,
    /// The directory of the state file and the agent's lock.
    pub state_dir: Option<PathBuf>,
    /// The agent's login item.
    pub login_item: Result<LoginItem, AutostartError>,
}

impl Inputs {
    /// The program's own configuration (`--config` in the user file's place), keyring, state
    /// directory and login item.
    pub fn for_this_user(explicit_config: Option<&std::path::Path>) -> Inputs {
        Inputs {
            config: Config::load(explicit_config),
            keyring: CredentialCache::os_with_service(keyring::SERVICE),
            state_dir: crate::system::paths::state_dir(),
            login_item: LoginItem::for_this_program(),
        }
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub version: &'static str,
    /// No problem was found (warnings may remain).
    pub ok: bool,
    pub items: Vec<Item>,
    /// The configuration files read, lowest layer first (empty when it did not load).
    pub config_files: Vec<PathBuf>,
    /// Every effective value and where it came from (empty when it did not load).
    pub settings: Vec<Setting>,
}

/// Runs every check.
pub async fn diagnose(inputs: Inputs) -> Diagnosis {
    let config = inputs.config.as_ref().ok();
    let (keyring, desktop, endpoint, local) = tokio::join!(
        limited("keyring", keyring::check(inputs.keyring)),
        limited("desktop", desktop::check()),
        limited("endpoint", endpoint::check(config)),
        limited(
            "this computer",
            local::check(inputs.login_item, inputs.state_dir)
        ),
    );
    let mut items = vec![settings::check(&inputs.config)];
    for family in [keyring, desktop, endpoint, local] {
        items.extend(family);
    }
    Diagnosis {
        version: crate::VERSION,
        ok: items.iter().all(|i| i.level != Level::Problem),
        items,
        config_files: config.map(|c| c.files.clone()).unwrap_or_default(),
        settings: config.map(Config::settings).unwrap_or_default(),
    }
}

/// A family of checks, reported as one problem when it takes longer than [`FAMILY_LIMIT`].
async fn limited(family: &'static str, checks: impl Future<Output = Vec<Item>>) -> Vec<Item> {
    match tokio::time::timeout(FAMILY_LIMIT, checks).await {
        Ok(items) => items,
        Err(_) => vec![Item::problem(
            family,
            format!(
                "the checks did not finish within {} s",
                FAMILY_LIMIT.as_secs()
            ),
            "run `signin-assistant doctor -v` to see where it waits",
        )],
    }
}

impl Diagnosis {
    /// The text a person reads: the configuration, then one line per item, then the verdict.
    pub fn text(&self, config: Option<&Config>) -> String {
        let mut text = format!("signin-assistant {}\n\n", self.version);
        if let Some(config) = config {
            text.push_str("Configuration:\n");
            for line in config.show().lines() {
                let _ = writeln!(text, "  {line}");
            }
            text.push('\n');
        }
        let width = self.items.iter().map(|i| i.check.len()).max().unwrap_or(0);
        for item in &self.items {
            let _ = write!(
                text,
                "{:<8} {:<width$}  {}",
                item.level, item.check, item.summary
            );
            if let Some(fix) = &item.fix {
                let _ = write!(text, " — {fix}");
            }
            text.push('\n');
        }
        let count = |level| self.items.iter().filter(|i| i.level == level).count();
        let (problems, warnings) = (count(Level::Problem), count(Level::Warning));
        text.push('\n');
        text.push_str(&match (problems, warnings) {
            (0, 0) => "Everything signin-assistant needs is in place.\n".to_string(),
            (0, w) => format!("Nothing blocks signin-assistant; {w} warning(s) above.\n"),
            (p, _) => {
                format!("{p} problem(s) above keep signin-assistant from warning you in time.\n")
            }
        });
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_item_and_a_verdict() {
        let diagnosis = Diagnosis {
            version: "1.0 (commit x)",
            ok: false,
            items: vec![
                Item::ok("keyring", "a throwaway entry was written and read back"),
                Item::problem("notifications", "no notification server", "start one"),
                Item::warning("tray", "no tray host", "install one"),
            ],
            config_files: vec![],
            settings: vec![],
        };
        let text = diagnosis.text(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "signin-assistant 1.0 (commit x)");
        assert!(
            text.contains("ok       keyring        a throwaway entry was written and read back\n")
        );
        assert!(text.contains("problem  notifications  no notification server — start one\n"));
        assert!(text.contains("warning  tray           no tray host — install one\n"));
        assert!(lines.last().unwrap().starts_with("1 problem(s) above"));
        let json = serde_json::to_value(&diagnosis).unwrap();
        assert_eq!(json["items"][1]["level"], "problem");
        assert_eq!(json["items"][1]["fix"], "start one");
        assert_eq!(json["ok"], false);
    }
}
