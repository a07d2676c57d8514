//! Where a directory is and what it is: the Active Directory domains this machine knows (the
//! Kerberos default realm, an sssd `ad` domain, Windows' `USERDNSDOMAIN`), their domain
//! controllers from DNS, and what a directory server says about itself in its root DSE (read
//! without a bind, so no password is involved): its naming contexts, and whether it is Active
//! Directory or OpenLDAP; and whether a domain controller DNS named proves who it is (its
//! certificate chains to the administrator's certificate authority, [`prove`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::dns::{self, Srv};
use crate::providers::ldap::connect::{read_root_dse, violation_error, Endpoint};
use crate::providers::ldap::vendor;
use crate::providers::ProviderError;
use crate::system::config::{is_loopback, Config, LdapFlavor};

/// Naming contexts that hold no accounts.
const NOT_ACCOUNTS: [&str; 2] = ["cn=config", "cn=monitor"];

/// The machine's own realm files (`SIGNIN_ASSISTANT_KRB5_CONF` and `SIGNIN_ASSISTANT_SSSD_CONF`
/// point elsewhere, to stage or test).
fn realm_files() -> (PathBuf, PathBuf) {
    let krb5 = std::env::var_os("SIGNIN_ASSISTANT_KRB5_CONF")
        .or_else(|| std::env::var_os("KRB5_CONFIG"))
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/krb5.conf".into());
    let sssd = std::env::var_os("SIGNIN_ASSISTANT_SSSD_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/sssd/sssd.conf".into());
    (krb5, sssd)
}

/// The Active Directory domains this machine is joined to or configured for, lower case.
pub fn machine_domains() -> Vec<String> {
    let (krb5, sssd) = realm_files();
    let mut domains = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&sssd) {
        domains.extend(sssd_ad_domains(&text));
    }
    if let Ok(text) = std::fs::read_to_string(&krb5) {
        domains.extend(krb5_default_realm(&text));
    }
    if let Some(domain) = std::env::var_os("USERDNSDOMAIN") {
        domains.push(domain.to_string_lossy().to_ascii_lowercase());
    }
    let mut seen = std::collections::HashSet::new();
    domains.retain(|d| crate::system::config::is_dns_name(d) && seen.insert(d.clone()));
    domains
}

/// `default_realm` of `[libdefaults]`, as a domain name.
fn krb5_default_realm(text: &str) -> Option<String> {
    let mut section = "";
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[libdefaults]" {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "default_realm" {
                    return Some(value.trim().to_ascii_lowercase());
                }
            }
        }
    }
    None
}

