//! A fake identity endpoint: answers from a script, notes when it was asked, and hangs when the
//! script is empty (a network that never answers).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::providers::{Attempt, IdentityProvider, ProviderError, RefreshOutcome};
use crate::rules::expiry::Finding;
use crate::system::clock::Clock;
use crate::system::credentials::{EndpointIdentity, Secret};
use crate::testing::clock::FakeClock;

/// An endpoint that answers from a script; an empty script means "hang forever".
#[derive(Clone, Default)]
pub struct FakeEndpoint {
    /// The answers still to give, in order.
    answers: Arc<Mutex<VecDeque<Result<Finding, ProviderError>>>>,
    /// When it was asked, on `clock`.
    calls: Arc<Mutex<Vec<DateTime<Utc>>>>,
    clock: FakeClock,
    /// The name of the server it plays (empty: the default one); tests move it.
    server: Arc<Mutex<String>>,
}

impl FakeEndpoint {
    /// An endpoint that notes the time of every request on `clock`.
    pub fn on(clock: FakeClock) -> FakeEndpoint {
        FakeEndpoint {
            clock,
            ..FakeEndpoint::default()
        }
    }

    /// The next answer: a finding, or the endpoint unreachable for the reason given.
    pub fn answer(&self, answer: Result<Finding, String>) {
        self.fail_or_answer(answer.map_err(|detail| ProviderError::Unreachable {
            endpoint: "fake".into(),
            detail,
        }));
    }

    /// The next answer, failures of every kind included.
    pub fn fail_or_answer(&self, answer: Result<Finding, ProviderError>) {
        self.answers.lock().unwrap().push_back(answer);
    }

    /// How often it was asked so far.
    pub fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The clock it notes the requests on (the tests move it).
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// From now on it plays another server (a changed configuration).
    pub fn move_to(&self, server: &str) {
        *self.server.lock().unwrap() = server.to_string();
    }

    /// When it was asked, oldest first.
    pub fn call_times(&self) -> Vec<DateTime<Utc>> {
        self.calls.lock().unwrap().clone()
    }
}

impl IdentityProvider for FakeEndpoint {
    async fn authenticate(&self, _: &str, _: &Secret) -> Result<Attempt, ProviderError> {
        self.calls.lock().unwrap().push(self.clock.now());
        let answer = self.answers.lock().unwrap().pop_front();
        match answer {
            Some(Ok(finding)) => Ok(Attempt {
                finding,
                password_accepted: true,
                refresh_token: None,
            }),
            Some(Err(e)) => Err(e),
            None => std::future::pending().await,
        }
    }

    async fn refresh(&self, _: &str, _: &Secret) -> Result<RefreshOutcome, ProviderError> {
        Ok(RefreshOutcome::Revoked)
    }

    fn uses_refresh_tokens(&self) -> bool {
        false
    }

    fn endpoint(&self) -> EndpointIdentity {
        EndpointIdentity::new(format!("fake {}", self.server.lock().unwrap()))
    }
}
