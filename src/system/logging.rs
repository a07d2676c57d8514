//! Where the program's messages go: stderr, and a size-bounded log file under the state
//! directory (`logs/signin-assistant.log`, at most [`MAX_FILE_BYTES`] × [`KEPT_FILES`]).
//!
//! The agent starts at login with no terminal, so without the file its messages would be lost;
//! a bound keeps a chatty night from filling the disk. How much is said: `-v`/`-q` when given,
//! else `SIGNIN_ASSISTANT_LOG`, else `RUST_LOG` (`target=level` lists), else warnings (info for
//! the agent). Secrets never reach a message in the first place (see `credentials::Secret`),
//! so the file holds nothing the terminal would not.

pub mod rotating;

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use self::rotating::RotatingFile;

/// The largest a log file grows before it is rotated.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// How many files are kept: the current one and the rotated ones (`.1`, `.2`).
pub const KEPT_FILES: usize = 3;
/// The log file's name in [`log_dir`].
pub const FILE_NAME: &str = "signin-assistant.log";

/// How the program logs.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// The agent (`run`) says what it does (info); commands only warn.
    pub agent: bool,
    /// `-v` count (more than the command's default), or minus the `-q` count (-1: errors only,
    /// -2: nothing); 0 when neither was given.
    pub verbosity: i8,
    /// Write the log file too (not for the demo, which keeps off the person's files).
    pub to_file: bool,
}

/// `logs/` in the state directory.
pub fn log_dir() -> Option<PathBuf> {
    crate::system::paths::state_dir().map(|d| d.join("logs"))
}

/// Installs the global subscriber: stderr, plus the rotating file when asked for.
pub fn init(settings: &LogSettings) {
    let file = settings
        .to_file
        .then(log_dir)
        .flatten()
        .map(|dir| RotatingFile::new(dir, FILE_NAME, MAX_FILE_BYTES, KEPT_FILES));
    // Colours only for a person at a terminal: not in a session log or a journal.
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let file = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_target(false)
    });
    let (filter, unreadable) = filter(settings);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    if let Some(variable) = unreadable {
        tracing::warn!(
            variable,
            "ignoring a log filter that is not a list of level and target=level"
        );
    }
}

/// The filter: the flags, else the environment, else the default level. The environment's
/// value is a list of `level` and `target=level` (what `RUST_LOG` usually holds); one that does
/// not parse is ignored, and its variable returned to be warned about.
pub fn filter(settings: &LogSettings) -> (Targets, Option<&'static str>) {
    let mut unreadable = None;
    if settings.verbosity == 0 {
        for variable in ["SIGNIN_ASSISTANT_LOG", "RUST_LOG"] {
            let Ok(value) = std::env::var(variable) else {
                continue;
            };
            match value.parse::<Targets>() {
                Ok(filter) => return (filter, None),
                Err(_) => unreadable = unreadable.or(Some(variable)),
            }
        }
    }
    let default = directives(settings.agent, settings.verbosity)
        .parse()
        .expect("the built-in directives parse");
    (default, unreadable)
}

/// The filter directives for a verbosity: the program's own messages at the level the flags
/// ask for, other libraries' at most at warning (all of them at the most verbose level).
pub fn directives(agent: bool, verbosity: i8) -> String {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let base: i8 = if agent { 3 } else { 2 };
    // -q: errors only, whatever the command; -qq: nothing.
    let ours = if verbosity < 0 {
        (2 + verbosity).max(0) as usize
    } else {
        (base + verbosity).min(5) as usize
    };
    if verbosity == 0 {
        return LEVELS[ours].to_string();
    }
    let others = if ours == 5 { 5 } else { ours.min(2) };
    format!("{},signin_assistant={}", LEVELS[others], LEVELS[ours])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_directive_parses() {
        for agent in [false, true] {
            for verbosity in -3..=4 {
                let directives = directives(agent, verbosity);
                assert!(directives.parse::<Targets>().is_ok(), "{directives}");
            }
        }
    }

    #[test]
    fn flags_move_the_level_from_the_default() {
        assert_eq!(directives(false, 0), "warn");
        assert_eq!(directives(true, 0), "info");
        assert_eq!(directives(false, 1), "warn,signin_assistant=info");
        assert_eq!(directives(false, 2), "warn,signin_assistant=debug");
        assert_eq!(directives(true, 2), "trace,signin_assistant=trace");
        assert_eq!(directives(false, 9), "trace,signin_assistant=trace");
        assert_eq!(directives(false, -1), "error,signin_assistant=error");
        assert_eq!(directives(true, -1), "error,signin_assistant=error");
        assert_eq!(directives(true, -2), "off,signin_assistant=off");
        assert_eq!(directives(false, -5), "off,signin_assistant=off");
    }
}
