//! The control channel over a Unix domain socket.
//!
//! Who may talk to the agent: the directory is created 0700 (or made so) and must belong to
//! this user, the socket is 0600, and every connection's peer must be this user (checked with
//! `SO_PEERCRED`). A socket left behind by an agent that was killed is noticed (nobody answers
//! on it) and replaced.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::{socket_path, Answer, Call, ControlError, Envelope, Request, MAX_LINE, VERSION};

/// How long a command waits for the agent to accept and answer a quick request. A `check` is
/// answered when the check has ended, which has its own deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// The agent's end: the bound socket, removed when dropped.
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the control socket (replacing one left by a crashed agent) and serves it: every
/// request becomes a [`Call`] on `calls`. The task ends with the returned listener's owner.
pub async fn listen(
    calls: mpsc::UnboundedSender<Call>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no runtime or state directory",
        )
    })?;
    let listener = bind(&path).await?;
    Ok(tokio::spawn(serve(listener, calls)))
}

async fn bind(path: &Path) -> std::io::Result<Listener> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another agent answers on the control socket",
            ));
        }
        tracing::info!(path = %path.display(), "replacing a control socket left by an agent that did not stop cleanly");
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Listener {
        listener,
        path: path.to_path_buf(),
    })
}

/// Makes `dir` a directory only this user can enter.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != current_uid() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is not a directory of this user", dir.display()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

async fn serve(listener: Listener, calls: mpsc::UnboundedSender<Call>) {
    loop {
        let stream = match listener.listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "the control socket failed; commands work alone now");
                return;
            }
        };
        match stream.peer_cred() {
            Ok(peer) if peer.uid() == current_uid() => {}
            _ => {
                tracing::warn!("refused a control connection from another user");
                continue;
            }
        }
        tokio::spawn(answer(stream, calls.clone()));
    }
}

/// Reads one request, hands it to the agent and writes its answer.
async fn answer(stream: UnixStream, calls: mpsc::UnboundedSender<Call>) {
    let (read, mut write) = stream.into_split();
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

/// Asks the running agent. `Ok(None)`: no agent listens (none runs, or it left a dead socket).
pub async fn ask(request: &Request) -> Result<Option<Answer>, ControlError> {
    let Some(path) = socket_path() else {
        return Ok(None);
    };
    let broken = |detail: String| ControlError::Broken {
        path: path.clone(),
        detail,
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&path)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) if is_absent(&e) => return Ok(None),
        Ok(Err(e)) => return Err(broken(e.to_string())),
        Err(_) => return Err(broken("it did not accept the connection".into())),
    };
    let (read, mut write) = stream.into_split();
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
    Ok(Some(envelope.body))
}

/// Errors that mean "no agent listens here".
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}
