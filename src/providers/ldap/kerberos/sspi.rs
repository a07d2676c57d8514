//! The Windows backend: SSPI's Kerberos package with the logon session's tickets
//! (`AcquireCredentialsHandleW`, `InitializeSecurityContextW`, and `EncryptMessage` /
//! `DecryptMessage` for the SASL security layer, as the documentation of SASL with SSPI
//! describes: a wrap token is the security trailer, the data and the padding, in that order).
//!
//! Written against Microsoft's documentation and compiled for Windows here, not yet run against a
//! domain controller. Windows keeps one identity per logon session: the ticket is that session's
//! whatever principal is asked for, and Windows renews it itself.

use std::ptr;

use windows_sys::core::HRESULT;
use windows_sys::Win32::Foundation::{
    SEC_E_CONTEXT_EXPIRED, SEC_E_NO_CREDENTIALS, SEC_E_OK, SEC_E_TARGET_UNKNOWN,
    SEC_I_CONTINUE_NEEDED,
};
use windows_sys::Win32::Security::Authentication::Identity::{
    AcquireCredentialsHandleW, DecryptMessage, DeleteSecurityContext, EncryptMessage,
    FreeContextBuffer, FreeCredentialsHandle, InitializeSecurityContextW, QueryContextAttributesW,
    QueryCredentialsAttributesW, SecBuffer, SecBufferDesc, SecPkgContext_Sizes,
    SecPkgCredentials_NamesW, ISC_REQ_ALLOCATE_MEMORY, ISC_REQ_CONFIDENTIALITY, ISC_REQ_INTEGRITY,
    ISC_REQ_MUTUAL_AUTH, ISC_REQ_REPLAY_DETECT, ISC_REQ_SEQUENCE_DETECT, ISC_RET_MUTUAL_AUTH,
    SECBUFFER_CHANNEL_BINDINGS, SECBUFFER_DATA, SECBUFFER_PADDING, SECBUFFER_STREAM,
    SECBUFFER_TOKEN, SECBUFFER_VERSION, SECPKG_ATTR_SIZES, SECPKG_CRED_ATTR_NAMES,
    SECPKG_CRED_OUTBOUND, SECQOP_WRAP_NO_ENCRYPT, SECURITY_NATIVE_DREP,
};
use windows_sys::Win32::Security::Credentials::SecHandle;

use super::{Context, Kerberos, KerberosError, Protection, Request, Step, Ticket};

/// The Kerberos package of the logon session.
struct Sspi;

static SSPI: Sspi = Sspi;

/// SSPI is part of Windows: always there.
pub fn load() -> Result<&'static dyn Kerberos, KerberosError> {
    Ok(&SSPI)
}

/// `text` as a NUL-terminated UTF-16 string.
fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// What a failed SSPI call means.
fn error(status: HRESULT, service: Option<&str>) -> KerberosError {
    match status {
        SEC_E_NO_CREDENTIALS => KerberosError::NoTicket(None),
        SEC_E_CONTEXT_EXPIRED => KerberosError::Expired(None),
        SEC_E_TARGET_UNKNOWN if service.is_some() => {
            KerberosError::UnknownService(service.unwrap_or_default().to_string())
        }
        _ => KerberosError::Failed(format!("Windows security error 0x{:08x}", status as u32)),
    }
}

/// Outbound credentials of the logon session, freed when dropped.
struct Credentials {
    handle: SecHandle,
    /// When they end (FILETIME ticks, as SSPI reports them).
    expiry: i64,
}

impl Credentials {
    fn acquire() -> Result<Credentials, KerberosError> {
        let package = wide("Kerberos");
        let mut handle = SecHandle {
            dwLower: 0,
            dwUpper: 0,
        };
        let mut expiry = 0i64;
        // SAFETY: a NUL-terminated package name, no principal or auth data (the logon
        // session's), valid out-pointers; the handle is freed by Drop.
        let status = unsafe {
            AcquireCredentialsHandleW(
                ptr::null(),
                package.as_ptr(),
                SECPKG_CRED_OUTBOUND,
                ptr::null(),
                ptr::null(),
                None,
                ptr::null(),
                &mut handle,
                &mut expiry,
            )
        };
        if status != SEC_E_OK {
            return Err(error(status, None));
        }
        Ok(Credentials { handle, expiry })
    }

