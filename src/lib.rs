//! signin-assistant: warns before a directory password expires and opens the change-password
//! portal in one click.
//!
//! Data flows one way: configuration and cached credentials go to a provider (Entra ID or LDAP),
//! which reports what the endpoint said; the pure policy turns that into a status and decides
//! whether a balloon is due; the agent shows it, saves the state and waits for the next check.

pub mod admin_policy;
pub mod agent;
pub mod autostart;
pub mod config;
pub mod credentials;
pub mod emulator;
pub mod events;
pub mod instance;
pub mod notify;
pub mod paths;
pub mod policy;
pub mod portal;
pub mod prompt;
pub mod provider;
pub mod report;
pub mod session;
pub mod shutdown;
pub mod state;
pub mod tray;
