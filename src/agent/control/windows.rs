//! The control channel over a Windows named pipe.
//!
//! The pipe is `\\.\pipe\signin-assistant-<SID>`, named after the user's security identifier,
//! so each user of a shared computer (terminal server) has their own. Who may talk to the agent:
//! the pipe's security descriptor is `D:P(A;;GA;;;<SID>)` — a protected DACL whose one entry
//! grants this user, so another user (an administrator included, unless they take ownership)
//! cannot open it — and it refuses clients on other computers (`PIPE_REJECT_REMOTE_CLIENTS`).
//! The first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`: when a process got
//! there first, the agent does not serve the pipe beside it.
//!
//! Another user on the same computer (a terminal server) can still create the name first, with
//! a descriptor that lets everybody in. So the command, once connected, asks who serves the
//! pipe (`GetNamedPipeServerProcessId`), opens that process for
//! `PROCESS_QUERY_LIMITED_INFORMATION`, reads its token's user SID, and sends its request only
//! when that is its own SID; anything else, or a process it may not look at, is refused. Named
//! pipes go away with the process that made them: a crashed agent leaves nothing behind.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::ptr;
use std::time::Duration;

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use tokio::sync::mpsc;
use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY, HANDLE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, TokenUser, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY,
    TOKEN_USER,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::{
    exchange, serve_connection, served_by_this_user, Answer, Call, ControlError, Request,
    CONNECT_TIMEOUT,
};

/// The pipe's name for this user, or None when the user's SID cannot be read.
pub fn pipe_name() -> Option<String> {
    own_sid().map(|sid| name_for(&sid))
}

/// This user's SID, or None (said in the log) when it cannot be read.
fn own_sid() -> Option<String> {
    user_sid()
        .inspect_err(|e| tracing::warn!(error = %e, "cannot read this user's security identifier"))
        .ok()
}

fn name_for(sid: &str) -> String {
    format!(r"\\.\pipe\signin-assistant-{sid}")
}

/// The security descriptor, in SDDL, that grants `sid` alone every right on the pipe.
fn descriptor_for(sid: &str) -> String {
    format!("D:P(A;;GA;;;{sid})")
}

/// Creates the pipe (refusing when another process serves it already) and serves it: every
/// request becomes a [`Call`] on `calls`.
pub async fn listen(calls: mpsc::UnboundedSender<Call>) -> io::Result<tokio::task::JoinHandle<()>> {
    let sid = user_sid()?;
    let name = name_for(&sid);
    let security = OwnerOnly::new(&sid)?;
    let first = security.create(&name, true).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("another process serves {name}"),
            )
        } else {
            e
        }
    })?;
    Ok(tokio::spawn(serve(security, name, first, calls)))
}

async fn serve(
    security: OwnerOnly,
    name: String,
    mut server: NamedPipeServer,
    calls: mpsc::UnboundedSender<Call>,
) {
    loop {
        if let Err(e) = server.connect().await {
            tracing::warn!(error = %e, "the control pipe failed; commands work alone now");
            return;
        }
        // The next instance exists before this one is handed over, so a client never finds
        // the name missing while the agent runs.
        let next = match security.create(&name, false) {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the control pipe again; commands work alone now");
                return;
            }
        };
        let connected = std::mem::replace(&mut server, next);
        tokio::spawn(serve_connection(connected, calls.clone()));
    }
}

/// Asks the running agent. `Ok(None)`: no agent serves this user's pipe. A pipe served by a
/// process of another user is refused before anything is sent.
pub async fn ask(request: &Request) -> Result<Option<Answer>, ControlError> {
    let Some(sid) = own_sid() else {
        return Ok(None);
    };
    let name = name_for(&sid);
    let broken = |detail: String| ControlError::Broken {
        place: name.clone(),
        detail,
    };
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let client = loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => break client,
            Err(e) if e.raw_os_error() == Some(ERROR_FILE_NOT_FOUND as i32) => return Ok(None),
            // Every instance is taken for an instant: the agent makes the next one.
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(broken("it did not accept the connection".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(broken(e.to_string())),
        }
    };
    served_by_this_user(&name, &sid, server_user_sid(&client))?;
    exchange(client, request, &name).await.map(Some)
}

