//! The real program's parts put together: the configured endpoint, the desktop, the machine's
//! clock, and the login item of this program for the tray's "Start at login". The commands and
//! the demo build their routine and agent from these.

use signin_assistant::agent::Agent;
use signin_assistant::providers::{IdentityProvider, Provider};
use signin_assistant::screen::desktop::{Desktop, RealDesktop};
use signin_assistant::system::autostart::LoginItem;
use signin_assistant::system::clock::{Clock, SystemClock};
use signin_assistant::work::routine::Routine;

/// The routine of the real program: the configured endpoint, the OS keyring, the desktop and
/// the machine's clock.
pub type RealRoutine = Routine<Provider, RealDesktop, SystemClock>;

/// The agent of the real program.
pub type RealAgent = Agent<Provider, RealDesktop, SystemClock>;

/// The agent with the "Start at login" switch of this program (greyed out when the login item
/// cannot be found, which is said in the log).
pub fn with_login_item<P: IdentityProvider, D: Desktop, C: Clock>(
    agent: Agent<P, D, C>,
) -> Agent<P, D, C> {
    match LoginItem::for_this_program() {
        Ok(item) => agent.with_login_item(item),
        Err(e) => {
            tracing::warn!(error = %e, "the tray's \"Start at login\" is not available");
            agent
        }
    }
}
