//! Starting at login: whether the agent (`signin-assistant run`) is started when the person logs
//! in, and switching that on and off, the way each OS does it.
//!
//! - Linux and the BSDs: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/
//!   signin-assistant.desktop`. An entry installed for all users in `$XDG_CONFIG_DIRS/autostart`
//!   (`/etc/xdg/autostart`, e.g. by the package) is respected: it is reported, and turning
//!   starting at login off writes the standard per-user override with `Hidden=true`.
//! - macOS: a LaunchAgent, `~/Library/LaunchAgents/signin-assistant.agent.plist` (RunAtLoad).
//! - Windows: the value `signin-assistant` under `HKCU\Software\Microsoft\Windows\
//!   CurrentVersion\Run`.
//!
//! The `autostart` command and the tray's "Start at login" checkbox both go through
//! [`LoginItem`], so they always show and change the same thing. The file templates live in
//! `assets/autostart/`. This module (and its per-OS files) is the only place that knows where
//! login items live; the rest of the program is portable.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[cfg(freedesktop)]
mod linux;
#[cfg(freedesktop)]
use linux as platform;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as platform;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// The XDG autostart entry, with `{exec}` for the command line.
pub const DESKTOP_ENTRY_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/autostart/signin-assistant.desktop"
));
/// The per-user XDG entry that hides the one installed for all users.
pub const HIDDEN_ENTRY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/autostart/signin-assistant-hidden.desktop"
));
/// The macOS LaunchAgent, with `{label}` and `{program}`.
pub const LAUNCH_AGENT_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/autostart/launch-agent.plist"
));
/// The LaunchAgent's label (and the name of its file, plus `.plist`).
pub const LAUNCH_AGENT_LABEL: &str = "signin-assistant.agent";
/// The name of the XDG autostart entry and of the Windows Run value.
pub const ENTRY_NAME: &str = "signin-assistant";

/// Why the login item could not be read or changed, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("cannot tell where this program is ({0}); start it by its full path and try again")]
    NoProgram(String),
    #[error("cannot find the home directory: set HOME and try again")]
    NoHome,
    #[error("the program's path {0} cannot be written into a login item (it is not plain text or holds a line break); install it under a plainer path")]
    UnusablePath(PathBuf),
    #[error("cannot {action} {place}: {detail}")]
    Io {
        action: &'static str,
        place: String,
        detail: String,
    },
    /// Only an administrator can change this: what to do instead.
    #[error("{0}")]
    NeedsAdministrator(String),
}

impl AutostartError {
    // The registry (Windows) has errors of its own.
    #[cfg_attr(windows, allow(dead_code))]
    fn io(action: &'static str, place: &Path, e: std::io::Error) -> AutostartError {
        AutostartError::Io {
            action,
            place: place.display().to_string(),
            detail: e.to_string(),
        }
    }
}

/// Whether the agent starts at login, and because of which entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutostartStatus {
    /// The agent starts at login.
    pub enabled: bool,
    /// The person's own entry (file, or registry value), when there is one: it decides.
    pub user_entry: Option<String>,
    /// The entry installed for all users, when there is one. It decides when there is no
    /// user entry; with a user entry whose effect is "off", the person opted out of it.
    pub admin_entry: Option<String>,
    /// The program the deciding entry starts, when it is on and says.
    pub program: Option<PathBuf>,
}

impl AutostartStatus {
    /// Nothing starts the agent at login.
    pub fn off() -> AutostartStatus {
        AutostartStatus {
            enabled: false,
            user_entry: None,
            admin_entry: None,
            program: None,
        }
    }

    /// The entry that starts the agent is installed for all users (and not overridden).
    pub fn by_administrator(&self) -> bool {
        self.enabled && self.user_entry.is_none() && self.admin_entry.is_some()
    }

    /// The person turned off the entry installed for all users.
    pub fn admin_entry_overridden(&self) -> bool {
        !self.enabled && self.user_entry.is_some() && self.admin_entry.is_some()
    }

    /// The entry is on but the program it starts is not there (the program moved).
    pub fn program_missing(&self) -> bool {
        self.enabled
            && self
                .program
                .as_deref()
                .is_some_and(|p| p.is_absolute() && !p.exists())
    }
}

