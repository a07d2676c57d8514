//! This computer: the configuration files and what the administrator enforces, the paths, the
//! OS keyring, the state file, the clock, the log, the login item, which page a click may open,
//! which program runs when one is started by name, and the process's own protections. Each
//! concern with per-OS code keeps it in its own folder (`linux.rs`, `windows.rs`, `macos.rs`).

pub mod autostart;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod hardening;
pub mod logging;
pub mod managed;
pub mod paths;
pub mod portal;
pub mod programs;
pub mod state;
