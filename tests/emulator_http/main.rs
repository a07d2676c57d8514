//! The Entra emulator (the `emulator` crate) over real HTTP, driven by a client written against
//! Microsoft's documentation, with the TLS crypto the library's providers install: the token
//! endpoint and Graph (`protocol`), and the interactive sign-ins (`interactive`).
//!
//! Here rather than in the emulator's crate because they use signin-assistant's provider set-up;
//! the emulator's own unit tests stay beside its code.

mod interactive;
mod protocol;
