//! The errors that choose a command's exit code (README, "Exit codes"): 2 for a command called
//! the wrong way, 1 for one that ran but could not determine a status; anything else is 2 or 1
//! as `cli::exit_code_for` decides.

/// An error in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A command that ran but could not determine a status (exit code 1), already reported.
#[derive(Debug, thiserror::Error)]
#[error("no status could be determined")]
pub struct NotDetermined;
