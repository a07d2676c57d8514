//! Which program runs when the product starts one by name: the password dialog (pinentry),
//! Kerberos's `kpasswd`, the terminal emulator for "Set up…".
//!
//! A name is looked up in the absolute directories of `PATH` only. An empty entry (`::`, a
//! leading or trailing `:`) or a relative one (`.`, `bin`) means the current directory to a
//! shell, and the agent's current directory is wherever it was started from: a program planted
//! there by someone else would receive the person's password. A path given with a directory part
//! is used as given only when it is absolute, for the same reason. On Unix a candidate must also
//! be executable, as a shell would require.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The program `name`: an absolute path as given, else the first match in an absolute
/// directory of this process's `PATH`.
pub fn find(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    find_in(name.as_ref(), std::env::var_os("PATH").as_deref())
}

/// [`find`] with the `PATH` value given (`None`: no `PATH`).
pub fn find_in(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let given = Path::new(name);
    if given.components().count() > 1 || given.is_absolute() {
        return (given.is_absolute() && is_program(given)).then(|| given.to_path_buf());
    }
    std::env::split_paths(path?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(given))
        .find(|candidate| is_program(candidate))
}

/// A file this process could run (Unix: with an execute bit set).
fn is_program(path: &Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory with an executable `tool` in it.
    fn dir_with_tool() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    #[test]
    fn empty_and_relative_path_entries_are_not_the_current_directory() {
        // Tests run in the crate root, where Cargo.toml is a file: an empty PATH entry (or ".")
        // would find it, were it a program; `src` is a relative directory holding `lib.rs`.
        assert!(Path::new("Cargo.toml").is_file());
        for path in [
            "",
            ":",
            "::",
            ":/nonexistent",
            "/nonexistent:",
            ".",
            "src/..",
            "./",
            "src",
        ] {
            for name in ["Cargo.toml", "lib.rs"] {
                assert_eq!(
                    find_in(OsStr::new(name), Some(OsStr::new(path))),
                    None,
                    "PATH={path:?} {name}"
                );
            }
        }
        assert_eq!(find_in(OsStr::new("tool"), None), None);
    }

    #[test]
    fn the_first_absolute_directory_that_has_it_wins() {
        let first = dir_with_tool();
        let second = dir_with_tool();
        // Built with the system's separator: the test also runs on Windows (`;`).
        let path = std::env::join_paths([
            Path::new("/nonexistent"),
            Path::new(""),
            Path::new("."),
            first.path(),
            second.path(),
        ])
        .unwrap();
        assert_eq!(
            find_in(OsStr::new("tool"), Some(&path)),
            Some(first.path().join("tool"))
        );
    }

    #[test]
    fn a_given_path_must_be_absolute() {
        let dir = dir_with_tool();
        let absolute = dir.path().join("tool");
        assert_eq!(find_in(absolute.as_os_str(), None), Some(absolute.clone()));
        assert_eq!(find_in(dir.path().join("none").as_os_str(), None), None);
        // Relative to whatever the current directory is: refused, even when it is there.
        assert!(Path::new("src/lib.rs").is_file());
        assert_eq!(find_in(OsStr::new("src/lib.rs"), None), None);
        assert_eq!(find_in(OsStr::new("./Cargo.toml"), None), None);
        assert_eq!(find_in(OsStr::new(""), Some(dir.path().as_os_str())), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_cannot_run_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let plain = dir_with_tool();
        let tool = plain.path().join("tool");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o644)).unwrap();
        let runnable = dir_with_tool();
        let path = std::env::join_paths([plain.path(), runnable.path()]).unwrap();
        assert_eq!(
            find_in(OsStr::new("tool"), Some(&path)),
            Some(runnable.path().join("tool"))
        );
        assert_eq!(find_in(tool.as_os_str(), None), None);
    }
}
