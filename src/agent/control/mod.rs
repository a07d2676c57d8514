//! The agent's control channel: how a command on the command line talks to the running agent,
//! so the tray changes at once and the agent stays the one writer of the state file.
//!
//! A small versioned JSON-lines protocol, one request and one answer per connection:
//! `{"version":1,"request":"status"}` → `{"version":1,"ok":true,"pid":…,"report":{…}}`.
//! Requests: `status`, `check`, `signed_in` (the command line signed an account in and stored
//! what the endpoint accepted in the keyring itself: the agent records the finding), `sign_out`,
//! `reload`, `quit`. Nothing secret ever crosses it. This module owns the protocol (both ends of
//! one connection, over any byte stream); the transports only connect and say who may.
//!
//! Both ends make sure of the other. The agent answers only its own user; the command reads an
//! answer only from a process of its own user ([`served_by_this_user`]), since a process of
//! another user that got the channel's name first could otherwise tell it anything (a status, a
//! sign-out that never happened, a link to follow); and the change-password link in an answer is
//! put through the portal allow-list again ([`Answer::with_portal_checked`]) before it is shown.
//!
//! Platform-specific:
//! - Unix: a domain socket, mode 0600, in a 0700 directory under `$XDG_RUNTIME_DIR` (else the
//!   state directory); each end checks the other's user with `SO_PEERCRED` (`unix.rs`).
//! - Windows: a named pipe, `\\.\pipe\signin-assistant-<user SID>`, created first by the agent
//!   and whose security descriptor grants this user alone, closed to other computers; the
//!   command checks the user of the process that serves it (`windows.rs`).
//! - Elsewhere there is no control channel: the commands work alone, as when no agent runs.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::report::Report;
use crate::rules::expiry::Finding;
use crate::system::config::Config;
use crate::system::portal;

#[cfg(unix)]
pub use unix::{ask, listen, socket_path};
#[cfg(windows)]
pub use windows::{ask, listen, pipe_name};

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

    /// The answer with its change-password link put through this configuration's allow-list
    /// again (`portal::choose`): a link the allow-list does not cover becomes the configured
    /// portal. Whatever shows an answer's status shows this.
    pub fn with_portal_checked(mut self, config: &Config) -> Answer {
        if let Some(report) = &mut self.report {
            report.portal_url = portal::choose(config, Some(&report.portal_url));
        }
        self
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

/// How long a command waits for the agent to accept and answer a quick request, and the agent
/// for a request once connected. A `check` is answered when the check has ended, which has its
/// own deadline.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// Why the agent could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot talk to the running agent at {place}: {detail}")]
    Broken { place: String, detail: String },
    #[error(
        "{place} is served by a process of another user ({server}), not by your agent: nothing \
         was asked of it and its answer is not used"
    )]
    AnotherUser { place: String, server: String },
}

/// Whether the process serving the channel at `place` runs as this user (`own`): the OS says
/// who it is (`server`: a user id, a SID), or why it cannot. Anything but the same user is
/// refused before a request is sent, so nothing is told to, or believed from, another user.
pub(crate) fn served_by_this_user<U: PartialEq + std::fmt::Display>(
    place: &str,
    own: &U,
    server: std::io::Result<U>,
) -> Result<(), ControlError> {
    match server {
        Ok(server) if server == *own => Ok(()),
        Ok(server) => Err(ControlError::AnotherUser {
            place: place.to_string(),
            server: server.to_string(),
        }),
        Err(e) => Err(ControlError::Broken {
            place: place.to_string(),
            detail: format!("cannot tell which user serves it ({e}), so it is not asked"),
        }),
    }
}

/// The agent's side of one connection: reads one request, hands it to the agent's loop as a
/// [`Call`] and writes its answer. A peer that says nothing in time is dropped.
pub(crate) async fn serve_connection<S>(stream: S, calls: mpsc::UnboundedSender<Call>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_LINE as u64);
    let answer = match tokio::time::timeout(CONNECT_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => match serde_json::from_str::<Envelope<Request>>(&line) {
            Ok(envelope) if envelope.version == VERSION => call(envelope.body, &calls).await,
            Ok(envelope) => Answer::failed(
                format!(
                    "protocol version {} is not spoken here (only {VERSION})",
                    envelope.version
                ),
                None,
            ),
            Err(e) => Answer::failed(format!("not a request: {e}"), None),
        },
        _ => return,
    };
    let mut text = serde_json::to_string(&Envelope {
        version: VERSION,
        body: answer,
    })
    .unwrap_or_default();
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
    let _ = write.flush().await;
}

async fn call(request: Request, calls: &mpsc::UnboundedSender<Call>) -> Answer {
    let (reply, answer) = oneshot::channel();
    if calls.send(Call { request, reply }).is_err() {
        return Answer::failed("the agent is stopping".into(), None);
    }
    answer
        .await
        .unwrap_or_else(|_| Answer::failed("the agent is stopping".into(), None))
}