    /// The logon session's name.
    fn name(&self) -> Result<String, KerberosError> {
        let mut names = SecPkgCredentials_NamesW {
            sUserName: ptr::null_mut(),
        };
        // SAFETY: a live credential handle and a buffer of the attribute's type.
        let status = unsafe {
            QueryCredentialsAttributesW(
                &self.handle,
                SECPKG_CRED_ATTR_NAMES,
                (&mut names as *mut SecPkgCredentials_NamesW).cast(),
            )
        };
        if status != SEC_E_OK || names.sUserName.is_null() {
            return Err(error(status, None));
        }
        // SAFETY: SSPI returned a NUL-terminated UTF-16 string, freed right after reading.
        let name = unsafe {
            let len = (0..).take_while(|&i| *names.sUserName.add(i) != 0).count();
            let name = String::from_utf16_lossy(std::slice::from_raw_parts(names.sUserName, len));
            FreeContextBuffer(names.sUserName.cast());
            name
        };
        Ok(name)
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        // SAFETY: a handle AcquireCredentialsHandleW returned, freed once.
        unsafe { FreeCredentialsHandle(&self.handle) };
    }
}

/// Seconds from now until `expiry` (FILETIME ticks), 0 when past.
fn seconds_left(expiry: i64) -> u32 {
    const UNIX_EPOCH_AS_FILETIME_SECS: i64 = 11_644_473_600;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let end = expiry / 10_000_000 - UNIX_EPOCH_AS_FILETIME_SECS;
    u32::try_from((end - now).max(0)).unwrap_or(u32::MAX)
}

impl Kerberos for Sspi {
    fn ticket(&self, _principal: Option<&str>) -> Result<Ticket, KerberosError> {
        let credentials = Credentials::acquire()?;
        let principal = credentials.name()?;
        match seconds_left(credentials.expiry) {
            0 => Err(KerberosError::Expired(Some(principal))),
            lifetime_secs => Ok(Ticket {
                principal,
                lifetime_secs,
            }),
        }
    }

    fn context(&'static self, request: &Request<'_>) -> Result<Box<dyn Context>, KerberosError> {
        let mut flags = ISC_REQ_MUTUAL_AUTH
            | ISC_REQ_SEQUENCE_DETECT
            | ISC_REQ_REPLAY_DETECT
            | ISC_REQ_ALLOCATE_MEMORY;
        if request.protection == Protection::Seal {
            flags |= ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY;
        }
        // SSPI names the service `ldap/host`; the realm is the logon session's.
        let spn = request.service.split('@').next().unwrap_or_default();
        Ok(Box::new(SspiContext {
            credentials: Credentials::acquire()?,
            context: None,
            target: wide(spn),
            flags,
            bindings: request.channel_binding.as_deref().map(channel_bindings),
            sizes: None,
            service: request.service.to_string(),
        }))
    }
}

/// A SEC_CHANNEL_BINDINGS structure with only the application data (`tls-server-end-point:`
/// and the hash), which follows the 32-byte header.
fn channel_bindings(application_data: &[u8]) -> Vec<u8> {
    let header = [0u32, 0, 0, 0, 0, 0, application_data.len() as u32, 32];
    let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
    out.extend_from_slice(application_data);
    out
}

/// A security context with one server.
struct SspiContext {
    credentials: Credentials,
    context: Option<SecHandle>,
    target: Vec<u16>,
    flags: u32,
    bindings: Option<Vec<u8>>,
    sizes: Option<SecPkgContext_Sizes>,
    service: String,
}

fn buffer(kind: u32, bytes: &mut [u8]) -> SecBuffer {
    SecBuffer {
        cbBuffer: bytes.len() as u32,
        BufferType: kind,
        pvBuffer: bytes.as_mut_ptr().cast(),
    }
}

fn describe(buffers: &mut [SecBuffer]) -> SecBufferDesc {
    SecBufferDesc {
        ulVersion: SECBUFFER_VERSION,
        cBuffers: buffers.len() as u32,
        pBuffers: buffers.as_mut_ptr(),
    }
}

impl SspiContext {
    fn sizes(&mut self) -> Result<SecPkgContext_Sizes, KerberosError> {
        if let Some(sizes) = self.sizes {
            return Ok(sizes);
        }
        let context = self.established()?;
        let mut sizes = SecPkgContext_Sizes::default();
        // SAFETY: an established context and a buffer of the attribute's type.
        let status = unsafe {
            QueryContextAttributesW(
                &context,
                SECPKG_ATTR_SIZES,
                (&mut sizes as *mut SecPkgContext_Sizes).cast(),
            )
        };
        if status != SEC_E_OK {
            return Err(error(status, None));
        }
        self.sizes = Some(sizes);
        Ok(sizes)
    }

    fn established(&self) -> Result<SecHandle, KerberosError> {
        self.context
            .ok_or_else(|| KerberosError::Failed("the security context is not established".into()))
    }
}

