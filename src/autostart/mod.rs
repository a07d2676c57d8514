//! Starting the agent at login, the way each OS does it for a user: so far the Windows Run
//! key; the XDG autostart entry (Linux) and the LaunchAgent (macOS) are to join it here, with
//! the tray's "Start at login" switch on top.
//!
//! What is written is one command line, made by [`login_command`], which is portable and
//! unit-tested everywhere; the OS part only stores and reads it.

use std::path::Path;

#[cfg(windows)]
pub mod windows;

/// Why the login item could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("cannot change the login item: {0}")]
    Failed(String),
}

/// The command line that starts the agent at login: the executable, quoted (Windows paths
/// often have spaces: `C:\Program Files\…`), and `run`.
pub fn login_command(exe: &Path) -> String {
    format!("\"{}\" run", exe.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_quoted_and_runs_the_agent() {
        assert_eq!(
            login_command(Path::new(
                r"C:\Users\Adele Vance\AppData\Local\Programs\signin-assistant\signin-assistant.exe"
            )),
            r#""C:\Users\Adele Vance\AppData\Local\Programs\signin-assistant\signin-assistant.exe" run"#
        );
        assert_eq!(
            login_command(Path::new("/usr/bin/signin-assistant")),
            r#""/usr/bin/signin-assistant" run"#
        );
    }
}
