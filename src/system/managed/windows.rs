//! Windows: the policy values Group Policy writes under `HKLM\Software\Policies\signin-assistant`
//! (64-bit view), read with the registry API.

use std::ptr;

use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS,
};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegEnumValueW, RegOpenKeyExW, RegQueryInfoKeyW, HKEY, HKEY_LOCAL_MACHINE, KEY_READ,
};

use super::{registry_value, AdminPolicy, PolicyReadError, PolicySetting, WINDOWS_POLICY_KEY};

// The portable decoding uses winnt.h's values; make sure they are the ones windows-sys has.
const _: () = {
    use windows_sys::Win32::System::Registry as reg;
    assert!(super::REG_SZ == reg::REG_SZ);
    assert!(super::REG_EXPAND_SZ == reg::REG_EXPAND_SZ);
    assert!(super::REG_BINARY == reg::REG_BINARY);
    assert!(super::REG_DWORD == reg::REG_DWORD);
    assert!(super::REG_MULTI_SZ == reg::REG_MULTI_SZ);
    assert!(super::REG_QWORD == reg::REG_QWORD);
};

/// The key as messages name it.
pub const SOURCE: &str = r"HKLM\Software\Policies\signin-assistant";

/// Every value under the policy key; no key means no policy.
pub fn read() -> Result<AdminPolicy, PolicyReadError> {
    let settings = match open_policy_key()? {
        Some(key) => read_values(&key)?,
        None => Vec::new(),
    };
    Ok(AdminPolicy {
        source: SOURCE.into(),
        settings,
    })
}

fn failed(call: &str, code: u32) -> PolicyReadError {
    PolicyReadError {
        store: SOURCE.into(),
        message: format!("cannot read it: {call} failed (error {code})"),
    }
}

/// The policy key, opened for reading; `None` when Group Policy never wrote it.
fn open_policy_key() -> Result<Option<OpenKey>, PolicyReadError> {
    let subkey: Vec<u16> = WINDOWS_POLICY_KEY.encode_utf16().chain(Some(0)).collect();
    let mut key: HKEY = ptr::null_mut();
    // SAFETY: `subkey` is NUL-terminated; `key` receives an open handle on success.
    let rc = unsafe { RegOpenKeyExW(HKEY_LOCAL_MACHINE, subkey.as_ptr(), 0, KEY_READ, &mut key) };
    match rc {
        ERROR_SUCCESS => Ok(Some(OpenKey(key))),
        ERROR_FILE_NOT_FOUND => Ok(None),
        other => Err(failed("RegOpenKeyExW", other)),
    }
}

/// The longest value name (in UTF-16 units) and value data (in bytes) under `key`.
fn longest_name_and_data(key: &OpenKey) -> Result<(u32, u32), PolicyReadError> {
    let (mut max_name, mut max_data) = (0u32, 0u32);
    // SAFETY: only the two counts are asked for; every other pointer is null.
    let rc = unsafe {
        RegQueryInfoKeyW(
            key.0,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            &mut max_name,
            &mut max_data,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(failed("RegQueryInfoKeyW", rc));
    }
    Ok((max_name, max_data))
}

/// Every value under `key`, decoded.
fn read_values(key: &OpenKey) -> Result<Vec<PolicySetting>, PolicyReadError> {
    let (max_name, max_data) = longest_name_and_data(key)?;
    let mut name = vec![0u16; max_name as usize + 1];
    let mut data = vec![0u8; max_data as usize];
    let mut settings = Vec::new();
    let mut index = 0;
    loop {
        let mut name_len = name.len() as u32;
        let mut data_len = data.len() as u32;
        let mut kind = 0u32;
        // SAFETY: the buffers hold the lengths passed with them.
        let rc = unsafe {
            RegEnumValueW(
                key.0,
                index,
                name.as_mut_ptr(),
                &mut name_len,
                ptr::null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut data_len,
            )
        };
        match rc {
            ERROR_SUCCESS => {}
            ERROR_NO_MORE_ITEMS => return Ok(settings),
            // A value written since RegQueryInfoKeyW: make room and read it again.
            ERROR_MORE_DATA => {
                name.resize(name.len() * 2 + 256, 0);
                data.resize(data.len().max(data_len as usize) * 2 + 256, 0);
                continue;
            }
            other => return Err(failed("RegEnumValueW", other)),
        }
        let value_name = String::from_utf16_lossy(&name[..name_len as usize]);
        settings.push(PolicySetting {
            location: format!(r"{SOURCE}\{value_name}"),
            value: registry_value(kind, &data[..data_len as usize]),
            name: value_name,
        });
        index += 1;
    }
}

/// An open registry key, closed on drop.
struct OpenKey(HKEY);

impl Drop for OpenKey {
    fn drop(&mut self) {
        // SAFETY: opened by RegOpenKeyExW and closed once.
        unsafe { RegCloseKey(self.0) };
    }
}
