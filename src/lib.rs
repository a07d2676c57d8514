//! signin-assistant: warns before a directory password expires and opens the change-password
//! portal in one click.
//!
//! Data flows one way: configuration and cached credentials go to a provider (Entra ID or LDAP),
//! which reports what the endpoint said; the pure policy turns that into a status and decides
//! whether a balloon is due; the agent shows it, saves the state and waits for the next check.
//!
//! # Glossary
//! One word per concept, used the same way in code, logs and docs:
//! - **account**: the user name a person signs in with (`adele@contoso.com`, `alice`).
//! - **credentials**: what the OS keyring keeps for an account: the password and/or a refresh token.
//! - **check**: one question to the identity endpoint with the cached credentials.
//! - **finding**: what one check (or sign-in) found: the password [`policy::Facts`], or that the
//!   person must sign in again and why ([`policy::SignInReason`]).
//! - **facts**: what the endpoint said about the password: its [`policy::Deadline`] (when it
//!   expires, never, or already expired), where that came from ([`policy::Source`]), and extras.
//! - **status**: a finding judged at a moment under the [`policy::Policy`]: a
//!   [`policy::PasswordState`] (ok, warning, expired, never_expires, sign_in_required, unknown),
//!   days left, urgency. Always computed, never stored.
//! - **report**: the status as printed: the `--json` object and the text ([`report::Report`]).
//! - **view**: the status as the tray shows it ([`events::View`]).
//! - **saved state**: what is kept between runs in the state file ([`state::SavedState`]).
//! - **balloon**: the desktop notification; its **outcome** is how it ended (clicked, dismissed
//!   with X, timed out, closed, printed on the console).
//! - **portal**: the change-password web page a click opens.
//! - **agent**: the long-running process (`run`) with its tray; **front end**: the tray (and any
//!   other source of commands) talking to it.

/// The version and the commit it was built from, e.g. "0.1.0 (commit 1a2b3c4)".
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SIGNIN_ASSISTANT_COMMIT"),
    ")"
);

pub mod account;
pub mod admin_policy;
pub mod agent;
pub mod autostart;
pub mod clock;
pub mod config;
pub mod control;
pub mod credentials;
pub mod desktop;
pub mod doctor;
pub mod events;
pub mod front;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hardening;
pub mod instance;
pub mod interactive;
pub mod logging;
pub mod loopback;
pub mod notify;
pub mod password_change;
pub mod paths;
pub mod policy;
pub mod portal;
pub mod prompt;
pub mod provider;
pub mod report;
pub mod resume;
pub mod routine;
pub mod schedule;
pub mod setup;
pub mod shutdown;
pub mod state;
pub mod tray;
pub mod untrusted;
