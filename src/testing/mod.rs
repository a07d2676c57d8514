//! The fakes of the four seams the agent is generic over, shared by the unit tests, the
//! integration tests (`tests/`) and the benches: an identity endpoint that answers from a
//! script ([`FakeEndpoint`]), a screen that records what it showed and opened
//! ([`FakeDesktop`]), a wall clock over tokio's paused time ([`FakeClock`]) and a keyring that
//! lives in memory ([`keyring_holding`]).
//!
//! Built only for tests: behind the cargo feature `testing` (the package's tests turn it on
//! through a dev-dependency on the package itself), never in the shipped binary.

pub mod clock;
pub mod desktop;
pub mod endpoint;

pub use clock::FakeClock;
pub use desktop::FakeDesktop;
pub use endpoint::FakeEndpoint;

use crate::providers::IdentityProvider;
use crate::system::credentials::{CredentialCache, Secret};

/// A keyring in memory (keyring-core's mock store) under the service `test`, holding
/// `password` for `account` when one is given, as accepted by a default [`FakeEndpoint`].
pub fn keyring_holding(account: &str, password: Option<&str>) -> CredentialCache {
    let cache = CredentialCache::in_memory("test");
    if let Some(password) = password {
        cache
            .store_password(
                account,
                &FakeEndpoint::default().endpoint(),
                &Secret::new(password),
            )
            .expect("the in-memory keyring takes a password");
    }
    cache
}