impl Context for SspiContext {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step, KerberosError> {
        let mut token_in = input.map(<[u8]>::to_vec).unwrap_or_default();
        let mut bindings = self.bindings.clone().unwrap_or_default();
        let mut inputs = Vec::new();
        if input.is_some() {
            inputs.push(buffer(SECBUFFER_TOKEN, &mut token_in));
        }
        if !bindings.is_empty() {
            inputs.push(buffer(SECBUFFER_CHANNEL_BINDINGS, &mut bindings));
        }
        let input_desc = describe(&mut inputs);
        let mut outputs = [buffer(SECBUFFER_TOKEN, &mut [])];
        let mut output_desc = describe(&mut outputs);
        let mut next = self.context.unwrap_or(SecHandle {
            dwLower: 0,
            dwUpper: 0,
        });
        let (mut granted, mut expiry) = (0u32, 0i64);
        // SAFETY: live credentials; the current context when there is one; inputs that outlive
        // the call; an output buffer SSPI allocates (freed below).
        let status = unsafe {
            InitializeSecurityContextW(
                &self.credentials.handle,
                self.context.as_ref().map_or(ptr::null(), |c| c as *const _),
                self.target.as_ptr(),
                self.flags,
                0,
                SECURITY_NATIVE_DREP,
                if inputs.is_empty() {
                    ptr::null()
                } else {
                    &input_desc
                },
                0,
                &mut next,
                &mut output_desc,
                &mut granted,
                &mut expiry,
            )
        };
        let token = take(&outputs[0]);
        if status != SEC_E_OK && status != SEC_I_CONTINUE_NEEDED {
            return Err(error(status, Some(&self.service)));
        }
        self.context = Some(next);
        if status == SEC_E_OK && granted & ISC_RET_MUTUAL_AUTH == 0 {
            return Err(KerberosError::Failed(
                "the directory server did not prove its identity (no mutual authentication)".into(),
            ));
        }
        Ok(Step {
            token,
            done: status == SEC_E_OK,
        })
    }

    fn wrap(&mut self, data: &[u8], seal: bool) -> Result<Vec<u8>, KerberosError> {
        let sizes = self.sizes()?;
        let context = self.established()?;
        let mut trailer = vec![0u8; sizes.cbSecurityTrailer as usize];
        let mut body = data.to_vec();
        let mut padding = vec![0u8; sizes.cbBlockSize as usize];
        let mut buffers = [
            buffer(SECBUFFER_TOKEN, &mut trailer),
            buffer(SECBUFFER_DATA, &mut body),
            buffer(SECBUFFER_PADDING, &mut padding),
        ];
        let desc = describe(&mut buffers);
        let qop = if seal { 0 } else { SECQOP_WRAP_NO_ENCRYPT };
        // SAFETY: an established context; buffers that outlive the call, which SSPI fills in
        // place and shortens through cbBuffer.
        let status = unsafe { EncryptMessage(&context, qop, &desc, 0) };
        if status != SEC_E_OK {
            return Err(error(status, None));
        }
        let used = |b: &SecBuffer| b.cbBuffer as usize;
        Ok([
            &trailer[..used(&buffers[0])],
            &body[..used(&buffers[1])],
            &padding[..used(&buffers[2])],
        ]
        .concat())
    }

    fn unwrap(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), KerberosError> {
        let context = self.established()?;
        let mut stream = token.to_vec();
        let mut buffers = [
            buffer(SECBUFFER_STREAM, &mut stream),
            buffer(SECBUFFER_DATA, &mut []),
        ];
        let desc = describe(&mut buffers);
        let mut qop = 0u32;
        // SAFETY: an established context; the stream buffer outlives the call; SSPI points the
        // data buffer into it.
        let status = unsafe { DecryptMessage(&context, &desc, 0, &mut qop) };
        if status != SEC_E_OK {
            return Err(error(status, None));
        }
        let data = &buffers[1];
        let bytes = if data.pvBuffer.is_null() {
            Vec::new()
        } else {
            // SAFETY: SSPI points the data buffer at cbBuffer bytes inside `stream`.
            unsafe {
                std::slice::from_raw_parts(data.pvBuffer.cast::<u8>(), data.cbBuffer as usize)
            }
            .to_vec()
        };
        Ok((bytes, qop != SECQOP_WRAP_NO_ENCRYPT))
    }
}

/// Copies a buffer SSPI allocated and frees it.
fn take(buffer: &SecBuffer) -> Vec<u8> {
    if buffer.pvBuffer.is_null() {
        return Vec::new();
    }
    // SAFETY: SSPI allocated cbBuffer bytes at pvBuffer (ISC_REQ_ALLOCATE_MEMORY), freed once.
    unsafe {
        let bytes =
            std::slice::from_raw_parts(buffer.pvBuffer.cast::<u8>(), buffer.cbBuffer as usize)
                .to_vec();
        FreeContextBuffer(buffer.pvBuffer);
        bytes
    }
}

impl Drop for SspiContext {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            // SAFETY: a context InitializeSecurityContextW created, deleted once.
            unsafe { DeleteSecurityContext(&context) };
        }
    }
}
