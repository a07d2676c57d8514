//! What Entra ID needs from its `[entra]` table before it can be asked, and the words for a person
//! who has not set it. The table's keys and defaults are parsed by `system::config`, which knows
//! no provider; what they mean for Entra ID is said here.

use crate::system::config::{Config, Missing, SignInMethod, TENANT_WHO};

/// The application (client) id an admin registered.
pub const CLIENT_ID: Missing = Missing {
    key: "entra.client_id",
    what: "the Entra application (client) id",
    who: "ask your IT desk for the application (client) id they registered for Sign-in Assistant",
};

/// The tenant (optional: unset means any work or school account).
pub const TENANT: Missing = Missing {
    key: "entra.tenant",
    what: "the Entra tenant",
    who: TENANT_WHO,
};

/// The values `[entra]` may lack, with their words.
pub const WORDS: &[Missing] = &[CLIENT_ID, TENANT];

/// The values Entra ID cannot work without that no layer sets.
pub fn missing(config: &Config) -> Vec<Missing> {
    let client_id = config.entra.client_id.as_deref();
    if client_id.is_none_or(|v| v.trim().is_empty()) {
        vec![CLIENT_ID]
    } else {
        Vec::new()
    }
}

/// How "Sign in" signs in: `[entra] sign_in`.
pub fn sign_in(config: &Config) -> SignInMethod {
    config.entra.sign_in
}
