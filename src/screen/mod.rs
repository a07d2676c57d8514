//! What a person sees: the balloon, the password dialog and the tray, and the [`desktop::Desktop`]
//! seam through which the work and the agent use them (a fake in tests).

pub mod balloon;
pub mod desktop;
pub mod dialog;
pub mod tray;
