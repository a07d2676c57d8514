//! How the LDAP connection is made safe: which URLs are allowed (no cleartext passwords over the
//! network), the TLS trust (system roots plus the configured `ca_file`), and timeouts on connect.
//!
//! The connection itself is made by [`super::relay`], which puts the framing guard between the
//! server and ldap3. The ldap3 connection driver runs in its own task: if ldap3 panics while
//! decoding a hostile answer, that task ends, the pending operation fails, and the caller gets an
//! error, not a crash.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::Ldap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use url::Url;

use super::bounded::Violation;
use super::relay::{self, Driver, OpenError, Target, TicketBind};
use crate::providers::ProviderError;
use crate::rules::untrusted::clean_or;
use crate::system::config::{check_ldap_url, is_loopback, Config, ConfigError, LdapAuth};
use crate::system::credentials::EndpointIdentity;

/// Where and how to connect; built once from the configuration.
#[derive(Clone)]
pub struct Endpoint {
    pub url: Url,
    pub starttls: bool,
    pub timeout: Duration,
    tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("starttls", &self.starttls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Checks the URL and transport rules and loads the TLS trust.
    pub fn from_config(config: &Config) -> Result<Endpoint, ConfigError> {
        let ldap = &config.ldap;
        let url = ldap.url.clone().ok_or_else(|| {
            config.missing_error(&super::settings::URL, "[provider] kind = \"ldap\" needs it")
        })?;
        check_ldap_url(&url).map_err(|m| config.error_at("ldap.url", m))?;
        let tls_wanted = match (url.scheme(), ldap.starttls) {
            ("ldaps", true) => {
                return Err(config.error_at(
                    "ldap.starttls",
                    "StartTLS applies to ldap:// URLs; ldaps:// is already encrypted",
                ))
            }
            ("ldaps", false) | ("ldap", true) => true,
            ("ldap", false) => {
                // A Kerberos bind sends no password and seals the connection itself.
                if !is_loopback(&url) && ldap.auth == LdapAuth::Password {
                    if !ldap.allow_insecure {
                        return Err(config.error_at(
                            "ldap.url",
                            format!(
                                "`{url}` would send the password in clear text; use ldaps://, set starttls = true, \
                                 or (only on a trusted network) allow_insecure = true"
                            ),
                        ));
                    }
                    tracing::warn!(
                        url = %url,
                        "allow_insecure is set: the password goes over the network to the LDAP server unencrypted"
                    );
                }
                false
            }
            _ => unreachable!("check_ldap_url admits ldap and ldaps only"),
        };
        let tls = if tls_wanted {
            let roots = root_store(ldap.ca_file.as_deref())
                .map_err(|message| config.error_at("ldap.ca_file", message))?;
            Some(client_config(roots).map_err(|m| config.error_at("ldap.url", m))?)
        } else {
            None
        };
        Ok(Endpoint {
            url,
            starttls: ldap.starttls,
            timeout: Duration::from_secs(ldap.timeout_secs),
            tls,
        })
    }

    /// An encrypted connection to `url` (ldaps://, or StartTLS on ldap://) that trusts the
    /// certificates of `ca_file` and nothing else: the proof that a server DNS named is the
    /// organisation's. The error says, in words for a person, what is wrong with the file.
    pub fn trusting_only(url: &Url, ca_file: &Path, timeout: Duration) -> Result<Endpoint, String> {
        let mut roots = RootCertStore::empty();
        add_ca_file(&mut roots, ca_file)?;
        Ok(Endpoint {
            url: url.clone(),
            starttls: url.scheme() == "ldap",
            timeout,
            tls: Some(client_config(roots)?),
        })
    }

    /// Whether the connection is encrypted (ldaps:// or StartTLS).
    pub fn encrypted(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether the server is this machine.
    pub fn on_loopback(&self) -> bool {
        is_loopback(&self.url)
    }

    /// A name for the server in messages.
    pub fn name(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_string()
    }

    /// Where a kept password may be sent: scheme, host (its case does not matter) and port (the
    /// scheme's default when the URL names none), and whether StartTLS protects it, so a change
    /// of server or a downgrade to clear text never receives a password kept for another.
    pub fn identity(&self) -> EndpointIdentity {
        let scheme = self.url.scheme();
        let default_port = if scheme == "ldaps" { 636 } else { 389 };
        let host = self.url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = self.url.port().unwrap_or(default_port);
        let starttls = if self.starttls { " starttls" } else { "" };
        EndpointIdentity::new(format!("ldap {scheme}://{host}:{port}{starttls}"))
    }

    /// Connects (TCP, then TLS or StartTLS) within the timeout and starts the connection driver.
    /// Every message the server sends passes the framing guard ([`super::bounded`]) first.
    pub async fn open(&self) -> Result<(Ldap, Driver), ProviderError> {
        self.open_bound(None).await.map_err(|e| self.open_error(e))
    }

    /// Connects as [`open`](Self::open) does and binds with the person's Kerberos ticket
    /// before ldap3 gets the connection; the raw error, so that the caller can tell a missing
    /// ticket (a reason to sign in) from a failure ([`open_error`](Self::open_error)).
    pub async fn open_bound(
        &self,
        kerberos: Option<TicketBind>,
    ) -> Result<(Ldap, Driver), OpenError> {
        let target = Target {
            url: &self.url,
            starttls: self.starttls,
            tls: self.tls.as_ref(),
            kerberos,
        };
        match tokio::time::timeout(self.timeout, relay::open(target)).await {
            Err(_) => Err(OpenError::TimedOut(self.timeout.as_secs())),
            Ok(result) => result,
        }
    }

    /// What a failed [`open_bound`](Self::open_bound) means for the person.
    pub fn open_error(&self, e: OpenError) -> ProviderError {
        let endpoint = self.name();
        match e {
            OpenError::Unreachable(detail) => ProviderError::Unreachable {
                endpoint,
                detail: clean_or(&detail, "the connection failed"),
            },
            OpenError::StartTlsRefused(code, text) => ProviderError::Unreachable {
                endpoint,
                detail: format!(
                    "the server refused StartTLS (result {code}: {})",
                    clean_or(&text, "no reason given")
                ),
            },
            OpenError::Hostile(violation) => violation_error(endpoint, &violation),
            OpenError::TimedOut(secs) => ProviderError::Timeout { endpoint, secs },
            OpenError::Kerberos(e) => ProviderError::Kerberos {
                endpoint,
                detail: clean_or(&e.to_string(), "no reason given"),
            },
            OpenError::BindRefused(code, text) => ProviderError::Endpoint {
                endpoint,
                code: code.to_string(),
                error: format!(
                    "the Kerberos bind was refused: {}",
                    clean_or(&text, "no reason given")
                ),
            },
        }
    }
}

/// The error for a server that broke the framing guard's limits.
pub fn violation_error(endpoint: String, violation: &Violation) -> ProviderError {
    ProviderError::Protocol {
        endpoint,
        detail: violation.to_string(),
    }
}

/// The system's trusted roots plus the certificates in `ca_file`.
fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipping part of the system certificate store");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    if roots.is_empty() {
        return Err(
            "no trusted certificate authority found: install ca-certificates or set ldap.ca_file"
                .into(),
        );
    }
    Ok(roots)
}