/// The command's side of one connection to the agent at `place`: sends `request`, reads the
/// answer.
pub(crate) async fn exchange<S>(
    stream: S,
    request: &Request,
    place: &str,
) -> Result<Answer, ControlError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let broken = |detail: String| ControlError::Broken {
        place: place.to_string(),
        detail,
    };
    let (read, mut write) = tokio::io::split(stream);
    let mut text = serde_json::to_string(&Envelope {
        version: VERSION,
        body: request,
    })
    .map_err(|e| broken(e.to_string()))?;
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(|e| broken(e.to_string()))?;
    write.flush().await.map_err(|e| broken(e.to_string()))?;
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_LINE as u64);
    match tokio::time::timeout(ANSWER_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(Ok(_)) => return Err(broken("it closed the connection without an answer".into())),
        Ok(Err(e)) => return Err(broken(e.to_string())),
        Err(_) => return Err(broken("it did not answer in time".into())),
    }
    let envelope: Envelope<Answer> =
        serde_json::from_str(&line).map_err(|e| broken(format!("unreadable answer: {e}")))?;
    if envelope.version != VERSION {
        return Err(broken(format!(
            "it speaks protocol version {}",
            envelope.version
        )));
    }
    Ok(envelope.body)
}

/// Asks the running agent, where this system has no control channel: there is never one.
#[cfg(not(any(unix, windows)))]
pub async fn ask(_request: &Request) -> Result<Option<Answer>, ControlError> {
    Ok(None)
}

/// Where this system has no control channel, the agent runs without one.
#[cfg(not(any(unix, windows)))]
pub async fn listen(
    _calls: mpsc::UnboundedSender<Call>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no control channel on this system",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expiry::{Deadline, Facts, Source};

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

    #[tokio::test]
    async fn one_request_and_its_answer_cross_a_stream() {
        let (agent_end, command_end) = tokio::io::duplex(4096);
        let (calls, mut arrived) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve_connection(agent_end, calls));
        let agent = tokio::spawn(async move {
            let call = arrived.recv().await.unwrap();
            assert_eq!(call.request, Request::Reload);
            let _ = call
                .reply
                .send(Answer::failed("nothing to reload".into(), None));
        });
        let answer = exchange(command_end, &Request::Reload, "test")
            .await
            .unwrap();
        assert!(!answer.ok);
        assert_eq!(answer.error.as_deref(), Some("nothing to reload"));
        assert_eq!(answer.pid, std::process::id());
        server.await.unwrap();
        agent.await.unwrap();
    }

    #[test]
    fn only_a_server_of_this_user_is_asked() {
        let own = "S-1-5-21-1-2-3-1001".to_string();
        assert!(served_by_this_user("pipe", &own, Ok(own.clone())).is_ok());
        let squatter = served_by_this_user("pipe", &own, Ok("S-1-5-21-1-2-3-1002".to_string()));
        let Err(e @ ControlError::AnotherUser { .. }) = squatter else {
            panic!("{squatter:?}");
        };
        assert!(e.to_string().contains("S-1-5-21-1-2-3-1002"), "{e}");
        assert!(e.to_string().contains("not by your agent"), "{e}");
        // Who serves it cannot be told (the process is gone, or may not be opened): refused too.
        let unknown = served_by_this_user(
            "pipe",
            &own,
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
        );
        assert!(
            matches!(&unknown, Err(ControlError::Broken { detail, .. }) if detail.contains("which user")),
            "{unknown:?}"
        );
        assert!(served_by_this_user("socket", &1000u32, Ok(1000)).is_ok());
        assert!(served_by_this_user("socket", &1000u32, Ok(0)).is_err());
    }

    #[test]
    fn a_link_in_an_answer_goes_through_the_allow_list_again() {
        use crate::rules::expiry::PasswordState;
        let config = Config::default();
        let configured = config.portal.url.to_string();
        let answer_with = |url: &str| {
            Answer::with_report(Report {
                account: Some("adele@contoso.com".into()),
                state: PasswordState::Warning,
                expires_at: None,
                days_left: Some(3),
                checked_at: None,
                source: None,
                reason: None,
                portal_url: url.to_string(),
            })
        };
        for refused in [
            "https://evil.example/change",
            "https://forms.office.com/r/abc",
            "javascript:alert(1)",
            "not a url",
        ] {
            let checked = answer_with(refused).with_portal_checked(&config);
            assert_eq!(checked.report.unwrap().portal_url, configured, "{refused}");
        }
        let microsoft = "https://mysignins.microsoft.com/security-info/password/change";
        let checked = answer_with(microsoft).with_portal_checked(&config);
        assert_eq!(checked.report.unwrap().portal_url, microsoft);
        let failed = Answer::failed("x".into(), None).with_portal_checked(&config);
        assert_eq!(failed.report, None);
    }

    #[tokio::test]
    async fn another_protocol_version_is_answered_with_an_error() {
        let (agent_end, mut command_end) = tokio::io::duplex(4096);
        let (calls, _arrived) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve_connection(agent_end, calls));
        command_end
            .write_all(b"{\"version\":2,\"request\":\"status\"}\n")
            .await
            .unwrap();
        let mut line = String::new();
        BufReader::new(command_end)
            .read_line(&mut line)
            .await
            .unwrap();
        let answer: Envelope<Answer> = serde_json::from_str(&line).unwrap();
        assert!(!answer.body.ok);
        assert!(answer.body.error.unwrap().contains("version 2"));
        server.await.unwrap();
    }
}
