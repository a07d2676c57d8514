//! The agent's control channel: how a command on the command line talks to the running agent,
//! so the tray changes at once and the agent stays the one writer of the state file.
//!
//! A small versioned JSON-lines protocol, one request and one answer per connection:
//! `{"version":1,"request":"status"}` → `{"version":1,"ok":true,"pid":…,"report":{…}}`.
//! Requests: `status`, `check`, `signed_in` (the command line signed an account in and stored
//! what the endpoint accepted in the keyring itself: the agent records the finding), `sign_out`,
//! `reload`, `quit`. Nothing secret ever crosses it.
//!
//! The transport is a Unix domain socket, mode 0600, in a 0700 directory under
//! `$XDG_RUNTIME_DIR` (else the state directory), see `unix.rs`; the server also refuses peers of
//! another user. Windows has no control channel yet (a named pipe is to come): the commands then work alone, as
//! when no agent runs.

#[cfg(unix)]
mod unix;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::policy::Finding;
use crate::report::Report;

#[cfg(unix)]
pub use unix::{ask, listen};

/// The protocol's version; an answer of another version is refused.
pub const VERSION: u32 = 1;
/// The longest line either side reads (a request or an answer is far smaller).
pub const MAX_LINE: usize = 64 * 1024;

/// What a command asks of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The current status.
    Status,
    /// Check now and answer when the check has ended.
    Check,
    /// The command line signed `account` in (its credentials are in the keyring already).
    SignedIn { account: String, finding: Finding },
    /// Remove the account's credentials and forget the account.
    SignOut,
    /// Read the state file again.
    Reload,
    /// Stop.
    Quit,
}

/// A request on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub version: u32,
    #[serde(flatten)]
    pub body: T,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    /// The agent's process id.
    pub pid: u32,
    /// The status after the request (absent for `quit`).
    #[serde(default)]
    pub report: Option<Report>,
    /// Why the request did not work (e.g. the check failed: the report keeps the last status).
    #[serde(default)]
    pub error: Option<String>,
}

impl Answer {
    /// A successful answer with the status.
    pub fn with_report(report: Report) -> Answer {
        Answer {
            ok: true,
            pid: std::process::id(),
            report: Some(report),
            error: None,
        }
    }

    /// An answer that says what went wrong, with the status where there is one.
    pub fn failed(error: String, report: Option<Report>) -> Answer {
        Answer {
            ok: false,
            pid: std::process::id(),
            report,
            error: Some(error),
        }
    }
}

/// One request handed to the agent's loop, with where its answer goes.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: oneshot::Sender<Answer>,
}

/// Where the agent's calls arrive.
pub type Calls = mpsc::UnboundedReceiver<Call>;

/// Why the agent could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot talk to the running agent at {path}: {detail}")]
    Broken { path: PathBuf, detail: String },
}

/// The control socket's path: `$XDG_RUNTIME_DIR/signin-assistant/control.sock`, else
/// `control.sock` in the state directory.
pub fn socket_path() -> Option<PathBuf> {
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("signin-assistant"));
    runtime_dir
        .or_else(crate::paths::state_dir)
        .map(|dir| dir.join("control.sock"))
}

/// Asks the running agent, where this system has no control channel: there is never one.
#[cfg(not(unix))]
pub async fn ask(_request: &Request) -> Result<Option<Answer>, ControlError> {
    Ok(None)
}

/// Where this system has no control channel, the agent runs without one.
#[cfg(not(unix))]
pub async fn listen(
    _calls: mpsc::UnboundedSender<Call>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no control channel on this system yet",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Deadline, Facts, Source};

    #[test]
    fn requests_have_a_stable_wire_form() {
        let cases = [
            (Request::Status, r#"{"version":1,"request":"status"}"#),
            (Request::Check, r#"{"version":1,"request":"check"}"#),
            (Request::SignOut, r#"{"version":1,"request":"sign_out"}"#),
            (Request::Reload, r#"{"version":1,"request":"reload"}"#),
            (Request::Quit, r#"{"version":1,"request":"quit"}"#),
        ];
        for (request, wire) in cases {
            let text = serde_json::to_string(&Envelope {
                version: VERSION,
                body: request.clone(),
            })
            .unwrap();
            assert_eq!(text, wire);
            let back: Envelope<Request> = serde_json::from_str(wire).unwrap();
            assert_eq!(back.body, request);
        }
        let signed_in = Request::SignedIn {
            account: "adele@contoso.com".into(),
            finding: Finding::Facts(Facts::new(Deadline::Never, Source::GraphPasswordPolicies)),
        };
        let text = serde_json::to_string(&Envelope {
            version: VERSION,
            body: signed_in.clone(),
        })
        .unwrap();
        let back: Envelope<Request> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.body, signed_in);
    }

    #[test]
    fn unknown_or_malformed_requests_are_refused() {
        for wire in [
            r#"{"version":1,"request":"format_disk"}"#,
            r#"{"version":1}"#,
            r#"not json"#,
            r#"{"version":"1","request":"status"}"#,
        ] {
            assert!(
                serde_json::from_str::<Envelope<Request>>(wire).is_err(),
                "{wire}"
            );
        }
    }
}
