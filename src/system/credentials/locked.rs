//! Keeps the memory of a [`Secret`](super::Secret) in RAM while it lives, so the OS never writes
//! a password or token to swap: `mlock` on Unix, `VirtualLock` on Windows.
//!
//! Locks are per page and do not nest: unlocking a page unlocks it for every secret on it, and
//! small secrets share pages. So the pages are counted here, and a page is unlocked only when the
//! last secret on it is gone. Where the system refuses (RLIMIT_MEMLOCK reached, a working set
//! too small), that is logged once at debug level and the secret works all the same, unlocked.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Mutex, Once};

/// How many live secrets lie on each locked page (by page number).
static LOCKED: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());
/// Whether a refusal was logged already.
static REFUSAL_SAID: Once = Once::new();

/// The pages of one secret's allocation, locked in RAM until this is dropped.
#[derive(Debug)]
pub(super) struct LockedPages {
    pages: Range<usize>,
}

impl LockedPages {
    /// Locks the pages under the `len` bytes at `start`; None when there are none (an empty
    /// secret has no allocation) or the system refused.
    pub(super) fn lock(start: *const u8, len: usize) -> Option<LockedPages> {
        if len == 0 {
            return None;
        }
        let size = os::page_size();
        let first = start as usize / size;
        let pages = first..(start as usize + len).div_ceil(size);
        let mut counts = LOCKED.lock().unwrap_or_else(|e| e.into_inner());
        // Locking a page twice is harmless: the whole range is locked, and counted.
        if let Err(e) = os::lock(pages.start * size, pages.len() * size) {
            REFUSAL_SAID.call_once(|| {
                tracing::debug!(error = %e, "cannot lock secrets in memory (RLIMIT_MEMLOCK?); they may reach swap");
            });
            return None;
        }
        take(&mut counts, pages.clone());
        Some(LockedPages { pages })
    }

    /// The pages this holds, by number.
    #[cfg(test)]
    pub(super) fn pages(&self) -> Range<usize> {
        self.pages.clone()
    }
}

impl Drop for LockedPages {
    fn drop(&mut self) {
        let size = os::page_size();
        let mut counts = LOCKED.lock().unwrap_or_else(|e| e.into_inner());
        for run in release(&mut counts, self.pages.clone()) {
            os::unlock(run.start * size, run.len() * size);
        }
    }
}

/// Counts `pages` as held by one more secret.
fn take(counts: &mut BTreeMap<usize, usize>, pages: Range<usize>) {
    for page in pages {
        *counts.entry(page).or_default() += 1;
    }
}

/// Counts `pages` as held by one secret fewer; returns the runs of pages no secret holds now.
fn release(counts: &mut BTreeMap<usize, usize>, pages: Range<usize>) -> Vec<Range<usize>> {
    let mut free: Vec<Range<usize>> = Vec::new();
    for page in pages {
        let Some(count) = counts.get_mut(&page) else {
            continue;
        };
        *count -= 1;
        if *count > 0 {
            continue;
        }
        counts.remove(&page);
        match free.last_mut() {
            Some(run) if run.end == page => run.end += 1,
            _ => free.push(page..page + 1),
        }
    }
    free
}

#[cfg(unix)]
mod os {
    pub fn page_size() -> usize {
        // SAFETY: sysconf only reads a system value.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(4096)
    }

    pub fn lock(start: usize, len: usize) -> std::io::Result<()> {
        // SAFETY: mlock only changes how the pages of this range are kept; it reads and writes
        // no memory, and the range lies in our own heap allocation's pages.
        if unsafe { libc::mlock(start as *const libc::c_void, len) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    pub fn unlock(start: usize, len: usize) {
        // SAFETY: as for mlock.
        unsafe { libc::munlock(start as *const libc::c_void, len) };
    }
}

#[cfg(windows)]
mod os {
    use windows_sys::Win32::System::Memory::{VirtualLock, VirtualUnlock};

    /// 4 KiB on every architecture Windows runs on.
    pub fn page_size() -> usize {
        4096
    }

    pub fn lock(start: usize, len: usize) -> std::io::Result<()> {
        // SAFETY: VirtualLock only changes how the pages of this range are kept, which lie in
        // our own heap allocation's committed pages.
        if unsafe { VirtualLock(start as *const core::ffi::c_void, len) } != 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    pub fn unlock(start: usize, len: usize) {
        // SAFETY: as for VirtualLock.
        unsafe { VirtualUnlock(start as *const core::ffi::c_void, len) };
    }
}

#[cfg(not(any(unix, windows)))]
mod os {
    pub fn page_size() -> usize {
        4096
    }

    pub fn lock(_start: usize, _len: usize) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub fn unlock(_start: usize, _len: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_page_is_unlocked_with_its_last_secret() {
        let mut counts = BTreeMap::new();
        // One secret on pages 10..13, another on 12..14: page 12 holds both.
        take(&mut counts, 10..13);
        take(&mut counts, 12..14);
        assert_eq!(release(&mut counts, 10..13), vec![10..12]);
        assert_eq!(counts.get(&12), Some(&1));
        assert_eq!(release(&mut counts, 12..14), vec![12..14]);
        assert!(counts.is_empty());
        // A page that was never counted (the lock was refused) is left alone.
        assert_eq!(release(&mut counts, 3..4), Vec::<Range<usize>>::new());
    }
}
