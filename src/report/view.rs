//! The messages between the agent and its front ends (today the tray).
//!
//! Front ends never call into the agent: they send a [`Command`] and watch a [`View`], so the
//! GUI event loop and the async agent stay on their own threads.

use chrono::{DateTime, Utc};

use crate::rules::expiry::{PasswordState, Status};

/// What a person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ask the endpoint now.
    CheckNow,
    /// Sign in the configured way (the password dialog, or Entra ID's browser or device code).
    SignIn,
    /// Sign in with the system browser: what the endpoint asked for (multi-factor, consent).
    SignInWithBrowser,
    /// Forget the cached credentials.
    SignOut,
    /// Show the status balloon (left click on the tray icon).
    ShowStatus,
    /// Open the change-password portal.
    ChangePassword,
    /// Turn starting at login on or off.
    SetAutostart(bool),
    /// Set the product up (the configuration is incomplete): say how.
    SetUp,
    /// The machine woke from sleep (not a person's request: logind told).
    Resumed,
    /// Stop the agent.
    Quit,
}

/// What the front ends show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub state: PasswordState,
    /// In the last `urgent_days` before the deadline (or expired).
    pub urgent: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub days_left: Option<i64>,
    /// One line for the tooltip and the menu's status line, e.g.
    /// "Password expires in 10 days (Thu 4 Dec)".
    pub summary: String,
    /// Whether credentials are cached (the menu offers "Sign out" rather than "Sign in…").
    pub signed_in: bool,
    pub autostart: Option<bool>,
    /// The last check failed: what is shown is the last known status.
    pub stale: bool,
    /// Only a sign-in in the browser can help (multi-factor, consent): the menu offers it.
    pub needs_browser: bool,
    /// Not set up yet: what is missing, in plain words (the menu offers "Set up…").
    pub not_set_up: Option<String>,
}

impl View {
    /// The view before the first check.
    pub fn initial() -> View {
        View {
            state: PasswordState::Unknown,
            urgent: false,
            expires_at: None,
            days_left: None,
            summary: "Checking your password…".into(),
            signed_in: false,
            autostart: None,
            stale: false,
            needs_browser: false,
            not_set_up: None,
        }
    }

    /// The view while the configuration lacks what `needs` says (plain words, e.g. "the Entra
    /// application (client) id"): status unknown, and a summary that says what is missing.
    pub fn not_set_up(needs: &str) -> View {
        View {
            summary: format!("Not set up yet: needs {needs}"),
            not_set_up: Some(needs.to_string()),
            ..View::initial()
        }
    }

    /// The view of `status`; `summary` is its one line, marked when `stale`.
    pub fn of(status: &Status, summary: String, signed_in: bool, stale: bool) -> View {
        let summary = if stale {
            format!("{summary} (the last check failed)")
        } else {
            summary
        };
        View {
            state: status.state,
            urgent: status.urgent,
            expires_at: status.expires_at,
            days_left: status.days_left,
            summary,
            signed_in,
            autostart: None,
            stale,
            needs_browser: false,
            not_set_up: None,
        }
    }
}
