//! The GSSAPI backend (RFC 2743, C bindings RFC 2744): the system's GSSAPI library opened at run
//! time with `dlopen`, its dozen calls declared here by hand. MIT Kerberos's libgssapi_krb5.so.2
//! is on every Linux machine that uses sssd or Kerberos at all (Debian: libgssapi-krb5-2);
//! Heimdal's libgssapi.so.3 is tried next; macOS has the same C API in GSS.framework (whose
//! structures are packed to 2 bytes, hence the `cfg_attr`s). Nothing is linked at build time, so
//! no headers, no clang, and a machine without the library only loses the Kerberos bind.
//!
//! Every call goes through [`Api`]; every handle it returns is released by the owner's `Drop`.

use std::ffi::{c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use super::{Context, Kerberos, KerberosError, Protection, Request, Step, Ticket};

type Name = *mut c_void;
type Cred = *mut c_void;
type Ctx = *mut c_void;

/// `gss_buffer_desc`.
#[repr(C)]
#[cfg_attr(target_os = "macos", repr(packed(2)))]
#[derive(Clone, Copy)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

impl Buffer {
    const EMPTY: Buffer = Buffer {
        length: 0,
        value: ptr::null_mut(),
    };

    /// A buffer over `bytes`, for inputs (the library does not write through them).
    fn of(bytes: &[u8]) -> Buffer {
        Buffer {
            length: bytes.len(),
            value: bytes.as_ptr().cast_mut().cast(),
        }
    }
}

/// `gss_OID_desc`.
#[repr(C)]
#[cfg_attr(target_os = "macos", repr(packed(2)))]
struct Oid {
    length: u32,
    elements: *const c_void,
}

// SAFETY: the OIDs below point at static bytes that are never written.
unsafe impl Sync for Oid {}

impl Oid {
    const fn of(der: &'static [u8]) -> Oid {
        Oid {
            length: der.len() as u32,
            elements: der.as_ptr().cast(),
        }
    }
}

/// `gss_OID_set_desc`.
#[repr(C)]
#[cfg_attr(target_os = "macos", repr(packed(2)))]
struct OidSet {
    count: usize,
    elements: *const Oid,
}

/// `gss_channel_bindings_struct`.
#[repr(C)]
#[cfg_attr(target_os = "macos", repr(packed(2)))]
struct ChannelBindings {
    initiator_addrtype: u32,
    initiator_address: Buffer,
    acceptor_addrtype: u32,
    acceptor_address: Buffer,
    application_data: Buffer,
}

/// The Kerberos 5 mechanism, 1.2.840.113554.1.2.2.
static KRB5_MECH: Oid = Oid::of(b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02");
/// GSS_KRB5_NT_PRINCIPAL_NAME, 1.2.840.113554.1.2.2.1: `name/instance@REALM`, taken as written.
static KRB5_PRINCIPAL_NAME: Oid = Oid::of(b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01");
/// GSS_C_NT_HOSTBASED_SERVICE, 1.2.840.113554.1.2.1.4: `service@host`.
static HOSTBASED_SERVICE: Oid = Oid::of(b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04");
/// GSS_KRB5_CRED_NO_CI_FLAGS_X, 1.2.752.43.13.29 (MIT): do not ask for integrity and
/// confidentiality unless requested, which Active Directory refuses over TLS.
static NO_CI_FLAGS: Oid = Oid::of(b"\x2a\x85\x70\x2b\x0d\x1d");

const GSS_C_MUTUAL_FLAG: u32 = 2;
const GSS_C_REPLAY_FLAG: u32 = 4;
const GSS_C_SEQUENCE_FLAG: u32 = 8;
const GSS_C_CONF_FLAG: u32 = 16;
const GSS_C_INTEG_FLAG: u32 = 32;
const GSS_C_INITIATE: c_int = 1;
const GSS_C_INDEFINITE: u32 = u32::MAX;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_S_COMPLETE: u32 = 0;
const GSS_S_CONTINUE_NEEDED: u32 = 1;
/// Routine errors, `(major >> 16) & 0xff`.
const GSS_S_NO_CRED: u32 = 7;
const GSS_S_CREDENTIALS_EXPIRED: u32 = 11;
/// Kerberos minor codes (the com_err table of krb5, MIT and Heimdal alike).
const KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: u32 = 0x96c7_3a07;
const KRB5KRB_AP_ERR_TKT_EXPIRED: u32 = 0x96c7_3a20;

/// Where the library is looked for, in order.
#[cfg(target_os = "macos")]
const LIBRARIES: &[&str] = &["/System/Library/Frameworks/GSS.framework/GSS"];
#[cfg(not(target_os = "macos"))]
const LIBRARIES: &[&str] = &["libgssapi_krb5.so.2", "libgssapi.so.3"];

/// The calls used, resolved once from the library.
struct Api {
    import_name: unsafe extern "C" fn(*mut u32, *const Buffer, *const Oid, *mut Name) -> u32,
    acquire_cred: unsafe extern "C" fn(
        *mut u32,
        Name,
        u32,
        *const OidSet,
        c_int,
        *mut Cred,
        *mut *mut OidSet,
        *mut u32,
    ) -> u32,
    inquire_cred: unsafe extern "C" fn(
        *mut u32,
        Cred,
        *mut Name,
        *mut u32,
        *mut c_int,
        *mut *mut OidSet,
    ) -> u32,
    display_name: unsafe extern "C" fn(*mut u32, Name, *mut Buffer, *mut *const Oid) -> u32,
    init_sec_context: unsafe extern "C" fn(
        *mut u32,
        Cred,
        *mut Ctx,
        Name,
        *const Oid,
        u32,
        u32,
        *const ChannelBindings,
        *const Buffer,
        *mut *const Oid,
        *mut Buffer,
        *mut u32,
        *mut u32,
    ) -> u32,
    wrap: unsafe extern "C" fn(
        *mut u32,
        Ctx,
        c_int,
        u32,
        *const Buffer,
        *mut c_int,
        *mut Buffer,
    ) -> u32,
    unwrap: unsafe extern "C" fn(
        *mut u32,
        Ctx,
        *const Buffer,
        *mut Buffer,
        *mut c_int,
        *mut u32,
    ) -> u32,
    display_status:
        unsafe extern "C" fn(*mut u32, u32, c_int, *const Oid, *mut u32, *mut Buffer) -> u32,
    release_buffer: unsafe extern "C" fn(*mut u32, *mut Buffer) -> u32,
    release_name: unsafe extern "C" fn(*mut u32, *mut Name) -> u32,
    release_cred: unsafe extern "C" fn(*mut u32, *mut Cred) -> u32,
    delete_sec_context: unsafe extern "C" fn(*mut u32, *mut Ctx, *mut Buffer) -> u32,
    /// MIT and Heimdal have it; GSS.framework may not.
    set_cred_option:
        Option<unsafe extern "C" fn(*mut u32, *mut Cred, *const Oid, *const Buffer) -> u32>,
}

/// The loaded library.
struct Gssapi {
    api: Api,
}

/// Opens the library once for the process (it is never closed: the Kerberos library keeps
/// process-wide state).
pub fn load() -> Result<&'static dyn Kerberos, KerberosError> {
    static LOADED: OnceLock<Result<Gssapi, String>> = OnceLock::new();
    match LOADED.get_or_init(open) {
        Ok(gssapi) => Ok(gssapi),
        Err(why) => Err(KerberosError::Unavailable(why.clone())),
    }
}

fn open() -> Result<Gssapi, String> {
    let mut failures = Vec::new();
    for name in LIBRARIES {
        let c_name = CString::new(*name).expect("no NUL in library names");
        // SAFETY: dlopen with a valid C string; the handle is kept for the process's life.
        let handle = unsafe { libc::dlopen(c_name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            failures.push(dl_error(name));
            continue;
        }
        return resolve(handle)
            .map(|api| Gssapi { api })
            .map_err(|symbol| format!("{name} lacks {symbol}: it is not a GSSAPI library"));
    }
    tracing::debug!(?failures, "no GSSAPI library");
    Err(if cfg!(target_os = "macos") {
        "this Mac's Kerberos library (GSS.framework) could not be loaded".into()
    } else {
        "this computer has no Kerberos library (libgssapi_krb5.so.2): install it \
         (Debian and Ubuntu: apt-get install libgssapi-krb5-2; Fedora: dnf install krb5-libs), \
         or set [ldap] auth = \"password\""
            .into()
    })
}

/// dlerror's text for a failed dlopen of `name`.
fn dl_error(name: &str) -> String {
    // SAFETY: dlerror returns NULL or a C string valid until the next dl call on this thread.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        return format!("{name}: not found");
    }
    // SAFETY: non-null, NUL-terminated, read before any other dl call.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// Resolves every call; the name of the first one missing otherwise.
fn resolve(handle: *mut c_void) -> Result<Api, &'static str> {
    macro_rules! find {
        ($name:literal) => {{
            let symbol = concat!($name, "\0");
            // SAFETY: a valid handle and a NUL-terminated name; the symbol, when found, is the
            // RFC 2744 function of that name, whose C signature the field's type declares.
            unsafe { symbol_of(handle, symbol) }.ok_or($name)?
        }};
    }
    Ok(Api {
        import_name: find!("gss_import_name"),
        acquire_cred: find!("gss_acquire_cred"),
        inquire_cred: find!("gss_inquire_cred"),
        display_name: find!("gss_display_name"),
        init_sec_context: find!("gss_init_sec_context"),
        wrap: find!("gss_wrap"),
        unwrap: find!("gss_unwrap"),
        display_status: find!("gss_display_status"),
        release_buffer: find!("gss_release_buffer"),
        release_name: find!("gss_release_name"),
        release_cred: find!("gss_release_cred"),
        delete_sec_context: find!("gss_delete_sec_context"),
        // SAFETY: as above; its signature is MIT's gssapi_ext.h (Heimdal's is the same).
        set_cred_option: unsafe { symbol_of(handle, "gss_set_cred_option\0") },
    })
}

/// The function `name` (NUL-terminated) of the library as a function pointer of type `F`.
///
/// # Safety
/// `handle` is a live dlopen handle and `F` is the function pointer type of the symbol's real
/// C signature.
unsafe fn symbol_of<F: Copy>(handle: *mut c_void, name: &str) -> Option<F> {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    let name = CStr::from_bytes_with_nul(name.as_bytes()).ok()?;
    // SAFETY: guaranteed by the caller.
    let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
    // SAFETY: a non-null symbol address of a function of type F (the caller's promise), and F
    // is pointer-sized (checked above).
    (!address.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) })
}

impl Api {
    /// The library's words for a major and minor status.
    fn describe(&self, major: u32, minor: u32) -> String {
        let mut words = self.messages(major, GSS_C_GSS_CODE);
        if minor != 0 {
            words.extend(self.messages(minor, GSS_C_MECH_CODE));
        }
        words.join(": ")
    }

    fn messages(&self, code: u32, kind: c_int) -> Vec<String> {
        let mut out = Vec::new();
        let mut context = 0u32;
        // Bounded: a library that never ends its list cannot hold the check.
        for _ in 0..4 {
            let (mut minor, mut text) = (0, Buffer::EMPTY);
            let mech = if kind == GSS_C_MECH_CODE {
                &KRB5_MECH as *const Oid
            } else {
                ptr::null()
            };
            // SAFETY: valid out-pointers; `text` is released below.
            let major = unsafe {
                (self.display_status)(&mut minor, code, kind, mech, &mut context, &mut text)
            };
            if major != GSS_S_COMPLETE {
                break;
            }
            out.push(String::from_utf8_lossy(&self.take(&mut text)).into_owned());
            if context == 0 {
                break;
            }
        }
        out
    }

    /// Copies a buffer the library allocated and releases it.
    fn take(&self, buffer: &mut Buffer) -> Vec<u8> {
        let (length, value) = (buffer.length, buffer.value);
        let bytes = if value.is_null() || length == 0 {
            Vec::new()
        } else {
            // SAFETY: the library returned `length` readable bytes at `value`.
            unsafe { std::slice::from_raw_parts(value.cast::<u8>(), length) }.to_vec()
        };
        let mut minor = 0;
        // SAFETY: a buffer the library allocated, released once.
        unsafe { (self.release_buffer)(&mut minor, buffer) };
        bytes
    }

    /// A name of `kind` from text.
    fn import(&self, text: &str, kind: &'static Oid) -> Result<Owned<'_>, KerberosError> {
        let (mut minor, mut name) = (0, ptr::null_mut());
        let buffer = Buffer::of(text.as_bytes());
        // SAFETY: the input buffer outlives the call; `name` is released by `Owned`.
        let major = unsafe { (self.import_name)(&mut minor, &buffer, kind, &mut name) };
        let name = Owned::name(self, name);
        if major != GSS_S_COMPLETE {
            return Err(KerberosError::Failed(format!(
                "`{text}` is not a Kerberos name: {}",
                self.describe(major, minor)
            )));
        }
        Ok(name)
    }

    /// The initiator credentials of `principal` (the cache's default when `None`).
    fn credentials(&self, principal: Option<&str>) -> Result<Owned<'_>, KerberosError> {
        let desired = principal
            .map(|p| self.import(p, &KRB5_PRINCIPAL_NAME))
            .transpose()?;
        let desired_name = desired.as_ref().map_or(ptr::null_mut(), |n| n.handle);
        let mechs = OidSet {
            count: 1,
            elements: &KRB5_MECH,
        };
        let (mut minor, mut cred) = (0, ptr::null_mut());
        // SAFETY: valid inputs; `cred` is released by `Owned`; no mech set or time out.
        let major = unsafe {
            (self.acquire_cred)(
                &mut minor,
                desired_name,
                GSS_C_INDEFINITE,
                &mechs,
                GSS_C_INITIATE,
                &mut cred,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        let cred = Owned::cred(self, cred);
        if major != GSS_S_COMPLETE {
            return Err(self.error(major, minor, principal, None));
        }
        Ok(cred)
    }

    /// What a failed call means.
    fn error(
        &self,
        major: u32,
        minor: u32,
        principal: Option<&str>,
        service: Option<&str>,
    ) -> KerberosError {
        let whose = principal.map(str::to_string);
        match ((major >> 16) & 0xff, minor) {
            (GSS_S_CREDENTIALS_EXPIRED, _) | (_, KRB5KRB_AP_ERR_TKT_EXPIRED) => {
                KerberosError::Expired(whose)
            }
            (GSS_S_NO_CRED, _) => KerberosError::NoTicket(whose),
            (_, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN) if service.is_some() => {
                KerberosError::UnknownService(service.unwrap_or_default().to_string())
            }
            _ => KerberosError::Failed(self.describe(major, minor)),
        }
    }
}

/// A name or credential handle, released when dropped.
struct Owned<'a> {
    api: std::marker::PhantomData<&'a Api>,
    handle: *mut c_void,
    release: unsafe extern "C" fn(*mut u32, *mut *mut c_void) -> u32,
}

impl<'a> Owned<'a> {
    fn name(api: &'a Api, handle: Name) -> Owned<'a> {
        Owned {
            api: std::marker::PhantomData,
            handle,
            release: api.release_name,
        }
    }

    fn cred(api: &'a Api, handle: Cred) -> Owned<'a> {
        Owned {
            api: std::marker::PhantomData,
            handle,
            release: api.release_cred,
        }
    }

    /// Hands the handle over (to a context that releases it itself).
    fn keep(mut self) -> *mut c_void {
        std::mem::take(&mut self.handle)
    }
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            let mut minor = 0;
            // SAFETY: a handle the library returned, released once.
            unsafe { (self.release)(&mut minor, &mut self.handle) };
        }
    }
}

impl Kerberos for Gssapi {
    fn ticket(&self, principal: Option<&str>) -> Result<Ticket, KerberosError> {
        let api = &self.api;
        let cred = api.credentials(principal)?;
        let (mut minor, mut name, mut lifetime) = (0, ptr::null_mut(), 0u32);
        // SAFETY: a live credential; `name` is released by `Owned`.
        let major = unsafe {
            (api.inquire_cred)(
                &mut minor,
                cred.handle,
                &mut name,
                &mut lifetime,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        let name = Owned::name(api, name);
        if major != GSS_S_COMPLETE {
            return Err(api.error(major, minor, principal, None));
        }
        let mut text = Buffer::EMPTY;
        // SAFETY: a live name; `text` is released by `take`.
        let major =
            unsafe { (api.display_name)(&mut minor, name.handle, &mut text, ptr::null_mut()) };
        if major != GSS_S_COMPLETE {
            return Err(api.error(major, minor, principal, None));
        }
        let shown = String::from_utf8_lossy(&api.take(&mut text)).into_owned();
        if lifetime == 0 {
            return Err(KerberosError::Expired(Some(shown)));
        }
        Ok(Ticket {
            principal: shown,
            lifetime_secs: lifetime,
        })
    }

    fn context(&'static self, request: &Request<'_>) -> Result<Box<dyn Context>, KerberosError> {
        let api = &self.api;
        let mut cred = api.credentials(request.principal)?;
        let mut flags = GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_REPLAY_FLAG;
        match request.protection {
            Protection::Seal => flags |= GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG,
            Protection::None => without_security_layer(api, &mut cred),
        }
        let target = match request.service.split_once('@') {
            Some(_) => api.import(request.service, &KRB5_PRINCIPAL_NAME)?,
            // No realm known: the library maps the host to one (its own krb5.conf rules).
            None => api.import(&request.service.replacen('/', "@", 1), &HOSTBASED_SERVICE)?,
        };
        Ok(Box::new(GssContext {
            api,
            cred: cred.keep(),
            target: target.keep(),
            context: ptr::null_mut(),
            flags,
            channel_binding: request.channel_binding.clone(),
            principal: request.principal.map(str::to_string),
            service: request.service.to_string(),
        }))
    }
}

/// Over TLS: MIT asks for integrity and confidentiality on every context unless told not to,
/// and Active Directory then refuses the bind ("not allowed if TLS is used").
fn without_security_layer(api: &Api, cred: &mut Owned<'_>) {
    let Some(set_option) = api.set_cred_option else {
        return;
    };
    let (mut minor, empty) = (0, Buffer::EMPTY);
    // SAFETY: a live credential handle (the call may replace it); a static OID; an empty buffer.
    let major = unsafe { set_option(&mut minor, &mut cred.handle, &NO_CI_FLAGS, &empty) };
    if major != GSS_S_COMPLETE {
        tracing::debug!(
            error = %api.describe(major, minor),
            "the Kerberos library cannot leave integrity and confidentiality out"
        );
    }
}

/// A context with one server.
struct GssContext {
    api: &'static Api,
    cred: Cred,
    target: Name,
    context: Ctx,
    flags: u32,
    channel_binding: Option<Vec<u8>>,
    principal: Option<String>,
    service: String,
}

// SAFETY: the handles belong to this value alone and are used through `&mut self`, one thread
// at a time, which GSSAPI implementations allow (they are not tied to the creating thread).
unsafe impl Send for GssContext {}

impl GssContext {
    fn failed(&self, major: u32, minor: u32) -> KerberosError {
        let principal = self.principal.as_deref();
        self.api.error(major, minor, principal, Some(&self.service))
    }
}

impl Context for GssContext {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step, KerberosError> {
        let api = self.api;
        let input = input.map(Buffer::of);
        let bindings = self.channel_binding.as_deref().map(|data| ChannelBindings {
            initiator_addrtype: 0,
            initiator_address: Buffer::EMPTY,
            acceptor_addrtype: 0,
            acceptor_address: Buffer::EMPTY,
            application_data: Buffer::of(data),
        });
        let (mut minor, mut output, mut granted) = (0, Buffer::EMPTY, 0u32);
        // SAFETY: live handles owned by self; inputs outlive the call; `output` is released
        // by `take`.
        let major = unsafe {
            (api.init_sec_context)(
                &mut minor,
                self.cred,
                &mut self.context,
                self.target,
                &KRB5_MECH,
                self.flags,
                0,
                bindings.as_ref().map_or(ptr::null(), |b| b as *const _),
                input.as_ref().map_or(ptr::null(), |b| b as *const _),
                ptr::null_mut(),
                &mut output,
                &mut granted,
                ptr::null_mut(),
            )
        };
        let token = api.take(&mut output);
        match major {
            GSS_S_CONTINUE_NEEDED => Ok(Step { token, done: false }),
            GSS_S_COMPLETE if granted & GSS_C_MUTUAL_FLAG == 0 => Err(KerberosError::Failed(
                "the directory server did not prove its identity (no mutual authentication)".into(),
            )),
            GSS_S_COMPLETE => Ok(Step { token, done: true }),
            _ => Err(self.failed(major, minor)),
        }
    }

    fn wrap(&mut self, data: &[u8], seal: bool) -> Result<Vec<u8>, KerberosError> {
        let input = Buffer::of(data);
        let (mut minor, mut output, mut sealed) = (0, Buffer::EMPTY, 0);
        // SAFETY: an established context; `output` is released by `take`.
        let major = unsafe {
            (self.api.wrap)(
                &mut minor,
                self.context,
                c_int::from(seal),
                0,
                &input,
                &mut sealed,
                &mut output,
            )
        };
        let token = self.api.take(&mut output);
        if major != GSS_S_COMPLETE {
            return Err(self.failed(major, minor));
        }
        if seal && sealed == 0 {
            return Err(KerberosError::Failed(
                "the Kerberos library could not encrypt".into(),
            ));
        }
        Ok(token)
    }

    fn unwrap(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), KerberosError> {
        let input = Buffer::of(token);
        let (mut minor, mut output, mut sealed, mut qop) = (0, Buffer::EMPTY, 0, 0u32);
        // SAFETY: an established context; `output` is released by `take`.
        let major = unsafe {
            (self.api.unwrap)(
                &mut minor,
                self.context,
                &input,
                &mut output,
                &mut sealed,
                &mut qop,
            )
        };
        let data = self.api.take(&mut output);
        if major != GSS_S_COMPLETE {
            return Err(self.failed(major, minor));
        }
        Ok((data, sealed != 0))
    }
}

impl Drop for GssContext {
    fn drop(&mut self) {
        let api = self.api;
        let mut minor = 0;
        // SAFETY: handles the library returned, each released once; null ones are skipped.
        unsafe {
            if !self.context.is_null() {
                (api.delete_sec_context)(&mut minor, &mut self.context, ptr::null_mut());
            }
            if !self.target.is_null() {
                (api.release_name)(&mut minor, &mut self.target);
            }
            if !self.cred.is_null() {
                (api.release_cred)(&mut minor, &mut self.cred);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_library_loads_and_has_no_ticket_for_a_stranger() {
        let kerberos = load()
            .unwrap_or_else(|e| panic!("{e}; install with: apt-get install -y libgssapi-krb5-2"));
        let stranger = "nobody@NOWHERE.TEST";
        assert_eq!(
            kerberos.ticket(Some(stranger)),
            Err(KerberosError::NoTicket(Some(stranger.into())))
        );
    }
}
