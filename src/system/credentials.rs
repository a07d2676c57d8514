//! The credential cache in the OS keyring, and the [`Secret`] type that keeps passwords and
//! tokens out of logs, files and error messages.
//!
//! Entries: service `signin-assistant` / user = account holds the password; service
//! `signin-assistant.refresh-token` / same user holds the Entra refresh token. Each value is
//! bound to the endpoint that accepted it ([`bound`]): read for another endpoint, it is
//! [`Kept::Elsewhere`] and never handed out. The store is the
//! Secret Service on Linux and BSD, the Credential Manager on Windows and the Keychain on macOS;
//! the demo uses its own service names, or an in-memory store when no keyring is reachable.

use std::fmt;
use std::sync::{Arc, Mutex};

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroizing;

use crate::rules::untrusted::clean_or;

mod bound;
mod calls;
mod locked;

pub use bound::{EndpointIdentity, Kept};
use locked::LockedPages;

/// A store that hangs on demand, for tests of a stuck keyring elsewhere in the crate.
#[cfg(test)]
pub(crate) use calls::tests::{cache_on as cache_on_test_store, TestStore};

/// A password or token. `Debug` and `Display` never show it; its memory is locked in RAM while
/// it lives, where the system allows ([`locked`]: never written to swap), and wiped on drop.
/// Its text never changes, so its one allocation never moves.
pub struct Secret {
    // Dropped first: wiped and freed before its pages are unlocked.
    text: Zeroizing<String>,
    _locked: Option<LockedPages>,
}

impl Secret {
    /// Keeps `value`'s own allocation (no copy is made) and locks its pages.
    pub fn new(value: impl Into<String>) -> Secret {
        let text = Zeroizing::new(value.into());
        let locked = LockedPages::lock(text.as_ptr(), text.capacity());
        Secret {
            text,
            _locked: locked,
        }
    }

    /// The secret itself, for the one place that sends it to the endpoint or the keyring.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Its locked pages, when they are.
    #[cfg(test)]
    fn locked(&self) -> Option<&LockedPages> {
        self._locked.as_ref()
    }

    /// The first line of `reader` (`--password-stdin`), without its line ending. The bytes are
    /// read straight into one buffer allocated up front and wiped afterwards: reads this large
    /// bypass the 8 KiB buffer of `std::io::stdin()` (as long as nothing was read through it
    /// before), and the buffer never grows, so no unwiped copy is left behind.
    pub fn read_line(mut reader: impl std::io::Read) -> std::io::Result<Secret> {
        let mut buf = Zeroizing::new(vec![0u8; LINE_BUFFER]);
        let mut len = 0;
        let line_end = loop {
            if let Some(at) = buf[..len].iter().position(|b| *b == b'\n') {
                break at;
            }
            if len > MAX_SECRET_LINE {
                break len;
            }
            match reader.read(&mut buf[len..]) {
                Ok(0) => break len,
                Ok(read) => len += read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let mut line = &buf[..line_end];
        while let Some((b'\r', rest)) = line.split_last() {
            line = rest;
        }
        if line.len() > MAX_SECRET_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the line is longer than {MAX_SECRET_LINE} bytes"),
            ));
        }
        let text = std::str::from_utf8(line).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the line is not UTF-8 text",
            )
        })?;
        // One allocation of exactly the line's size.
        Ok(Secret::new(text))
    }
}

/// Longest secret accepted on a line.
pub const MAX_SECRET_LINE: usize = 4096;
/// The read buffer: far more than the line, and more than std's 8 KiB stdin buffer, so every
/// read goes straight into it.
const LINE_BUFFER: usize = 64 * 1024;

