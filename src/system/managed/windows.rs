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
    let failed = |call: &str, code: u32| PolicyReadError {
        store: SOURCE.into(),
        message: format!("cannot read it: {call} failed (error {code})"),
    };
    let subkey: Vec<u16> = WINDOWS_POLICY_KEY.encode_utf16().chain(Some(0)).collect();
    let mut key: HKEY = ptr::null_mut();
    // SAFETY: `subkey` is NUL-terminated; `key` receives an open handle on success.
    let rc = unsafe { RegOpenKeyExW(HKEY_LOCAL_MACHINE, subkey.as_ptr(), 0, KEY_READ, &mut key) };
    if rc == ERROR_FILE_NOT_FOUND {
        return Ok(AdminPolicy {
            source: SOURCE.into(),
            settings: Vec::new(),
        });
    }
    if rc != ERROR_SUCCESS {
        return Err(failed("RegOpenKeyExW", rc));
    }
    let key = OpenKey(key);
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
            ERROR_NO_MORE_ITEMS => break,
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
    Ok(AdminPolicy {
        source: SOURCE.into(),
        settings,
    })
}

/// An open registry key, closed on drop.
struct OpenKey(HKEY);

impl Drop for OpenKey {
    fn drop(&mut self) {
        // SAFETY: opened by RegOpenKeyExW and closed once.
        unsafe { RegCloseKey(self.0) };
    }
}
