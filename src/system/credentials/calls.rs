//! Keyring calls bounded in time, and what becomes of one that does not come back.
//!
//! A Secret Service that hangs (a stuck unlock prompt, a daemon that stopped answering on the
//! bus) blocks the thread that called it, and nothing can cancel a blocking D-Bus call. So a call
//! runs on a blocking thread and the caller stops waiting after its timeout; the call itself is
//! *abandoned*, which has two effects until it returns:
//! - every new call fails at once with [`KeyringError::Stuck`] instead of queueing behind the
//!   stuck one (the store's own lock would make it wait as long) — so a loop that touches the
//!   keyring never waits a timeout per iteration, and no newer write can be overtaken by the
//!   late one;
//! - the abandoned call's remaining steps are refused: its closure works on a cache handle that
//!   fails every operation once abandoned, so only the one operation already inside the keyring
//!   can still land, and nothing after it. Its result is dropped (secrets in it are wiped).
//!
//! When the abandoned call finally returns, the keyring is usable again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{lock, CredentialCache, KeyringError};

/// Shared by every clone of one [`CredentialCache`]: how many abandoned calls still run.
#[derive(Debug, Default)]
pub(super) struct Gate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    abandoned: usize,
    since: Option<Instant>,
}

/// One call's fate, seen by both the caller (who may abandon it) and the thread running it.
#[derive(Debug, Default)]
pub(super) struct Call {
    state: Mutex<CallState>,
}

#[derive(Debug, Default)]
struct CallState {
    finished: bool,
    abandoned: bool,
}

impl Call {
    pub(super) fn is_abandoned(&self) -> bool {
        lock(&self.state).abandoned
    }
}

impl Gate {
    /// Refuses a new call while an abandoned one still runs.
    fn admit(&self) -> Result<(), KeyringError> {
        let state = lock(&self.state);
        match state.since {
            Some(since) if state.abandoned > 0 => Err(KeyringError::Stuck {
                secs: since.elapsed().as_secs(),
            }),
            _ => Ok(()),
        }
    }

    /// The caller stopped waiting: abandon the call unless it finished meanwhile.
    fn abandon(&self, call: &Call) {
        let mut call = lock(&call.state);
        if call.finished {
            return;
        }
        call.abandoned = true;
        let mut state = lock(&self.state);
        state.abandoned += 1;
        state.since.get_or_insert_with(Instant::now);
    }

    /// The call returned (on its thread); an abandoned one releases the gate.
    fn finish(&self, call: &Call) {
        let mut call = lock(&call.state);
        call.finished = true;
        if call.abandoned {
            let mut state = lock(&self.state);
            state.abandoned = state.abandoned.saturating_sub(1);
            if state.abandoned == 0 {
                state.since = None;
            }
        }
    }
}