/// A copy of exactly the secret's size, locked in its turn.
impl Clone for Secret {
    fn clone(&self) -> Secret {
        Secret::new(self.expose())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// What went wrong with the keyring, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the keyring is locked: unlock it (e.g. log in to the desktop again) and run `signin-assistant sign-in`")]
    Locked,
    #[error("no keyring is available ({0}): on Linux start a Secret Service such as gnome-keyring or KeePassXC")]
    Unavailable(String),
    #[error("the keyring failed: {0}")]
    Failed(String),
    /// An earlier call has not come back; calls are refused until it does.
    #[error("the keyring has not answered for {secs} s; it is left alone until it does (if this lasts, restart the keyring service or log in to the desktop again)")]
    Stuck { secs: u64 },
}

impl From<keyring_core::Error> for KeyringError {
    fn from(e: keyring_core::Error) -> Self {
        match e {
            // The store exists but would not open: locked, and the unlock prompt was dismissed
            // or could not be shown.
            keyring_core::Error::NoStorageAccess(_) => KeyringError::Locked,
            keyring_core::Error::NoDefaultStore => KeyringError::Unavailable("no store".into()),
            keyring_core::Error::PlatformFailure(inner) => {
                KeyringError::Unavailable(clean_or(&inner.to_string(), "platform failure"))
            }
            // Never echo BadEncoding/BadDataFormat payloads: they hold the secret bytes.
            keyring_core::Error::BadEncoding(_) | keyring_core::Error::BadDataFormat(_, _) => {
                KeyringError::Failed("a stored secret is not readable text".into())
            }
            other => KeyringError::Failed(clean_or(&other.to_string(), "unknown error")),
        }
    }
}

/// Where secrets are kept.
#[derive(Clone)]
enum Backend {
    /// Opened on first use and re-opened after a failure (the keyring may start after the agent).
    Os(Arc<Mutex<Option<Arc<CredentialStore>>>>),
    /// A store given by the caller: keyring-core's in-memory mock for the demo without a keyring,
    /// and for tests.
    Given(Arc<CredentialStore>),
}

/// The account's cached password and refresh token.
#[derive(Clone)]
pub struct CredentialCache {
    backend: Backend,
    service: String,
    /// Calls that outlived their timeout (see [`calls`]), shared by every clone.
    gate: Arc<calls::Gate>,
    /// Set on the handle a bounded call works with: once that call is abandoned, every further
    /// operation through the handle is refused.
    call: Option<Arc<calls::Call>>,
}

/// The service name of the password entries.
pub const SERVICE: &str = "signin-assistant";
const REFRESH_SUFFIX: &str = ".refresh-token";

impl CredentialCache {
    /// The OS keyring, with the standard service names.
    pub fn os() -> CredentialCache {
        CredentialCache::os_with_service(SERVICE)
    }

    /// The OS keyring under another service name (the demo keeps apart from real entries).
    pub fn os_with_service(service: &str) -> CredentialCache {
        CredentialCache::with_backend(service, Backend::Os(Arc::default()))
    }

    fn with_backend(service: &str, backend: Backend) -> CredentialCache {
        CredentialCache {
            backend,
            service: service.to_string(),
            gate: Arc::default(),
            call: None,
        }
    }

    /// A given keyring-core store in the place of the OS one, re-opened like it (tests).
    #[cfg(test)]
    pub(crate) fn with_os_store(service: &str, store: Arc<CredentialStore>) -> CredentialCache {
        CredentialCache::with_backend(service, Backend::Os(Arc::new(Mutex::new(Some(store)))))
    }

    /// Whether the keyring answers now: opens it if needed and looks an entry up (without
    /// reading any secret).
    pub fn probe(&self) -> Result<(), KeyringError> {
        self.exists(&self.service.clone(), "probe").map(drop)
    }

    /// A store that lives only in this process (the demo, when no keyring is reachable; tests).
    pub fn in_memory(service: &str) -> CredentialCache {
        let store: Arc<CredentialStore> =
            keyring_core::mock::Store::new().expect("the in-memory store cannot fail to start");
        CredentialCache::with_store(store, service)
    }

