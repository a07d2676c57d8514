//! Windows: a value named `signin-assistant` under `HKCU\Software\Microsoft\Windows\
//! CurrentVersion\Run`, whose data is the command line Explorer runs at login. The same value
//! under HKLM (installed for all users) is reported. Task Manager's Startup tab switches a
//! value off without removing it (`…\Explorer\StartupApproved\Run`, first byte odd): that is
//! read as off, and `enable` clears it.

use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW, HKEY, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE,
    REG_SZ, RRF_RT_REG_BINARY, RRF_RT_REG_SZ,
};

use super::{AutostartError, AutostartStatus, ENTRY_NAME};

const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
const APPROVED_KEY: &str =
    r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run";
const TEST_ROOT: &str = r"Software\signin-assistant-tests";

/// Which keys hold the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    run_key: String,
    approved_key: String,
    /// Whether HKLM's Run key is looked at (not for test keys).
    admin: bool,
}

impl Places {
    pub fn from_env() -> Result<Places, AutostartError> {
        Ok(Places {
            run_key: RUN_KEY.into(),
            approved_key: APPROVED_KEY.into(),
            admin: true,
        })
    }

    pub fn under(root: &Path) -> Places {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "default".into());
        Places {
            run_key: format!(r"{TEST_ROOT}\{name}\Run"),
            approved_key: format!(r"{TEST_ROOT}\{name}\StartupApproved"),
            admin: false,
        }
    }
}

pub fn status(places: &Places) -> Result<AutostartStatus, AutostartError> {
    let user = get_string(HKEY_CURRENT_USER, &places.run_key)?;
    let admin = if places.admin {
        get_string(HKEY_LOCAL_MACHINE, RUN_KEY)?
    } else {
        None
    };
    let switched_off = approved_off(&places.approved_key)?;
    let deciding = user.as_deref().or(admin.as_deref());
    let enabled = deciding.is_some() && !switched_off;
    Ok(AutostartStatus {
        enabled,
        user_entry: user
            .as_ref()
            .map(|_| format!(r"HKEY_CURRENT_USER\{}\{ENTRY_NAME}", places.run_key)),
        admin_entry: admin
            .as_ref()
            .map(|_| format!(r"HKEY_LOCAL_MACHINE\{RUN_KEY}\{ENTRY_NAME}")),
        program: deciding.filter(|_| enabled).map(command_program),
    })
}

pub fn enable(places: &Places, program: &Path) -> Result<(), AutostartError> {
    let value = super::run_value(program)?;
    let data = wide(&value);
    let key = wide(&places.run_key);
    let name = wide(ENTRY_NAME);
    // SAFETY: every pointer is to a NUL-terminated UTF-16 buffer that outlives the call, and
    // the size is that of `data` in bytes, terminator included.
    let code = unsafe {
        RegSetKeyValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            REG_SZ,
            data.as_ptr().cast(),
            (data.len() * 2) as u32,
        )
    };
    check(code, "write", &places.run_key)?;
    // Task Manager's "Disabled" would keep it off.
    delete(&places.approved_key)
}

pub fn disable(places: &Places) -> Result<(), AutostartError> {
    delete(&places.run_key)?;
    if places.admin && get_string(HKEY_LOCAL_MACHINE, RUN_KEY)?.is_some() {
        return Err(AutostartError::NeedsAdministrator(format!(
            r"your administrator set signin-assistant up to start at login for all users (HKEY_LOCAL_MACHINE\{RUN_KEY}); turn it off for you in Task Manager, Startup apps"
        )));
    }
    Ok(())
}

/// A REG_SZ value of ours under `key`, or None when there is none.
fn get_string(root: HKEY, key: &str) -> Result<Option<String>, AutostartError> {
    let Some(bytes) = get(root, key, RRF_RT_REG_SZ)? else {
        return Ok(None);
    };
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Ok(Some(String::from_utf16_lossy(&units)))
}

/// Whether Task Manager switched our HKCU value off (StartupApproved, first byte odd).
fn approved_off(key: &str) -> Result<bool, AutostartError> {
    Ok(get(HKEY_CURRENT_USER, key, RRF_RT_REG_BINARY)?
        .and_then(|bytes| bytes.first().copied())
        .is_some_and(|first| first & 1 == 1))
}

/// The raw data of our value under `key`, of the type `flags` allows.
fn get(root: HKEY, key: &str, flags: u32) -> Result<Option<Vec<u8>>, AutostartError> {
    let key_w = wide(key);
    let name = wide(ENTRY_NAME);
    let mut size: u32 = 0;
    // SAFETY: a size query: no buffer, `size` receives the length in bytes.
    let code = unsafe {
        RegGetValueW(
            root,
            key_w.as_ptr(),
            name.as_ptr(),
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut size,
        )
    };
    if code == ERROR_FILE_NOT_FOUND {
        return Ok(None);
    }
    check(code, "read", key)?;
    let mut buffer = vec![0u8; size as usize + 2];
    let mut size = buffer.len() as u32;
    // SAFETY: `buffer` holds `size` bytes and outlives the call.
    let code = unsafe {
        RegGetValueW(
            root,
            key_w.as_ptr(),
            name.as_ptr(),
            flags,
            std::ptr::null_mut(),
            buffer.as_mut_ptr().cast(),
            &mut size,
        )
    };
    if code == ERROR_FILE_NOT_FOUND {
        return Ok(None);
    }
    check(code, "read", key)?;
    buffer.truncate(size as usize);
    Ok(Some(buffer))
}

/// Removes our value under `key` in HKCU; a missing one is fine.
fn delete(key: &str) -> Result<(), AutostartError> {
    let key_w = wide(key);
    let name = wide(ENTRY_NAME);
    // SAFETY: NUL-terminated UTF-16 buffers that outlive the call.
    let code = unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, key_w.as_ptr(), name.as_ptr()) };
    if code == ERROR_FILE_NOT_FOUND {
        return Ok(());
    }
    check(code, "remove a value from", key)
}

fn check(code: u32, action: &'static str, key: &str) -> Result<(), AutostartError> {
    if code == ERROR_SUCCESS {
        return Ok(());
    }
    Err(AutostartError::Io {
        action,
        place: format!(r"the registry key HKEY_CURRENT_USER\{key}"),
        detail: std::io::Error::from_raw_os_error(code as i32).to_string(),
    })
}

/// The program of a Run command line: the quoted first part, or up to the first space.
fn command_program(command: &str) -> PathBuf {
    let command = command.trim();
    let program = match command.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or_default(),
        None => command.split(' ').next().unwrap_or_default(),
    };
    PathBuf::from(program)
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}
