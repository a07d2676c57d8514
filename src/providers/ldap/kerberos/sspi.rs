//! The Windows backend: SSPI's Kerberos package (`AcquireCredentialsHandleW`,
//! `InitializeSecurityContextW`, `EncryptMessage`/`DecryptMessage`) with the logon session's
//! ticket. Not written yet: the seam answers that Kerberos is unavailable, so `auth = "kerberos"`
//! says so in plain words on Windows instead of failing obscurely.

use super::{Kerberos, KerberosError};

/// Kerberos through SSPI is not available in this build.
pub fn load() -> Result<&'static dyn Kerberos, KerberosError> {
    Err(KerberosError::Unavailable(
        "the Kerberos bind is not available on Windows yet; set [ldap] auth = \"password\"".into(),
    ))
}
