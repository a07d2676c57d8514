//! The keyring: a round trip with a throwaway entry (written, read back, removed) under a
//! service name of its own, so the person's real entries are never touched.

use super::Item;
use crate::system::credentials::{CredentialCache, EndpointIdentity, Kept, Secret};

/// The service name of the throwaway entry.
pub const SERVICE: &str = "signin-assistant.doctor";
const CHECK: &str = "keyring";

pub async fn check(cache: CredentialCache) -> Vec<Item> {
    let outcome = tokio::task::spawn_blocking(move || round_trip(&cache)).await;
    let item = match outcome {
        Ok(Ok(())) => Item::ok(
            CHECK,
            "a throwaway entry was written, read back and removed",
        ),
        Ok(Err(problem)) => problem,
        Err(e) => Item::problem(
            CHECK,
            format!("the check stopped: {e}"),
            "run `signin-assistant doctor -v` and report what it says",
        ),
    };
    vec![item]
}

fn round_trip(cache: &CredentialCache) -> Result<(), Item> {
    let account = format!("doctor-{:016x}", fastrand::u64(..));
    let value = Secret::new(format!("throwaway-{:016x}", fastrand::u64(..)));
    let failed = |step: &str, e: crate::system::credentials::KeyringError| {
        Item::problem(
            CHECK,
            format!("{step}: {e}"),
            "until this is fixed, signin-assistant cannot keep your password to check for you",
        )
    };
    let endpoint = EndpointIdentity::new("doctor round trip");
    cache
        .store_password(&account, &endpoint, &value)
        .map_err(|e| failed("writing an entry failed", e))?;
    let read = cache.password(&account, &endpoint);
    let removed = cache.forget(&account);
    match read {
        Ok(Kept::Here(back)) if back == value => {}
        Ok(_) => {
            return Err(Item::problem(
                CHECK,
                "an entry was written but did not read back the same",
                "the keyring loses what is stored in it: check its settings or use another one",
            ))
        }
        Err(e) => return Err(failed("reading the entry back failed", e)),
    }
    removed.map_err(|e| failed("removing the throwaway entry failed", e))
}
