//! Where signin-assistant keeps its files, per OS conventions (XDG on Linux).

use std::path::PathBuf;

use directories::ProjectDirs;

/// The per-user directories of the application.
pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "signin-assistant")
}

/// `$XDG_STATE_HOME/signin-assistant` on Linux; the local data directory elsewhere.
pub fn state_dir() -> Option<PathBuf> {
    let dirs = project_dirs()?;
    Some(
        dirs.state_dir()
            .map(PathBuf::from)
            .unwrap_or_else(|| dirs.data_local_dir().to_path_buf()),
    )
}

/// The macOS bundle identifier of the app bundle the agent runs from; also the domain of its
/// managed preferences (configuration profiles).
pub const MACOS_BUNDLE_ID: &str = "org.signin-assistant.agent";
