//! One agent per user: a second `run` (autostart plus a manual start, say) would show every
//! balloon twice. The running agent holds an advisory lock on `agent.lock` in the state
//! directory; the OS releases it when the process ends, however it ends. One-shot commands use the
//! same lock to learn that an agent is running, and leave the balloons to it. The directory and
//! the lock file are private from the start (`hardening`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::system::hardening;

/// Held by the running agent for its whole life.
#[derive(Debug)]
pub struct AgentLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another signin-assistant agent is already running for this user")]
    AlreadyRunning,
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The lock file next to the state file.
pub fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("agent.lock")
}

/// Takes the agent lock, or says that another agent holds it. A one-shot command that looks at
/// the lock holds it for an instant, so a few short retries tell that apart from an agent.
pub fn acquire(state_dir: &Path) -> Result<AgentLock, LockError> {
    let mut tries = 0;
    loop {
        match try_acquire(state_dir) {
            Err(LockError::AlreadyRunning) if tries < 5 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn try_acquire(state_dir: &Path) -> Result<AgentLock, LockError> {
    let path = lock_path(state_dir);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    hardening::create_private_dir(state_dir).map_err(io)?;
    let file = hardening::open_private_file(
        &path,
        OpenOptions::new().create(true).truncate(false).write(true),
    )
    .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            // Which process holds it, for "already running (pid N)"; best effort.
            let _ = file.set_len(0);
            let _ = (&file).write_all(std::process::id().to_string().as_bytes());
            Ok(AgentLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::AlreadyRunning),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// The process id the running agent wrote into its lock file.
pub fn running_pid(state_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(lock_path(state_dir))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether an agent is running for this user (its lock is held).
pub fn agent_running(state_dir: &Path) -> bool {
    matches!(try_acquire(state_dir), Err(LockError::AlreadyRunning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!agent_running(dir.path()));
        let lock = acquire(dir.path()).unwrap();
        assert!(agent_running(dir.path()));
        assert!(matches!(
            acquire(dir.path()),
            Err(LockError::AlreadyRunning)
        ));
        drop(lock);
        assert!(!agent_running(dir.path()));
        acquire(dir.path()).unwrap();
    }
}