impl fmt::Display for AutostartStatus {
    /// One sentence for a person, e.g. "on: /home/a/.config/autostart/signin-assistant.desktop
    /// starts /usr/bin/signin-assistant".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let starts = |f: &mut fmt::Formatter<'_>| match &self.program {
            Some(program) => write!(f, " starts {}", program.display()),
            None => Ok(()),
        };
        match (&self.user_entry, &self.admin_entry) {
            (Some(user), _) if self.enabled => {
                write!(f, "on: {user}")?;
                starts(f)
            }
            (None, Some(admin)) if self.enabled => {
                write!(f, "on, for all users, set up by your administrator: {admin}")?;
                starts(f)
            }
            (Some(user), Some(admin)) => write!(
                f,
                "off: you turned off the entry your administrator set up for all users ({admin}) with {user}"
            ),
            (Some(user), None) => write!(f, "off: {user} is switched off"),
            (None, Some(admin)) => write!(
                f,
                "off: the entry set up for all users ({admin}) is switched off"
            ),
            (None, None) => write!(f, "off"),
        }
    }
}

/// The agent's login item for one program: reads and changes whether it starts at login.
/// Every method does file (or registry) I/O: call it from a blocking context.
#[derive(Debug, Clone)]
pub struct LoginItem {
    program: PathBuf,
    places: platform::Places,
}

impl LoginItem {
    /// The login item of the running program, in this user's places.
    pub fn for_this_program() -> Result<LoginItem, AutostartError> {
        let program = this_program()?;
        Ok(LoginItem {
            program,
            places: platform::Places::from_env()?,
        })
    }

    /// A login item that starts `program` and keeps every file under `root` (tests).
    /// On Windows, `root`'s last component names a throwaway key under
    /// `HKCU\Software\signin-assistant-tests` instead.
    pub fn under(root: &Path, program: &Path) -> LoginItem {
        LoginItem {
            program: program.to_path_buf(),
            places: platform::Places::under(root),
        }
    }

    /// The program this item starts when it is switched on.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether the agent starts at login now.
    pub fn status(&self) -> Result<AutostartStatus, AutostartError> {
        platform::status(&self.places)
    }

    /// Starts the agent at login from now on (the entry for all users, when there is one,
    /// else the person's own entry).
    pub fn enable(&self) -> Result<AutostartStatus, AutostartError> {
        platform::enable(&self.places, &self.program)?;
        self.status()
    }

    /// Stops starting the agent at login (for this person only).
    pub fn disable(&self) -> Result<AutostartStatus, AutostartError> {
        platform::disable(&self.places)?;
        self.status()
    }

    /// [`enable`](Self::enable) or [`disable`](Self::disable).
    pub fn set(&self, on: bool) -> Result<AutostartStatus, AutostartError> {
        if on {
            self.enable()
        } else {
            self.disable()
        }
    }
}

/// The absolute path of the running program.
fn this_program() -> Result<PathBuf, AutostartError> {
    let path = std::env::current_exe().map_err(|e| AutostartError::NoProgram(e.to_string()))?;
    // Linux names a replaced binary "/path (deleted)": the path itself is what starts next time.
    let text = path.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(stripped) => Ok(PathBuf::from(stripped)),
        None => Ok(path),
    }
}

/// The XDG autostart entry that runs `program run`.
pub fn desktop_entry(program: &Path) -> Result<String, AutostartError> {
    let exec = format!("{} run", desktop_exec_quote(program)?);
    Ok(DESKTOP_ENTRY_TEMPLATE.replace("{exec}", &exec))
}

/// The macOS LaunchAgent that runs `program run` at login.
pub fn launch_agent(program: &Path) -> Result<String, AutostartError> {
    let text = plain_text(program)?;
    Ok(LAUNCH_AGENT_TEMPLATE
        .replace("{label}", LAUNCH_AGENT_LABEL)
        .replace("{program}", &xml_escape(text)))
}

/// The Windows Run value that runs `program run`: the path in double quotes (Windows paths
/// cannot contain `"`), then the argument.
pub fn run_value(program: &Path) -> Result<String, AutostartError> {
    let text = plain_text(program)?;
    if text.contains('"') {
        return Err(AutostartError::UnusablePath(program.to_path_buf()));
    }
    Ok(format!("\"{text}\" run"))
}

/// The path as text without line breaks, or why it cannot go into a login item.
fn plain_text(program: &Path) -> Result<&str, AutostartError> {
    program
        .to_str()
        .filter(|t| !t.contains(['\n', '\r', '\0']))
        .ok_or_else(|| AutostartError::UnusablePath(program.to_path_buf()))
}