impl CredentialCache {
    /// Runs `call` on a blocking thread and waits at most `timeout` for it; see the module
    /// header for what happens to a call that takes longer.
    pub async fn call_bounded<T: Send + 'static>(
        &self,
        timeout: Duration,
        call: impl FnOnce(&CredentialCache) -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        self.gate.admit()?;
        let this_call = Arc::new(Call::default());
        let handle = CredentialCache {
            call: Some(this_call.clone()),
            ..self.clone()
        };
        let gate = self.gate.clone();
        let running = this_call.clone();
        let task = tokio::task::spawn_blocking(move || {
            let result = call(&handle);
            gate.finish(&running);
            result
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(KeyringError::Failed(format!("keyring task failed: {e}"))),
            Err(_) => {
                self.gate.abandon(&this_call);
                Err(KeyringError::Unavailable(format!(
                    "it did not answer within {} s",
                    timeout.as_secs()
                )))
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Condvar;

    use keyring_core::api::{CredentialApi, CredentialStoreApi};
    use keyring_core::{Credential, Entry};

    use super::*;
    use crate::system::credentials::{EndpointIdentity, Kept, Secret};

    /// A store whose calls wait until it is opened (a hung Secret Service), and that records
    /// what was written and how often a secret was read.
    #[derive(Default)]
    pub(crate) struct TestStore {
        closed: Mutex<bool>,
        opened: Condvar,
        secrets: Mutex<HashMap<(String, String), Vec<u8>>>,
        pub(crate) writes: Mutex<Vec<String>>,
        pub(crate) secret_reads: AtomicUsize,
    }

    impl TestStore {
        pub(crate) fn hang(&self) {
            *lock(&self.closed) = true;
        }

        pub(crate) fn answer(&self) {
            *lock(&self.closed) = false;
            self.opened.notify_all();
        }

        fn wait(&self) {
            let mut closed = lock(&self.closed);
            while *closed {
                closed = self.opened.wait(closed).unwrap();
            }
        }
    }

    struct TestCred {
        store: Arc<TestStore>,
        key: (String, String),
    }

    impl CredentialApi for TestCred {
        fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
            self.store.wait();
            lock(&self.store.writes).push(format!("set {}", self.key.0));
            lock(&self.store.secrets).insert(self.key.clone(), secret.to_vec());
            Ok(())
        }

        fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
            self.store.wait();
            self.store.secret_reads.fetch_add(1, Ordering::SeqCst);
            lock(&self.store.secrets)
                .get(&self.key)
                .cloned()
                .ok_or(keyring_core::Error::NoEntry)
        }

        fn delete_credential(&self) -> keyring_core::Result<()> {
            self.store.wait();
            lock(&self.store.writes).push(format!("delete {}", self.key.0));
            lock(&self.store.secrets)
                .remove(&self.key)
                .map(drop)
                .ok_or(keyring_core::Error::NoEntry)
        }

        fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
            self.store.wait();
            match lock(&self.store.secrets).contains_key(&self.key) {
                true => Ok(None),
                false => Err(keyring_core::Error::NoEntry),
            }
        }

        fn get_specifiers(&self) -> Option<(String, String)> {
            Some(self.key.clone())
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    /// The store handle keyring-core builds entries from.
    pub(crate) struct StoreHandle(pub(crate) Arc<TestStore>);

    impl CredentialStoreApi for StoreHandle {
        fn vendor(&self) -> String {
            "test".into()
        }

        fn id(&self) -> String {
            "test".into()
        }

        fn build(
            &self,
            service: &str,
            user: &str,
            _: Option<&HashMap<&str, &str>>,
        ) -> keyring_core::Result<Entry> {
            Ok(Entry::new_with_credential(Arc::new(TestCred {
                store: self.0.clone(),
                key: (service.to_string(), user.to_string()),
            })))
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    pub(crate) fn cache_on(store: &Arc<TestStore>) -> CredentialCache {
        CredentialCache::with_os_store("t", Arc::new(StoreHandle(store.clone())))
    }

    const SHORT: Duration = Duration::from_millis(200);

    fn here() -> EndpointIdentity {
        EndpointIdentity::new("ldap ldaps://a.example:636")
    }

    #[tokio::test]
    async fn a_stuck_keyring_fails_fast_and_its_late_call_does_no_more() {
        let store = Arc::new(TestStore::default());
        let cache = cache_on(&store);
        store.hang();
        // Two steps: the first hangs inside the keyring; the second must never run.
        let started = Instant::now();
        let first = cache
            .call_bounded(SHORT, |c| {
                c.store_password("adele", &here(), &Secret::new("old"))?;
                c.store_refresh_token("adele", &here(), &Secret::new("token"))
            })
            .await;
        assert!(
            matches!(first, Err(KeyringError::Unavailable(_))),
            "{first:?}"
        );
        assert!(started.elapsed() < SHORT * 5);
        // While it is stuck, other calls do not wait another timeout each.
        for _ in 0..3 {
            let started = Instant::now();
            let next = cache.call_bounded(SHORT, |c| c.has_password("adele")).await;
            assert!(matches!(next, Err(KeyringError::Stuck { .. })), "{next:?}");
            assert!(started.elapsed() < SHORT / 4, "{:?}", started.elapsed());
        }
        // The keyring answers at last: the one write already inside it lands, the rest not.
        store.answer();
        let mut ready = false;
        for _ in 0..200 {
            if cache.call_bounded(SHORT, |_| Ok(())).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            ready,
            "the keyring is usable again once the late call returned"
        );
        assert_eq!(*lock(&store.writes), ["set t"]);
        let stored = cache
            .call_bounded(SHORT, |c| c.has_password("adele"))
            .await
            .unwrap();
        assert!(stored);
        let token = cache
            .call_bounded(SHORT, |c| c.refresh_token("adele", &here()))
            .await
            .unwrap();
        assert_eq!(
            token,
            Kept::Nothing,
            "the abandoned second step did not run"
        );
    }

    #[tokio::test]
    async fn a_call_that_answers_in_time_is_not_affected() {
        let store = Arc::new(TestStore::default());
        let cache = cache_on(&store);
        cache
            .call_bounded(SHORT, |c| {
                c.store_password("a", &here(), &Secret::new("pw"))
            })
            .await
            .unwrap();
        let back = cache
            .call_bounded(SHORT, |c| c.password("a", &here()))
            .await
            .unwrap();
        assert_eq!(back, Kept::Here(Secret::new("pw")));
    }
}
