//! The control channel over a Unix domain socket.
//!
//! Who may talk to the agent: the directory is created 0700 (or made so) and must belong to
//! this user, the socket is 0600, and every connection's peer must be this user (checked with
//! `SO_PEERCRED`). The command checks the agent the same way: a socket served by another user's
//! process is not asked. A socket left behind by an agent that was killed is noticed (nobody
//! answers on it) and replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::system::hardening;

use super::{
    exchange, serve_connection, served_by_this_user, Answer, Call, ControlError, Request,
    CONNECT_TIMEOUT,
};

/// The control socket's path: `$XDG_RUNTIME_DIR/signin-assistant/control.sock`, else
/// `control.sock` in the state directory.
pub fn socket_path() -> Option<PathBuf> {
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("signin-assistant"));
    runtime_dir
        .or_else(crate::system::paths::state_dir)
        .map(|dir| dir.join("control.sock"))
}

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
    hardening::create_private_dir(dir)?;
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
        tokio::spawn(serve_connection(stream, calls.clone()));
    }
}

/// Asks the running agent. `Ok(None)`: no agent listens (none runs, or it left a dead socket).
pub async fn ask(request: &Request) -> Result<Option<Answer>, ControlError> {
    let Some(path) = socket_path() else {
        return Ok(None);
    };
    let place = path.display().to_string();
    let broken = |detail: String| ControlError::Broken {
        place: place.clone(),
        detail,
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&path)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) if is_absent(&e) => return Ok(None),
        Ok(Err(e)) => return Err(broken(e.to_string())),
        Err(_) => return Err(broken("it did not accept the connection".into())),
    };
    let server = stream.peer_cred().map(|peer| peer.uid());
    served_by_this_user(&place, &current_uid(), server)?;
    exchange(stream, request, &place).await.map(Some)
}

/// Errors that mean "no agent listens here".
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}
