//! Windows: the per-user Run key, `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, whose
//! values Explorer starts at login; ours is named `signin-assistant` and holds
//! [`login_command`](super::login_command).

use std::ptr;

use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW, HKEY_CURRENT_USER, REG_SZ, RRF_RT_REG_SZ,
};

use super::AutostartError;

/// The key under HKEY_CURRENT_USER.
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
/// The name of our value in it.
pub const VALUE_NAME: &str = "signin-assistant";

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

fn failed(call: &str, code: u32) -> AutostartError {
    AutostartError::Failed(format!("{call} on HKCU\\{RUN_KEY} failed (error {code})"))
}

/// Starts `command` at login (replacing what was there).
pub fn enable(command: &str) -> Result<(), AutostartError> {
    enable_as(VALUE_NAME, command)
}

/// Stops starting the agent at login; nothing to remove is fine.
pub fn disable() -> Result<(), AutostartError> {
    disable_as(VALUE_NAME)
}

/// The command started at login, if any.
pub fn command() -> Result<Option<String>, AutostartError> {
    command_of(VALUE_NAME)
}

fn enable_as(name: &str, command: &str) -> Result<(), AutostartError> {
    let (key, name, data) = (wide(RUN_KEY), wide(name), wide(command));
    // SAFETY: NUL-terminated strings; the data length includes the NUL, in bytes.
    let rc = unsafe {
        RegSetKeyValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            REG_SZ,
            data.as_ptr().cast(),
            (data.len() * 2) as u32,
        )
    };
    if rc == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(failed("RegSetKeyValueW", rc))
    }
}

fn disable_as(name: &str) -> Result<(), AutostartError> {
    let (key, name) = (wide(RUN_KEY), wide(name));
    // SAFETY: NUL-terminated strings.
    match unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, key.as_ptr(), name.as_ptr()) } {
        ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
        rc => Err(failed("RegDeleteKeyValueW", rc)),
    }
}

fn command_of(name: &str) -> Result<Option<String>, AutostartError> {
    let (key, name) = (wide(RUN_KEY), wide(name));
    let mut buffer = vec![0u16; 1024];
    loop {
        let mut bytes = (buffer.len() * 2) as u32;
        // SAFETY: `buffer` holds `bytes` bytes; RegGetValueW NUL-terminates REG_SZ data.
        let rc = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                name.as_ptr(),
                RRF_RT_REG_SZ,
                ptr::null_mut(),
                buffer.as_mut_ptr().cast(),
                &mut bytes,
            )
        };
        match rc {
            ERROR_SUCCESS => {
                let units = &buffer[..(bytes as usize / 2)];
                let text = units.strip_suffix(&[0]).unwrap_or(units);
                return Ok(Some(String::from_utf16_lossy(text)));
            }
            ERROR_FILE_NOT_FOUND => return Ok(None),
            windows_sys::Win32::Foundation::ERROR_MORE_DATA => {
                buffer.resize(bytes as usize / 2 + 1, 0)
            }
            rc => return Err(failed("RegGetValueW", rc)),
        }
    }
}

/// Run on Windows (CI: under Wine) against the real registry, with a value name of its own.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_key_value_is_written_read_and_removed() {
        let name = format!("signin-assistant-test-{}", std::process::id());
        let command = super::super::login_command(std::path::Path::new(
            r"C:\Program Files\signin-assistant\signin-assistant.exe",
        ));
        assert_eq!(command_of(&name).unwrap(), None);
        enable_as(&name, &command).unwrap();
        assert_eq!(
            command_of(&name).unwrap().as_deref(),
            Some(command.as_str())
        );
        disable_as(&name).unwrap();
        assert_eq!(command_of(&name).unwrap(), None);
        disable_as(&name).unwrap();
    }
}
