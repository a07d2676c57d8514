//! signin-assistant: warns before a directory password expires and opens the change-password
//! portal in one click.
//!
//! Data flows one way: configuration and cached credentials go to a provider (Entra ID or LDAP),
//! which reports what the endpoint said; the pure expiry rules turn that into a status and decide
//! whether a balloon is due; the agent shows it, saves the state and waits for the next check.
//! The modules below are the layers, lowest first (ARCHITECTURE.md).
//!
//! # Glossary
//! One word per concept, used the same way in code, logs and docs:
//! - **account**: the user name a person signs in with (`adele@contoso.com`, `alice`).
//! - **credentials**: what the OS keyring keeps for an account: the password and/or a refresh token.
//! - **check**: one question to the identity endpoint with the cached credentials.
//! - **finding**: what one check (or sign-in) found: the password [`rules::expiry::Facts`], or
//!   that the person must sign in again and why ([`rules::expiry::SignInReason`]).
//! - **facts**: what the endpoint said about the password: its [`rules::expiry::Deadline`] (when
//!   it expires, never, or already expired), where that came from ([`rules::expiry::Source`]),
//!   and extras.
//! - **expiry rules**: every date rule of the product ([`rules::expiry`]): pure, table-tested.
//! - **password policy**: the organisation's password ages and warning window (the `[policy]`
//!   section, [`rules::expiry::Policy`]). Not to be confused with **managed settings**: what an
//!   administrator enforces through Group Policy, managed preferences or an enforced system file
//!   ([`system::managed`]); nor with LDAP's **ppolicy** overlay, always called by that name.
//! - **status**: a finding judged at a moment under the password policy: a
//!   [`rules::expiry::PasswordState`] (ok, warning, expired, never_expires, sign_in_required,
//!   unknown), days left, urgency. Always computed, never stored.
//! - **report**: the status as printed: the `--json` object and the text ([`report::Report`]).
//! - **view**: the status as the tray shows it ([`report::view::View`]).
//! - **saved state**: what is kept between runs in the state file ([`system::state::SavedState`]).
//! - **balloon**: the desktop notification ([`screen::balloon`]); its **outcome** is how it ended
//!   (clicked, dismissed with X, timed out, closed, printed on the console).
//! - **dialog**: the password dialog the desktop shows ([`screen::dialog`]): pinentry,
//!   the Windows credential dialog, an osascript dialog.
//! - **portal**: the change-password web page a click opens.
//! - **setup**: the `setup` command, which turns a work e-mail address into a configuration
//!   ([`setup`]); an agent started without a complete configuration is **unconfigured**
//!   ([`agent::unconfigured`]).
//! - **agent**: the long-running process (`run`) with its tray; **front end**: the tray (and any
//!   other source of commands) talking to it.

/// The version and the commit it was built from, e.g. "0.1.0 (commit 1a2b3c4)".
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SIGNIN_ASSISTANT_COMMIT"),
    ")"
);

// The layers, lowest first (ARCHITECTURE.md): each imports only from those listed before it.

// The rules, pure: dates, balloons, when to check.
pub mod rules;

// This computer: configuration, keyring, state, clock, login item.
pub mod system;

// The identity endpoints: Entra ID and LDAP directories.
pub mod providers;

// The status as printed and as the tray shows it.
pub mod report;

// What a person sees: balloon, dialog, tray.
pub mod screen;

// The work the agent and the commands share.
pub mod work;

// The running agent.
pub mod agent;

// Setting up and diagnosing.
pub mod setup;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