    /// The cache over a given keyring-core store.
    pub fn with_store(store: Arc<CredentialStore>, service: &str) -> CredentialCache {
        CredentialCache::with_backend(service, Backend::Given(store))
    }

    pub fn is_in_memory(&self) -> bool {
        matches!(self.backend, Backend::Given(_))
    }

    fn refresh_service(&self) -> String {
        format!("{}{REFRESH_SUFFIX}", self.service)
    }

    /// The password kept for the account, if `endpoint` accepted it.
    pub fn password(
        &self,
        account: &str,
        endpoint: &EndpointIdentity,
    ) -> Result<Kept, KeyringError> {
        self.get(&self.service.clone(), account, endpoint)
    }

    /// Whether a password is kept for the account, without reading it: the Secret Service is
    /// searched by attributes and the secret never leaves the keyring. (On Windows the Credential
    /// Manager returns the whole credential with any read; windows-native-keyring-store wipes
    /// it before freeing.)
    pub fn has_password(&self, account: &str) -> Result<bool, KeyringError> {
        self.exists(&self.service.clone(), account)
    }

    /// Keeps `password` as the one `endpoint` accepted.
    pub fn store_password(
        &self,
        account: &str,
        endpoint: &EndpointIdentity,
        password: &Secret,
    ) -> Result<(), KeyringError> {
        self.set(&self.service.clone(), account, endpoint, password)
    }

    /// Whether a refresh token is kept for the account, without reading it.
    pub fn has_refresh_token(&self, account: &str) -> Result<bool, KeyringError> {
        self.exists(&self.refresh_service(), account)
    }

    /// The refresh token kept for the account, if `endpoint` issued it.
    pub fn refresh_token(
        &self,
        account: &str,
        endpoint: &EndpointIdentity,
    ) -> Result<Kept, KeyringError> {
        self.get(&self.refresh_service(), account, endpoint)
    }

    /// Keeps `token` as one `endpoint` issued.
    pub fn store_refresh_token(
        &self,
        account: &str,
        endpoint: &EndpointIdentity,
        token: &Secret,
    ) -> Result<(), KeyringError> {
        self.set(&self.refresh_service(), account, endpoint, token)
    }

    pub fn forget_password(&self, account: &str) -> Result<(), KeyringError> {
        self.delete(&self.service.clone(), account)
    }

    pub fn forget_refresh_token(&self, account: &str) -> Result<(), KeyringError> {
        self.delete(&self.refresh_service(), account)
    }

    /// Removes both entries of the account; absent entries are fine.
    pub fn forget(&self, account: &str) -> Result<(), KeyringError> {
        self.delete(&self.service.clone(), account)?;
        self.delete(&self.refresh_service(), account)
    }

    /// Refuses further operations through the handle of an abandoned call.
    fn still_wanted(&self) -> Result<(), KeyringError> {
        match &self.call {
            Some(call) if call.is_abandoned() => Err(KeyringError::Failed(
                "the call was abandoned after its timeout".into(),
            )),
            _ => Ok(()),
        }
    }

