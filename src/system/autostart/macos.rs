//! macOS: a LaunchAgent. launchd loads every property list in `~/Library/LaunchAgents` at login
//! and, with `RunAtLoad`, starts its program. A LaunchAgent installed for all users in
//! `/Library/LaunchAgents` is reported; only an administrator (or `launchctl disable`) can turn
//! that one off, so `disable` says how instead of pretending.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{AutostartError, AutostartStatus, LAUNCH_AGENT_LABEL};

/// Where LaunchAgents live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// `~/Library/LaunchAgents`.
    user_agents: PathBuf,
    /// `/Library/LaunchAgents`.
    admin_agents: PathBuf,
}

impl Places {
    pub fn from_env() -> Result<Places, AutostartError> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .ok_or(AutostartError::NoHome)?;
        Ok(Places {
            user_agents: home.join("Library/LaunchAgents"),
            admin_agents: PathBuf::from("/Library/LaunchAgents"),
        })
    }

    pub fn under(root: &Path) -> Places {
        Places {
            user_agents: root.join("home/Library/LaunchAgents"),
            admin_agents: root.join("Library/LaunchAgents"),
        }
    }

    fn user_file(&self) -> PathBuf {
        self.user_agents.join(format!("{LAUNCH_AGENT_LABEL}.plist"))
    }

    fn admin_file(&self) -> PathBuf {
        self.admin_agents
            .join(format!("{LAUNCH_AGENT_LABEL}.plist"))
    }
}

pub fn status(places: &Places) -> Result<AutostartStatus, AutostartError> {
    let user = read(&places.user_file())?;
    let admin = read(&places.admin_file())?;
    let deciding = user.as_deref().or(admin.as_deref());
    let enabled = deciding.is_some_and(|text| !disabled(text));
    let program = deciding
        .filter(|_| enabled)
        .and_then(first_program_argument);
    Ok(AutostartStatus {
        enabled,
        user_entry: user
            .is_some()
            .then(|| places.user_file().display().to_string()),
        admin_entry: admin
            .is_some()
            .then(|| places.admin_file().display().to_string()),
        program,
    })
}

pub fn enable(places: &Places, program: &Path) -> Result<(), AutostartError> {
    let path = places.user_file();
    let dir = &places.user_agents;
    fs::create_dir_all(dir).map_err(|e| AutostartError::io("create", dir, e))?;
    fs::write(&path, super::launch_agent(program)?)
        .map_err(|e| AutostartError::io("write", &path, e))
}

pub fn disable(places: &Places) -> Result<(), AutostartError> {
    let path = places.user_file();
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(AutostartError::io("remove", &path, e)),
    }
    if places.admin_file().is_file() {
        return Err(AutostartError::NeedsAdministrator(format!(
            "your administrator set signin-assistant up to start at login for all users ({}); \
             to turn it off for you only, run `launchctl disable gui/$(id -u)/{LAUNCH_AGENT_LABEL}`",
            places.admin_file().display()
        )));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Option<String>, AutostartError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AutostartError::io("read", path, e)),
    }
}

/// `<key>Disabled</key><true/>`: launchd does not load it.
fn disabled(plist: &str) -> bool {
    let compact: String = plist.split_whitespace().collect();
    compact.contains("<key>Disabled</key><true/>")
}

/// The first `<string>` of `ProgramArguments`.
fn first_program_argument(plist: &str) -> Option<PathBuf> {
    let after = plist.split("<key>ProgramArguments</key>").nth(1)?;
    let start = after.find("<string>")? + "<string>".len();
    let end = after[start..].find("</string>")? + start;
    let text = after[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(PathBuf::from(text))
}