/// The user SID of the process that serves the pipe `client` is connected to.
fn server_user_sid(client: &NamedPipeClient) -> io::Result<String> {
    let mut pid = 0u32;
    // SAFETY: the handle is the client's open pipe handle; `pid` is written on success.
    if unsafe { GetNamedPipeServerProcessId(client.as_raw_handle(), &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a plain call; the handle it returns is closed below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return Err(io::Error::last_os_error());
    }
    let sid = process_user_sid(process);
    // SAFETY: opened above, closed once.
    unsafe { CloseHandle(process) };
    sid
}

/// The security descriptor that lets only this user open the pipe; freed on drop.
struct OwnerOnly(PSECURITY_DESCRIPTOR);

// SAFETY: the descriptor is an immutable block of memory owned by this value alone.
unsafe impl Send for OwnerOnly {}

impl OwnerOnly {
    fn new(sid: &str) -> io::Result<OwnerOnly> {
        let sddl = wide(&descriptor_for(sid));
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; on success `descriptor` receives a LocalAlloc'd
        // block that `Drop` frees.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnerOnly(descriptor))
    }

    /// One instance of the pipe under this descriptor, closed to other computers.
    fn create(&self, name: &str, first: bool) -> io::Result<NamedPipeServer> {
        let mut attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        };
        // SAFETY: `attributes` is a complete SECURITY_ATTRIBUTES whose descriptor lives as long
        // as `self`; CreateNamedPipeW copies what it needs.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(
                    name,
                    &mut attributes as *mut SECURITY_ATTRIBUTES as *mut c_void,
                )
        }
    }
}

impl Drop for OwnerOnly {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(self.0) };
    }
}

/// This process's user as an SID string, e.g. `S-1-5-21-…-1001`.
fn user_sid() -> io::Result<String> {
    // SAFETY: the pseudo-handle of this process needs no closing.
    process_user_sid(unsafe { GetCurrentProcess() })
}

/// The user of `process` (opened with at least PROCESS_QUERY_LIMITED_INFORMATION) as an SID
/// string.
fn process_user_sid(process: HANDLE) -> io::Result<String> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: `process` is a valid process handle; `token` receives a handle closed below.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let sid = token_user_sid(token);
    // SAFETY: opened above, closed once.
    unsafe { CloseHandle(token) };
    sid
}

fn token_user_sid(token: HANDLE) -> io::Result<String> {
    let mut size = 0u32;
    // SAFETY: a size query: no buffer; fails with ERROR_INSUFFICIENT_BUFFER and sets `size`.
    unsafe { GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut size) };
    if size == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 words: aligned for TOKEN_USER, which starts with a pointer.
    let mut buffer = vec![0u64; (size as usize).div_ceil(8)];
    // SAFETY: `buffer` holds at least `size` bytes and outlives the call.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size,
            &mut size,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation filled `buffer` with a TOKEN_USER whose SID points inside it.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is valid while `buffer` lives; `text` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is NUL-terminated UTF-16 from the call above, freed once after reading.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        sid
    };
    Ok(sid)
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// Run on Windows (CI: under Wine).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipe_is_named_after_the_users_sid_and_granted_to_it_alone() {
        let sid = user_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        assert_eq!(
            pipe_name().unwrap(),
            format!(r"\\.\pipe\signin-assistant-{sid}")
        );
        assert_eq!(descriptor_for(&sid), format!("D:P(A;;GA;;;{sid})"));
        OwnerOnly::new(&sid).unwrap();
    }

    #[tokio::test]
    async fn the_command_reads_the_user_of_the_process_serving_the_pipe() {
        let sid = user_sid().unwrap();
        let name = format!(r"\\.\pipe\signin-assistant-test-{}", std::process::id());
        let server = OwnerOnly::new(&sid).unwrap().create(&name, true).unwrap();
        let client = ClientOptions::new().open(&name).unwrap();
        server.connect().await.unwrap();
        assert_eq!(server_user_sid(&client).unwrap(), sid);
        assert!(served_by_this_user(&name, &sid, server_user_sid(&client)).is_ok());
    }
}
