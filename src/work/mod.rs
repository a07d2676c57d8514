//! The work, done once for the agent and the commands alike: a check recorded and saved
//! ([`routine`]), what goes into the keyring and when it leaves ([`account`]), Entra ID's browser
//! and device-code sign-ins ([`entra_sign_in`]), and changing a directory password
//! ([`password_change`]).

pub mod account;
pub mod entra_sign_in;
pub mod password_change;
pub mod routine;