/// The domains of sssd's `[domain/…]` sections with `id_provider = ad` (`ad_domain` when set).
fn sssd_ad_domains(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<(String, bool, Option<String>)> = None;
    let mut finish = |current: Option<(String, bool, Option<String>)>| {
        if let Some((name, true, ad_domain)) = current {
            found.push(ad_domain.unwrap_or(name).to_ascii_lowercase());
        }
    };
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(current.take());
            current = header
                .strip_prefix("domain/")
                .map(|name| (name.trim().to_string(), false, None));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if let Some((_, is_ad, ad_domain)) = current.as_mut() {
            match key.trim() {
                "id_provider" => *is_ad = value.trim() == "ad",
                "ad_domain" => *ad_domain = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    finish(current);
    found
}

/// The first domain of `domains` with domain controllers in DNS, and those controllers.
pub async fn find_domain_controllers(
    domains: &[String],
    dns_server: Option<SocketAddr>,
) -> Option<(String, Vec<Srv>)> {
    for domain in domains {
        match dns::domain_controllers(domain, dns_server).await {
            Ok(found) if !found.is_empty() => return Some((domain.clone(), found)),
            Ok(_) => tracing::debug!(%domain, "no domain controllers in DNS"),
            Err(e) => tracing::info!(%domain, error = %e, "cannot look up domain controllers"),
        }
    }
    None
}

/// The LDAP URL of a domain controller found in DNS.
pub fn url_of(srv: &Srv) -> Option<Url> {
    let port = if srv.port == 389 {
        String::new()
    } else {
        format!(":{}", srv.port)
    };
    Url::parse(&format!("ldap://{}{port}", srv.target)).ok()
}

/// Whether the server at `url` proves it is one of the organisation's: a TLS handshake
/// (ldaps://, or StartTLS on ldap://) whose certificate, valid for the URL's host, chains to
/// `ca_file` alone. The system's public roots are left out on purpose: anyone can hold a
/// publicly trusted certificate for a host of their own, and DNS can name any host. The
/// error says, in words for a person, why it is not proven.
pub async fn prove(url: &Url, ca_file: &Path, timeout: Duration) -> Result<(), String> {
    let endpoint = Endpoint::trusting_only(url, ca_file, timeout)?;
    // Through the framing guard, as every LDAP connection: the server is not trusted yet.
    let (mut ldap, driver) = endpoint.open().await.map_err(|e| e.to_string())?;
    let _ = tokio::time::timeout(timeout, ldap.unbind()).await;
    driver.abort();
    Ok(())
}

/// What a directory server says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootDse {
    pub naming_contexts: Vec<String>,
    pub default_naming_context: Option<String>,
    pub flavor: Option<LdapFlavor>,
}

impl RootDse {
    /// The base DN of the accounts: AD's default naming context, else the only naming context
    /// that holds entries (None when there are several to choose from).
    pub fn base(&self) -> Option<String> {
        if let Some(base) = &self.default_naming_context {
            return Some(base.clone());
        }
        let candidates = self.account_contexts();
        match candidates.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// The naming contexts that may hold accounts.
    pub fn account_contexts(&self) -> Vec<String> {
        self.naming_contexts
            .iter()
            .filter(|c| !NOT_ACCOUNTS.contains(&c.to_ascii_lowercase().as_str()))
            .cloned()
            .collect()
    }
}

/// How the server at `url` is reached: an `ldap://` URL with StartTLS off loopback, or when a
/// certificate authority is given (the setup writes the same), with the system's trusted roots
/// plus `ca_file`.
pub fn transport(url: &Url, ca_file: Option<PathBuf>) -> (bool, Option<PathBuf>) {
    let starttls = url.scheme() == "ldap" && (!is_loopback(url) || ca_file.is_some());
    (starttls, ca_file)
}

/// Reads the root DSE of the server at `url` without a bind.
pub async fn root_dse(
    url: &Url,
    starttls: bool,
    ca_file: Option<PathBuf>,
    timeout: Duration,
) -> Result<RootDse, ProviderError> {
    let mut config = Config::default();
    config.ldap.url = Some(url.clone());
    config.ldap.starttls = starttls;
    config.ldap.ca_file = ca_file;
    config.ldap.timeout_secs = timeout.as_secs().max(1);
    // No password goes over this connection: the root DSE is public.
    config.ldap.allow_insecure = true;
    let endpoint = Endpoint::from_config(&config)?;
    let (mut ldap, driver) = endpoint.open().await?;
    let mut wanted = vec!["namingContexts", "defaultNamingContext"];
    wanted.extend(vendor::ROOT_DSE_ATTRIBUTES);
    let found = read_root_dse(&mut ldap, timeout, wanted).await;
    let _ = ldap.unbind().await;
    driver.abort();
    // The relay cuts a server that broke the framing guard's limits: that is the reason.
    if let Some(violation) = driver.violation() {
        return Err(violation_error(endpoint.name(), &violation));
    }
    let found = found.map_err(|e| ProviderError::Protocol {
        endpoint: endpoint.name(),
        detail: crate::rules::untrusted::clean_or(&e, "its root DSE is not readable"),
    })?;
    let Some(entry) = found else {
        return Ok(RootDse::default());
    };
    let attrs = entry.attrs;
    let get = |name: &str| -> Vec<String> {
        attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| {
                v.iter()
                    .take(32)
                    .map(|s| crate::rules::untrusted::clean(s, 512))
                    .collect()
            })
            .unwrap_or_default()
    };
    let flavor = vendor::flavor(&vendor::RootDse {
        capabilities: &get("supportedCapabilities"),
        object_classes: &get("objectClass"),
        vendor_names: &get("vendorName"),
        vendor_versions: &get("vendorVersion"),
    });
    Ok(RootDse {
        naming_contexts: get("namingContexts"),
        default_naming_context: get("defaultNamingContext").into_iter().next(),
        flavor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krb5_default_realm_is_a_domain() {
        let text = "[libdefaults]\n  dns_lookup_kdc = true\n  default_realm = CORP.EXAMPLE.COM\n[realms]\n";
        assert_eq!(
            krb5_default_realm(text).as_deref(),
            Some("corp.example.com")
        );
        assert_eq!(krb5_default_realm("[realms]\ndefault_realm = X\n"), None);
    }

    #[test]
    fn sssd_ad_domains_only() {
        let text = "[sssd]\ndomains = corp.example.com, ldap.example\n\n[domain/corp.example.com]\nid_provider = ad\n\n[domain/ldap.example]\nid_provider = ldap\n\n[domain/SHORT]\nid_provider = ad\nad_domain = Short.Example.Org\n";
        assert_eq!(
            sssd_ad_domains(text),
            vec![
                "corp.example.com".to_string(),
                "short.example.org".to_string()
            ]
        );
    }

    #[test]
    fn base_from_the_root_dse() {
        let ad = RootDse {
            naming_contexts: vec![
                "DC=corp,DC=example".into(),
                "CN=Configuration,DC=corp,DC=example".into(),
            ],
            default_naming_context: Some("DC=corp,DC=example".into()),
            flavor: Some(LdapFlavor::ActiveDirectory),
        };
        assert_eq!(ad.base().as_deref(), Some("DC=corp,DC=example"));
        let openldap = RootDse {
            naming_contexts: vec!["dc=example,dc=com".into(), "cn=config".into()],
            ..RootDse::default()
        };
        assert_eq!(openldap.base().as_deref(), Some("dc=example,dc=com"));
        let two = RootDse {
            naming_contexts: vec!["dc=a".into(), "dc=b".into()],
            ..RootDse::default()
        };
        assert_eq!(two.base(), None);
    }

    #[test]
    fn urls_of_domain_controllers() {
        let srv = |port| Srv {
            priority: 0,
            weight: 0,
            port,
            target: "dc1.corp.example".into(),
        };
        assert_eq!(
            url_of(&srv(389)).unwrap().as_str(),
            "ldap://dc1.corp.example"
        );
        assert_eq!(
            url_of(&srv(3890)).unwrap().as_str(),
            "ldap://dc1.corp.example:3890"
        );
    }
}