/// One argument of a desktop entry's `Exec` key, quoted by the Desktop Entry Specification's
/// rules: reserved characters put it in double quotes, where `"`, `` ` ``, `$` and `\` are
/// escaped with `\`; then the string escape doubles every `\`; `%` (field codes) is doubled.
pub fn desktop_exec_quote(program: &Path) -> Result<String, AutostartError> {
    let text = plain_text(program)?;
    let reserved = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\''
                    | '\\'
                    | '>'
                    | '<'
                    | '~'
                    | '|'
                    | '&'
                    | ';'
                    | '$'
                    | '*'
                    | '?'
                    | '#'
                    | '('
                    | ')'
                    | '`'
            )
    };
    let mut out = String::new();
    let quoted = text.chars().any(reserved);
    if quoted {
        out.push('"');
    }
    for c in text.chars() {
        match c {
            '"' | '`' | '$' if quoted => out.push_str(&format!("\\\\{c}")),
            '\\' => out.push_str("\\\\\\\\"),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    if quoted {
        out.push('"');
    }
    Ok(out)
}

/// The program of an `Exec` value: its first argument, unquoted (the reverse of
/// [`desktop_exec_quote`]).
pub fn desktop_exec_program(exec: &str) -> Option<PathBuf> {
    // Undo the string escape first, then the quoting.
    let unescaped = exec.replace("\\\\", "\\");
    let mut chars = unescaped.trim_start().chars().peekable();
    let mut program = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        while let Some(c) = chars.next() {
            match c {
                '\\' => program.extend(chars.next()),
                '"' => break,
                c => program.push(c),
            }
        }
    } else {
        program.extend(chars.take_while(|c| !c.is_whitespace()));
    }
    let program = program.replace("%%", "%");
    (!program.is_empty()).then(|| PathBuf::from(program))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_entry_runs_the_absolute_program() {
        let entry = desktop_entry(Path::new("/usr/bin/signin-assistant")).unwrap();
        let lines: Vec<&str> = entry.lines().collect();
        assert_eq!(lines[0], "[Desktop Entry]");
        for expected in [
            "Type=Application",
            "Exec=/usr/bin/signin-assistant run",
            "Icon=signin-assistant",
            "X-GNOME-Autostart-enabled=true",
        ] {
            assert!(lines.contains(&expected), "{expected} in\n{entry}");
        }
        assert!(lines.iter().any(|l| l.starts_with("Comment=Warns")));
        assert!(!entry.contains('{'), "a placeholder is left:\n{entry}");
    }

    #[test]
    fn exec_quoting_follows_the_desktop_entry_rules() {
        let cases = [
            ("/opt/sa/signin-assistant", "/opt/sa/signin-assistant"),
            ("/opt/my apps/sa", "\"/opt/my apps/sa\""),
            ("/opt/$HOME/sa", "\"/opt/\\\\$HOME/sa\""),
            ("/opt/a\"b/sa", "\"/opt/a\\\\\"b/sa\""),
            ("/opt/back\\slash/sa", "\"/opt/back\\\\\\\\slash/sa\""),
            ("/opt/100%/sa", "/opt/100%%/sa"),
        ];
        for (path, exec) in cases {
            let quoted = desktop_exec_quote(Path::new(path)).unwrap();
            assert_eq!(quoted, exec, "{path}");
            let back = desktop_exec_program(&format!("{quoted} run")).unwrap();
            assert_eq!(back, Path::new(path), "{path} round trip");
        }
        assert!(desktop_exec_quote(Path::new("/opt/line\nbreak")).is_err());
    }

    #[test]
    fn launch_agent_runs_at_load_with_the_escaped_program() {
        let plist = launch_agent(Path::new("/Applications/S & A.app/sa")).unwrap();
        assert!(plist.contains("<string>signin-assistant.agent</string>"));
        assert!(plist.contains("<string>/Applications/S &amp; A.app/sa</string>"));
        assert!(plist.contains("<string>run</string>"));
        assert!(plist.contains("<key>RunAtLoad</key>\n\t<true/>"));
        assert!(!plist.contains('{'));
    }

    #[test]
    fn run_value_quotes_the_program() {
        assert_eq!(
            run_value(Path::new(
                r"C:\Program Files\signin-assistant\signin-assistant.exe"
            ))
            .unwrap(),
            r#""C:\Program Files\signin-assistant\signin-assistant.exe" run"#
        );
    }

    #[test]
    fn status_in_words() {
        let mut s = AutostartStatus::off();
        assert_eq!(s.to_string(), "off");
        s.admin_entry = Some("/etc/xdg/autostart/signin-assistant.desktop".into());
        s.enabled = true;
        s.program = Some("/usr/bin/signin-assistant".into());
        assert!(s.by_administrator());
        assert_eq!(
            s.to_string(),
            "on, for all users, set up by your administrator: /etc/xdg/autostart/signin-assistant.desktop starts /usr/bin/signin-assistant"
        );
        s.enabled = false;
        s.program = None;
        s.user_entry = Some("/home/a/.config/autostart/signin-assistant.desktop".into());
        assert!(s.admin_entry_overridden());
        assert!(s.to_string().starts_with("off: you turned off"), "{s}");
    }
}
