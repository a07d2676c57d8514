//! Which Entra ID tenant a work e-mail domain belongs to, from the domain's OpenID Connect
//! discovery document: `GET {authority}/{domain}/v2.0/.well-known/openid-configuration`
//! answers for every verified domain of a tenant, and its `issuer`
//! (`{authority}/{tenant id}/v2.0`) names the tenant. A domain no tenant has verified gets
//! HTTP 400 with AADSTS90002 ("tenant not found"). Nothing secret is sent or received.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::providers::http::HttpClient;
use crate::providers::ProviderError;
use crate::system::config::is_dns_name;

/// The tenant of personal Microsoft accounts (outlook.com, hotmail.com): it has no directory
/// password to watch.
pub const PERSONAL_ACCOUNTS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// A discovery document is a few kilobytes.
const MAX_BODY: usize = 256 * 1024;
const ENDPOINT: &str = "the Entra discovery document";

/// What the discovery document said about a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// A work or school tenant, by its directory (tenant) id.
    Tenant { id: String },
    /// The domain belongs to personal Microsoft accounts.
    PersonalAccounts,
    /// No Entra tenant has verified the domain.
    NoTenant,
}

/// The parts of the document used here (Microsoft's documented fields).
#[derive(Debug, Deserialize)]
struct Document {
    issuer: String,
    token_endpoint: String,
}

/// The error answer's codes (`error_codes: [90002]` for an unknown tenant).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

/// The discovery document's URL for `domain` under `authority`.
pub fn document_url(authority: &Url, domain: &str) -> Result<Url, String> {
    if !is_dns_name(domain) {
        return Err(format!("`{domain}` is not a domain name"));
    }
    let mut base = authority.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(&format!("{domain}/v2.0/.well-known/openid-configuration"))
        .map_err(|e| e.to_string())
}

/// Asks the discovery document of `domain` at `authority`.
pub async fn entra_tenant(
    authority: &Url,
    domain: &str,
    timeout: Duration,
) -> Result<Discovered, ProviderError> {
    let url = document_url(authority, domain).map_err(|detail| ProviderError::Protocol {
        endpoint: ENDPOINT.into(),
        detail,
    })?;
    let http = HttpClient::new(timeout, Duration::from_secs(5))?;
    let mut response = http
        .send(ENDPOINT, || http.inner().get(url.clone()))
        .await?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| protocol(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(protocol(
                "an answer far bigger than a discovery document".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        let document: Document = serde_json::from_slice(&body)
            .map_err(|e| protocol(format!("not a discovery document ({e})")))?;
        return read_document(&document);
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) if error.error_codes.contains(&90002) || error.error == "invalid_tenant" => {
            Ok(Discovered::NoTenant)
        }
        _ if status == reqwest::StatusCode::NOT_FOUND => Ok(Discovered::NoTenant),
        _ => Err(protocol(format!("HTTP {}", status.as_u16()))),
    }
}

/// The tenant id in `issuer` (`…/{tenant id}/v2.0`), which `token_endpoint` must name too.
fn read_document(document: &Document) -> Result<Discovered, ProviderError> {
    let issuer =
        Url::parse(&document.issuer).map_err(|_| protocol("its issuer is not a URL".into()))?;
    let segments: Vec<&str> = issuer
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let id = match segments.as_slice() {
        [.., id, "v2.0"] => id.to_ascii_lowercase(),
        _ => return Err(protocol("its issuer names no tenant".into())),
    };
    if crate::system::config::check_tenant(&id).is_err() || id.contains('.') {
        return Err(protocol("its issuer names no tenant id".into()));
    }
    if !document.token_endpoint.to_ascii_lowercase().contains(&id) {
        return Err(protocol(
            "its token endpoint belongs to another tenant than its issuer".into(),
        ));
    }
    if id == PERSONAL_ACCOUNTS_TENANT {
        return Ok(Discovered::PersonalAccounts);
    }
    Ok(Discovered::Tenant { id })
}

fn protocol(detail: String) -> ProviderError {
    ProviderError::Protocol {
        endpoint: ENDPOINT.into(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str, token: &str) -> Document {
        Document {
            issuer: issuer.into(),
            token_endpoint: token.into(),
        }
    }

    #[test]
    fn the_tenant_comes_from_the_issuer() {
        let id = "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59";
        let found = read_document(&doc(
            &format!("https://login.microsoftonline.com/{id}/v2.0"),
            &format!("https://login.microsoftonline.com/{id}/oauth2/v2.0/token"),
        ))
        .unwrap();
        assert_eq!(found, Discovered::Tenant { id: id.into() });
        let personal = read_document(&doc(
            &format!("https://login.microsoftonline.com/{PERSONAL_ACCOUNTS_TENANT}/v2.0"),
            &format!(
                "https://login.microsoftonline.com/{PERSONAL_ACCOUNTS_TENANT}/oauth2/v2.0/token"
            ),
        ))
        .unwrap();
        assert_eq!(personal, Discovered::PersonalAccounts);
    }

    #[test]
    fn documents_that_do_not_agree_are_refused() {
        let id = "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59";
        for (issuer, token) in [
            (
                format!("https://login.microsoftonline.com/{id}/v2.0"),
                "https://login.microsoftonline.com/other/oauth2/v2.0/token".to_string(),
            ),
            (
                "https://login.microsoftonline.com/evil.example/v2.0".into(),
                "https://login.microsoftonline.com/evil.example/oauth2/v2.0/token".into(),
            ),
            ("not a url".into(), String::new()),
            ("https://sts.windows.net/".into(), String::new()),
        ] {
            assert!(read_document(&doc(&issuer, &token)).is_err(), "{issuer}");
        }
    }

    #[test]
    fn the_url_keeps_the_authority_path() {
        let url = document_url(&Url::parse("http://127.0.0.1:8080").unwrap(), "contoso.com");
        assert_eq!(
            url.unwrap().as_str(),
            "http://127.0.0.1:8080/contoso.com/v2.0/.well-known/openid-configuration"
        );
        let url = document_url(
            &Url::parse("https://example.com/base").unwrap(),
            "a.example",
        );
        assert_eq!(
            url.unwrap().as_str(),
            "https://example.com/base/a.example/v2.0/.well-known/openid-configuration"
        );
        assert!(document_url(&Url::parse("https://x.example").unwrap(), "../x").is_err());
    }
}
