//! The change-password portal: which URL a click opens, and opening it in the browser.
//!
//! The configured `[portal] url` is the default. An endpoint may name its own change-password page
//! (the `pwd_url` claim, `password_change_url` in an error); such a URL is used only when it is on
//! a trusted host, so a lying endpoint cannot send people to a phishing page.

use url::Url;

use crate::config::{is_loopback, Config};

/// Microsoft's own sign-in and account domains (and their subdomains).
const TRUSTED_SUFFIXES: &[&str] = &[
    "microsoftonline.com",
    "microsoft.com",
    "windowsazure.com",
    "office.com",
    "microsoftonline.us",
    "microsoftonline.cn",
];

/// The endpoint's change-password URL when trusted, else the configured portal.
pub fn choose(config: &Config, offered: Option<&str>) -> String {
    offered
        .and_then(|candidate| Url::parse(candidate).ok())
        .filter(|url| is_trusted(config, url))
        .map(|url| url.to_string())
        .unwrap_or_else(|| config.portal.url.to_string())
}

fn is_trusted(config: &Config, url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if url.scheme() == "http" {
        // Only the loopback emulator speaks plain HTTP, and only when it is the configured authority.
        return is_loopback(url) && is_loopback(&config.entra.authority);
    }
    if url.scheme() != "https" {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let same_as_portal = config.portal.url.host_str() == Some(host.as_str());
    same_as_portal
        || TRUSTED_SUFFIXES
            .iter()
            .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")))
}

/// Opens `url` in the person's browser (`$BROWSER` is honoured). The browser command may run
/// until the browser closes, so it runs on a blocking thread of its own and nobody waits for it;
/// a failure is logged.
pub fn open(url: &str) {
    tracing::info!(url, "opening the change-password portal");
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = webbrowser::open(&url) {
            tracing::warn!(error = %e, url, "could not open the browser");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_hosts_replace_the_configured_portal() {
        let config = Config::default();
        let default = config.portal.url.to_string();
        let cases = [
            (
                Some("https://portal.microsoftonline.com/ChangePassword.aspx"),
                "https://portal.microsoftonline.com/ChangePassword.aspx",
            ),
            (
                Some("https://mysignins.microsoft.com/security-info"),
                "https://mysignins.microsoft.com/security-info",
            ),
            (
                Some("https://evil.example/microsoftonline.com"),
                default.as_str(),
            ),
            (
                Some("https://microsoftonline.com.evil.example/"),
                default.as_str(),
            ),
            (Some("http://portal.microsoftonline.com/"), default.as_str()),
            (Some("http://127.0.0.1:9/change"), default.as_str()),
            (Some("javascript:alert(1)"), default.as_str()),
            (None, default.as_str()),
        ];
        for (offered, expected) in cases {
            assert_eq!(choose(&config, offered), expected, "{offered:?}");
        }
    }
}
