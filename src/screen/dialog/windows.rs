//! Windows: the system credential dialog (`CredUIPromptForWindowsCredentialsW`), the one
//! Windows users know from Outlook and network shares, pre-filled with the account.
//!
//! The password comes back in a Win32 buffer that is unpacked into a [`Secret`] and wiped.
//! Unverified on this project's Linux CI: written against the windows-sys documentation.

use std::ffi::c_void;
use std::ptr;

use windows_sys::Win32::Foundation::{ERROR_CANCELLED, ERROR_SUCCESS};
use windows_sys::Win32::Security::Credentials::{
    CredPackAuthenticationBufferW, CredUIPromptForWindowsCredentialsW,
    CredUnPackAuthenticationBufferW, CREDUIWIN_GENERIC, CREDUI_INFOW,
    CRED_PACK_GENERIC_CREDENTIALS,
};
use windows_sys::Win32::System::Com::CoTaskMemFree;
use zeroize::Zeroizing;

use super::{PromptError, Request};
use crate::system::credentials::Secret;

/// Longest user name / password the unpacking accepts (CREDUI_MAX_PASSWORD_LENGTH is 256).
const MAX_CHARS: u32 = 513;

/// Shows the dialog: `Ok(None)` when the person cancels. The dialog is modal, so it runs on a
/// blocking thread.
pub async fn ask(request: &Request) -> Result<Option<Secret>, PromptError> {
    let request = request.clone();
    tokio::task::spawn_blocking(move || prompt(&request))
        .await
        .map_err(|e| PromptError::Failed(format!("the credential dialog stopped: {e}")))?
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

fn prompt(request: &Request) -> Result<Option<Secret>, PromptError> {
    let caption = wide(&request.title);
    let message = wide(&request.description);
    let info = CREDUI_INFOW {
        cbSize: std::mem::size_of::<CREDUI_INFOW>() as u32,
        hwndParent: ptr::null_mut(),
        pszMessageText: message.as_ptr(),
        pszCaptionText: caption.as_ptr(),
        hbmBanner: ptr::null_mut(),
    };
    let packed = pack_user(&request.account);
    let mut package = 0u32;
    let mut out: *mut c_void = ptr::null_mut();
    let mut out_len = 0u32;
    let mut save = 0;
    // SAFETY: every pointer refers to a live local; `out` is freed below.
    let rc = unsafe {
        CredUIPromptForWindowsCredentialsW(
            &info,
            0,
            &mut package,
            packed.as_ptr().cast(),
            packed.len() as u32,
            &mut out,
            &mut out_len,
            &mut save,
            CREDUIWIN_GENERIC,
        )
    };
    match rc {
        ERROR_SUCCESS => {}
        ERROR_CANCELLED => return Ok(None),
        other => {
            return Err(PromptError::Failed(format!(
                "the credential dialog failed (error {other})"
            )))
        }
    }
    let result = unpack_password(out, out_len);
    // SAFETY: `out` was allocated by CredUI with CoTaskMemAlloc and holds `out_len` bytes.
    unsafe {
        ptr::write_bytes(out.cast::<u8>(), 0, out_len as usize);
        CoTaskMemFree(out);
    }
    result.map(Some)
}

/// A generic-credentials buffer holding only the user name, to pre-fill the dialog.
fn pack_user(account: &str) -> Vec<u8> {
    let user = wide(account);
    let empty = wide("");
    let mut size = 0u32;
    // SAFETY: a null buffer asks for the size only.
    unsafe {
        CredPackAuthenticationBufferW(
            CRED_PACK_GENERIC_CREDENTIALS,
            user.as_ptr(),
            empty.as_ptr(),
            ptr::null_mut(),
            &mut size,
        );
    }
    let mut buffer = vec![0u8; size as usize];
    // SAFETY: `buffer` holds `size` bytes.
    let ok = unsafe {
        CredPackAuthenticationBufferW(
            CRED_PACK_GENERIC_CREDENTIALS,
            user.as_ptr(),
            empty.as_ptr(),
            buffer.as_mut_ptr(),
            &mut size,
        )
    };
    if ok == 0 {
        Vec::new()
    } else {
        buffer
    }
}

fn unpack_password(buffer: *const c_void, len: u32) -> Result<Secret, PromptError> {
    let mut user = vec![0u16; MAX_CHARS as usize];
    let mut domain = vec![0u16; MAX_CHARS as usize];
    let mut password = Zeroizing::new(vec![0u16; MAX_CHARS as usize]);
    let (mut user_len, mut domain_len, mut password_len) = (MAX_CHARS, MAX_CHARS, MAX_CHARS);
    // SAFETY: each output buffer holds the number of characters passed with it.
    let ok = unsafe {
        CredUnPackAuthenticationBufferW(
            0,
            buffer,
            len,
            user.as_mut_ptr(),
            &mut user_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            password.as_mut_ptr(),
            &mut password_len,
        )
    };
    if ok == 0 {
        return Err(PromptError::Failed(
            "the credential dialog's answer could not be read".into(),
        ));
    }
    // The length includes the terminating NUL.
    let chars = &password[..password_len.saturating_sub(1) as usize];
    String::from_utf16(chars)
        .map(Secret::new)
        .map_err(|_| PromptError::Failed("the password is not valid text".into()))
}
