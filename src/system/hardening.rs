//! The OS-level protections of the process and of its files, in one platform module.
//!
//! The process holds the user's password in memory. [`protect_process`] keeps it out of core
//! dumps and away from debuggers of the same user where the OS allows: on Linux it clears the
//! "dumpable" flag (no core file, no `ptrace`/`gcore` attach by the same user, `/proc/<pid>/mem`,
//! `environ` and friends owned by root) and sets the core size limit to 0; on macOS it sets the
//! core size limit to 0; on Windows nothing is done (no core files by default; a debugger of the
//! same user can still attach).
//!
//! Every directory and file the program makes for itself (the state directory, `state.json`, the
//! agent's lock, `logs/` and the log files, the control socket's directory) is made through
//! [`create_private_dir`], [`create_private_file`] or [`open_private_file`]: directories 0700 and
//! files 0600 from the moment they exist, whatever the umask, never following a symbolic link
//! planted where a new file goes, and a directory that is not this user's is refused. On Windows
//! they are made in the user's profile (`%LOCALAPPDATA%`), whose ACL already admits only the user
//! (and the system and administrators), and inherit it.

use std::fs::File;
use std::io;
use std::path::Path;

/// Applies the process protections; called first thing in `main`. Failures are returned for the
/// caller to log: the program still works without them.
pub fn protect_process() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches no memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(unix)]
    {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct we pass and nothing else.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether this process is protected from core dumps and same-user debuggers (Linux: the
/// dumpable flag is clear; elsewhere: the core size limit is 0; Windows: always false).
pub fn process_is_protected() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_GET_DUMPABLE only returns a value.
        let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        if dumpable != 0 {
            return false;
        }
    }
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: getrlimit writes into the struct we own.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) };
        rc == 0 && limit.rlim_cur == 0 && limit.rlim_max == 0
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Creates `dir` (and missing parents, 0700 too) and makes `dir` itself 0700 on Unix, also when
/// it already existed with a wider mode; a `dir` that is not a directory of this user is refused.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::metadata(dir)?;
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        if !meta.is_dir() || meta.uid() != uid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a directory of this user", dir.display()),
            ));
        }
        if meta.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        // Windows: the per-user local application data directory is private by its ACL.
        std::fs::create_dir_all(dir)
    }
}

/// Creates a new file at `path` for writing, readable by its owner only (0600 on Unix), failing
/// if anything (a file, a symbolic link, even a dangling one) is already there.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    // create_new is O_CREAT|O_EXCL: an existing path, symbolic links included, is an error.
    options.write(true).create_new(true);
    open_private_file(path, &mut options)
}

/// Opens `path` with `options` (which may create it): a new file is 0600 on Unix from its first
/// instant, an existing one with a wider mode is made 0600, and a symbolic link at `path` is not
/// followed (the open fails).
pub fn open_private_file(path: &Path, options: &mut std::fs::OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask can only remove bits from a new file; an older file may be wider.
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

// Both are about Unix modes and symbolic links.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn private_dir_and_file_have_owner_only_modes() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let wide = root.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&wide).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&wide), 0o700);
        let nested = root.path().join("a/b/c");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("f");
        drop(create_private_file(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            create_private_file(&file).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn an_opened_file_is_made_private_and_a_link_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let older = root.path().join("agent.lock");
        std::fs::write(&older, b"1").unwrap();
        std::fs::set_permissions(&older, std::fs::Permissions::from_mode(0o644)).unwrap();
        let append = || {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            options
        };
        drop(open_private_file(&older, &mut append()).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&older), 0o600);
        assert_eq!(
            std::fs::read(&older).unwrap(),
            b"1",
            "opened, not truncated"
        );
        let fresh = root.path().join("new.log");
        drop(open_private_file(&fresh, &mut append()).unwrap());
        assert_eq!(mode(&fresh), 0o600);
        let victim = root.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = root.path().join("link.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(open_private_file(&link, &mut append()).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = root.path().join("tmp");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(create_private_file(&link).is_err());
        let dangling = root.path().join("dangling");
        std::os::unix::fs::symlink(root.path().join("nowhere"), &dangling).unwrap();
        assert!(create_private_file(&dangling).is_err());
        assert!(!root.path().join("nowhere").exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