/// Trusts the certificates of the PEM file `path` (the administrator's `ca_file`).
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{} holds an unusable certificate: {e}", path.display()))?;
    }
    Ok(())
}

fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The root DSE's `attributes`, read without a bind (it is public to anyone who connects);
/// `None` when the server returns no entry. There is one root DSE: a server that sends a second
/// entry is cut off at once, not read until a limit or the timeout. The error says why in words
/// from the network, to be cleaned by the caller.
pub async fn read_root_dse(
    ldap: &mut Ldap,
    timeout: Duration,
    attributes: Vec<&str>,
) -> Result<Option<ldap3::SearchEntry>, String> {
    let mut stream = ldap
        .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
        .with_timeout(timeout)
        .streaming_search("", ldap3::Scope::Base, "(objectClass=*)", attributes)
        .await
        .map_err(|e| e.to_string())?;
    let mut found = None;
    loop {
        match stream.next().await.map_err(|e| e.to_string())? {
            Some(entry) if entry.is_ref() || entry.is_intermediate() => {}
            Some(_) if found.is_some() => {
                return Err("it sent more than one root DSE entry".to_string())
            }
            Some(entry) => found = Some(ldap3::SearchEntry::construct(entry)),
            None => break,
        }
    }
    stream.finish().await.success().map_err(|e| e.to_string())?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<Endpoint, ConfigError> {
        let mut config = Config::default();
        config
            .apply_text(Path::new("/etc/sa.toml"), text)
            .expect("valid toml");
        Endpoint::from_config(&config)
    }

    #[test]
    fn the_endpoint_is_scheme_host_and_port() {
        let id = |text: &str| config(text).unwrap().identity();
        let a = id("[ldap]\nurl = \"ldaps://DC1.example.com\"\n");
        assert_eq!(a, id("[ldap]\nurl = \"ldaps://dc1.example.com:636/\"\n"));
        assert_ne!(a, id("[ldap]\nurl = \"ldaps://dc2.example.com\"\n"));
        assert_ne!(a, id("[ldap]\nurl = \"ldaps://dc1.example.com:3269\"\n"));
        assert_ne!(
            id("[ldap]\nurl = \"ldap://127.0.0.1:3890\"\n"),
            id("[ldap]\nurl = \"ldap://127.0.0.1:3891\"\n")
        );
        assert_ne!(
            id("[ldap]\nurl = \"ldap://dc1.example.com\"\nstarttls = true\n"),
            id("[ldap]\nurl = \"ldap://dc1.example.com\"\nallow_insecure = true\n")
        );
    }

    #[test]
    fn plain_ldap_is_refused_off_loopback() {
        let err = config("[ldap]\nurl = \"ldap://dc1.example.com\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.url"));
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("clear text"), "{err}");
    }

    #[test]
    fn plain_ldap_is_allowed_on_loopback_or_when_insecure_is_allowed() {
        let e = config("[ldap]\nurl = \"ldap://127.0.0.1:3890\"\n").unwrap();
        assert!(e.tls.is_none());
        config("[ldap]\nurl = \"ldap://localhost\"\n").unwrap();
        config("[ldap]\nurl = \"ldap://[::1]:389\"\n").unwrap();
        config("[ldap]\nurl = \"ldap://127.1.2.3\"\n").unwrap();
        assert!(config("[ldap]\nurl = \"ldap://127.0.0.1.example.com\"\n").is_err());
        config("[ldap]\nurl = \"ldap://dc1.example.com\"\nallow_insecure = true\n").unwrap();
        config("[ldap]\nurl = \"ldap://dc1.example.com\"\nauth = \"kerberos\"\n").unwrap();
    }

    #[test]
    fn tls_urls_load_a_trust_store() {
        let e = config("[ldap]\nurl = \"ldap://dc1.example.com\"\nstarttls = true\n").unwrap();
        assert!(e.tls.is_some());
        let err =
            config("[ldap]\nurl = \"ldaps://dc1.example.com\"\nstarttls = true\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.starttls"));
    }

    #[test]
    fn a_bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        // Quoted by toml itself: a Windows path's backslashes are escapes in a "…" string.
        let text = format!(
            "[ldap]\nurl = \"ldaps://dc1.example.com\"\nca_file = {}\n",
            toml::Value::String(empty.display().to_string())
        );
        let err = config(&text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.ca_file"));
        assert_eq!(err.line, Some(3));
        let missing =
            "[ldap]\nurl = \"ldaps://dc1.example.com\"\nca_file = \"/nonexistent/ca.pem\"\n";
        assert!(config(missing).unwrap_err().message.contains("cannot read"));
    }

    #[test]
    fn missing_url_is_a_config_error() {
        let err = config("").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("ldap.url"));
    }
}
