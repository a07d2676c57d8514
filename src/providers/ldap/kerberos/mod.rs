//! The person's Kerberos ticket, as the directory bind needs it: whose it is and how long it
//! lasts, and a security context with one server (the tokens of a GSSAPI exchange, then wrapping
//! and unwrapping what follows). One small seam, [`Kerberos`], with one backend per system chosen
//! here and nowhere else: the GSSAPI C library loaded at run time on Unix ([`gssapi`]: MIT's
//! libgssapi_krb5 on Linux and the BSDs, GSS.framework on macOS), SSPI on Windows ([`sspi`]).
//!
//! Nothing here is linked at build time, so the program builds with cargo alone and runs on
//! machines without Kerberos; there [`system`] says in plain words what is missing. No password
//! passes through this module: the ticket cache is the system's (`KRB5CCNAME`, `KRB5_CONFIG` and
//! the system's default cache type, FILE, DIR, KEYRING or KCM, are the library's business).

#[cfg(unix)]
mod gssapi;
#[cfg(windows)]
mod sspi;

/// What went wrong, in terms the LDAP provider turns into a status or an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    /// This computer has no usable Kerberos library; the text names what is missing.
    #[error("{0}")]
    Unavailable(String),
    /// No ticket (for this principal, when one is named).
    #[error("there is no Kerberos ticket{}", for_whom(.0))]
    NoTicket(Option<String>),
    /// The ticket's lifetime is over.
    #[error("the Kerberos ticket{} has expired", for_whom(.0))]
    Expired(Option<String>),
    /// The KDC does not know the directory server's service principal.
    #[error("the Kerberos server does not know the directory's service principal {0} (the domain controller must have it as a servicePrincipalName)")]
    UnknownService(String),
    /// Anything else, in the library's words.
    #[error("{0}")]
    Failed(String),
}

fn for_whom(principal: &Option<String>) -> String {
    principal
        .as_deref()
        .map(|p| format!(" for {p}"))
        .unwrap_or_default()
}

/// The ticket the person holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// `name@REALM`.
    pub principal: String,
    /// Seconds it is still valid.
    pub lifetime_secs: u32,
}

/// One step of establishing a context: a token to send, and whether more is expected.
#[derive(Debug)]
pub struct Step {
    pub token: Vec<u8>,
    pub done: bool,
}

/// What the bind asks of the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Over TLS: no security layer of its own (Active Directory refuses sign or seal there).
    None,
    /// Over plain LDAP: integrity and confidentiality, so that the connection can be sealed.
    Seal,
}

/// What the context is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Whose ticket: `None` is the ticket cache's default principal.
    pub principal: Option<&'a str>,
    /// The server's service principal, `ldap/host@REALM` (or `ldap/host` for the library's
    /// own realm mapping).
    pub service: &'a str,
    pub protection: Protection,
    /// RFC 5929 channel binding (`tls-server-end-point:` and the certificate's hash) over TLS.
    pub channel_binding: Option<Vec<u8>>,
}

/// A security context with one server, established by [`Context::step`].
pub trait Context: Send {
    /// One step: the server's last token in (`None` at first), the next token out.
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step, KerberosError>;
    /// Protects `data` for the server: signed, and encrypted when `seal`.
    fn wrap(&mut self, data: &[u8], seal: bool) -> Result<Vec<u8>, KerberosError>;
    /// Checks (and decrypts) a token from the server; also whether it was encrypted.
    fn unwrap(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), KerberosError>;
}

/// The system's Kerberos.
pub trait Kerberos: Send + Sync {
    /// The ticket of `principal` (the default one when `None`), if there is a valid one.
    fn ticket(&self, principal: Option<&str>) -> Result<Ticket, KerberosError>;
    /// A context with the server `request.service`, not yet established.
    fn context(&'static self, request: &Request<'_>) -> Result<Box<dyn Context>, KerberosError>;
}

/// This system's Kerberos, loaded once; an error in plain words when there is none.
pub fn system() -> Result<&'static dyn Kerberos, KerberosError> {
    #[cfg(unix)]
    {
        gssapi::load()
    }
    #[cfg(windows)]
    {
        sspi::load()
    }
    #[cfg(not(any(unix, windows)))]
    {
        Err(KerberosError::Unavailable(
            "Kerberos is not supported on this system".into(),
        ))
    }
}

/// The directory server's service principal: `ldap/` and the host exactly as the URL writes it
/// (no DNS canonicalisation, which would turn 127.0.0.1 into `localhost` and let a resolver
/// choose the name), in the directory's realm when one is known.
pub fn service_principal(host: &str, realm: Option<&str>) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match realm {
        Some(realm) => format!("ldap/{}@{realm}", host.to_ascii_lowercase()),
        None => format!("ldap/{}", host.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_principal_keeps_the_url_s_host() {
        assert_eq!(
            service_principal("DC1.example.test", Some("EXAMPLE.TEST")),
            "ldap/dc1.example.test@EXAMPLE.TEST"
        );
        assert_eq!(service_principal("127.0.0.1", None), "ldap/127.0.0.1");
        assert_eq!(service_principal("[::1]", None), "ldap/::1");
    }

    #[test]
    fn errors_name_the_principal() {
        let e = KerberosError::Expired(Some("alice@EXAMPLE.TEST".into()));
        assert_eq!(
            e.to_string(),
            "the Kerberos ticket for alice@EXAMPLE.TEST has expired"
        );
        assert_eq!(
            KerberosError::NoTicket(None).to_string(),
            "there is no Kerberos ticket"
        );
    }
}