    fn exists(&self, service: &str, account: &str) -> Result<bool, KeyringError> {
        self.still_wanted()?;
        // A wrapper for the matching item, found by its attributes; no secret is read.
        self.on_entry(service, account, |entry| match entry.get_credential() {
            Ok(_) | Err(keyring_core::Error::Ambiguous(_)) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    fn get(
        &self,
        service: &str,
        account: &str,
        endpoint: &EndpointIdentity,
    ) -> Result<Kept, KeyringError> {
        self.still_wanted()?;
        self.on_entry(service, account, |entry| match entry.get_password() {
            Ok(value) => Ok(bound::open(Zeroizing::new(value), endpoint)),
            Err(keyring_core::Error::NoEntry) => Ok(Kept::Nothing),
            Err(e) => Err(e),
        })
    }

    fn set(
        &self,
        service: &str,
        account: &str,
        endpoint: &EndpointIdentity,
        secret: &Secret,
    ) -> Result<(), KeyringError> {
        self.still_wanted()?;
        let sealed = bound::seal(endpoint, secret);
        self.on_entry(service, account, |entry| entry.set_password(&sealed))
    }

    fn delete(&self, service: &str, account: &str) -> Result<(), KeyringError> {
        self.still_wanted()?;
        self.on_entry(service, account, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// Runs `op` on the entry in this cache's store.
    fn on_entry<T>(
        &self,
        service: &str,
        account: &str,
        op: impl FnOnce(&Entry) -> keyring_core::Result<T>,
    ) -> Result<T, KeyringError> {
        match &self.backend {
            Backend::Os(slot) => on_os_entry(slot, service, account, op),
            Backend::Given(store) => Ok(op(&Entry::new_in_store(store, service, account)?)?),
        }
    }
}

/// Runs `op` on the entry in the OS store. When the store itself failed (the keyring daemon went
/// away, say), it is dropped, so the next call opens it afresh.
fn on_os_entry<T>(
    slot: &Mutex<Option<Arc<CredentialStore>>>,
    service: &str,
    account: &str,
    op: impl FnOnce(&Entry) -> keyring_core::Result<T>,
) -> Result<T, KeyringError> {
    let result = os_store(slot)
        .and_then(|store| Ok(Entry::new_in_store(&store, service, account)?))
        .and_then(|entry| Ok(op(&entry)?));
    if let Err(KeyringError::Unavailable(_)) = &result {
        *lock(slot) = None;
    }
    result
}

/// The open OS store, opening it now if it is not yet (or no longer) open.
fn os_store(
    slot: &Mutex<Option<Arc<CredentialStore>>>,
) -> Result<Arc<CredentialStore>, KeyringError> {
    let mut slot = lock(slot);
    if let Some(store) = slot.as_ref() {
        return Ok(store.clone());
    }
    let store = open_os_store()?;
    *slot = Some(store.clone());
    Ok(store)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens this OS's credential store.
fn open_os_store() -> Result<Arc<CredentialStore>, KeyringError> {
    #[cfg(freedesktop)]
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    #[cfg(target_os = "macos")]
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    #[cfg(windows)]
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2-canary");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-canary");
    }

    /// This process's locked memory in kB (`VmLck` in /proc/self/status).
    #[cfg(target_os = "linux")]
    fn locked_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmLck:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_secrets_pages_are_locked_while_it_lives() {
        // 1 MiB, far more than the few pages other tests' secrets lock meanwhile.
        const SIZE_KB: u64 = 1024;
        const SLACK: u64 = 64;
        let before = locked_kb();
        let secret = Secret::new("s".repeat(SIZE_KB as usize * 1024));
        let living = locked_kb();
        assert!(
            living + SLACK >= before + SIZE_KB,
            "VmLck {before} kB before, {living} kB with the secret (`ulimit -l` under 2048?)"
        );
        let pages = secret.locked().expect("locked").pages();
        assert!(pages.len() >= 256, "{pages:?}");
        let copy = secret.clone();
        assert!(copy.locked().is_some());
        drop(copy);
        drop(secret);
        let after = locked_kb();
        assert!(
            after + SIZE_KB <= living + SLACK,
            "VmLck {living} kB with the secret, {after} kB after"
        );
    }

    #[test]
    fn every_secret_with_memory_is_locked_and_so_are_its_copies() {
        let (a, b) = (Secret::new("first"), Secret::new("second"));
        for secret in [&a, &b] {
            let pages = secret.locked().expect("locked").pages();
            assert!(!pages.is_empty(), "{pages:?}");
        }
        assert!(Secret::new("").locked().is_none(), "nothing to lock");
        assert_eq!(a.clone(), a);
        assert_ne!(a, b);
    }

    /// Hands out its input a few bytes at a time and records the buffer it was asked to fill.
    struct Trickle<'a> {
        data: &'a [u8],
        buffers: Vec<(*const u8, usize)>,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.buffers.push((buf.as_ptr(), buf.len()));
            let n = self.data.len().min(3).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_line_is_read_into_one_buffer_that_never_moves() {
        let password = "p".repeat(3000);
        let input = format!("{password}\r\nnext line\n");
        let mut reader = Trickle {
            data: input.as_bytes(),
            buffers: Vec::new(),
        };
        let secret = Secret::read_line(&mut reader).unwrap();
        assert_eq!(secret.expose(), password);
        // Every read went into the same allocation, at successive offsets, with more room than
        // std's stdin buffer (so it bypasses it).
        let (first, _) = reader.buffers[0];
        let mut offset = 0;
        for (at, room) in &reader.buffers {
            assert_eq!(*at, first.wrapping_add(offset));
            assert!(*room > 8 * 1024);
            offset += 3;
        }
    }

    #[test]
    fn a_line_without_end_or_too_long_or_not_text() {
        assert_eq!(Secret::read_line(&b"pw"[..]).unwrap().expose(), "pw");
        assert_eq!(Secret::read_line(&b""[..]).unwrap().expose(), "");
        let long = vec![b'x'; MAX_SECRET_LINE + 1];
        assert!(Secret::read_line(&long[..]).is_err());
        assert!(Secret::read_line(&b"\xff\xfe\n"[..]).is_err());
    }

    #[test]
    fn has_password_never_reads_the_secret() {
        let store = std::sync::Arc::new(calls::tests::TestStore::default());
        let cache = calls::tests::cache_on(&store);
        assert!(!cache.has_password("adele").unwrap());
        cache
            .store_password("adele", &here(), &Secret::new("pw"))
            .unwrap();
        assert!(cache.has_password("adele").unwrap());
        cache.probe().unwrap();
        assert_eq!(
            store.secret_reads.load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        let memory = CredentialCache::in_memory("t");
        assert!(!memory.has_password("a").unwrap());
        memory
            .store_password("a", &here(), &Secret::new("pw"))
            .unwrap();
        assert!(memory.has_password("a").unwrap());
    }

    fn here() -> EndpointIdentity {
        EndpointIdentity::new("entra https://login.example tenant=a")
    }

    #[test]
    fn memory_store_keeps_password_and_token_apart() {
        let cache = CredentialCache::in_memory("t");
        cache
            .store_password("a", &here(), &Secret::new("pw"))
            .unwrap();
        cache
            .store_refresh_token("a", &here(), &Secret::new("rt"))
            .unwrap();
        assert_eq!(
            cache.password("a", &here()).unwrap(),
            Kept::Here(Secret::new("pw"))
        );
        assert_eq!(
            cache.refresh_token("a", &here()).unwrap(),
            Kept::Here(Secret::new("rt"))
        );
        cache.forget("a").unwrap();
        assert_eq!(cache.password("a", &here()).unwrap(), Kept::Nothing);
        assert_eq!(cache.refresh_token("a", &here()).unwrap(), Kept::Nothing);
    }

    #[test]
    fn a_secret_kept_for_one_endpoint_is_not_handed_out_for_another() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let cache = CredentialCache::with_store(store.clone(), "t");
        let other = EndpointIdentity::new("entra https://login.example tenant=b");
        cache
            .store_password("a", &here(), &Secret::new("pw"))
            .unwrap();
        cache
            .store_refresh_token("a", &here(), &Secret::new("rt"))
            .unwrap();
        assert_eq!(cache.password("a", &other).unwrap(), Kept::Elsewhere);
        assert_eq!(cache.refresh_token("a", &other).unwrap(), Kept::Elsewhere);
        // An entry of an older version (the bare secret) belongs to no endpoint.
        Entry::new_in_store(&store, "t", "old")
            .unwrap()
            .set_password("pw")
            .unwrap();
        assert_eq!(cache.password("old", &here()).unwrap(), Kept::Elsewhere);
    }
}
