//! The change-password portal: which URL a click opens, and opening it in the browser.
//!
//! The configured `[portal] url` is the default. An endpoint may name its own change-password page
//! (the `pwd_url` claim, `password_change_url` in an error); such a URL is used only when it is on
//! the allow-list: Microsoft's own password pages (exact host and path), the configured portal's
//! exact origin (scheme, host and port), and the pages an admin adds with `[portal] trusted`.
//! Whole domains are never trusted: anyone can publish a page under some of Microsoft's
//! (forms.office.com, sway.office.com), so a lying endpoint could send people to a phishing page.
//!
//! The device code sign-in's page (`verification_uri`) is chosen the same way: a click opens it
//! only when it is one of Microsoft's device sign-in pages ([`is_device_page`]), one an admin
//! added with `[portal] trusted`, or a page of the configured authority when that authority is on
//! this computer (the emulator, a test endpoint).

use url::Url;

use crate::system::config::{is_loopback, Config};

/// Microsoft's change-password and account pages: `https://` + host + path prefix. A path
/// prefix ending in `/` covers the pages below it; any other covers that page only.
pub const MICROSOFT_PASSWORD_PAGES: &[&str] = &[
    // Self-service password reset (the default portal).
    "https://passwordreset.microsoftonline.com/",
    // Named by Entra in `password_change_url` (AADSTS50055) and in the `pwd_url` claim.
    "https://portal.microsoftonline.com/ChangePassword.aspx",
    // The older change-password page of the Azure AD access panel.
    "https://account.activedirectory.windowsazure.com/ChangePassword.aspx",
    // My Sign-Ins: security info, where "Change password" lives today.
    "https://mysignins.microsoft.com/security-info/password/change",
    // My Account portal.
    "https://myaccount.microsoft.com/",
];

/// Microsoft's device code sign-in pages, where a person enters the code: `https://` + host +
/// path, each covering that page only. The short addresses Entra ID names in `verification_uri`
/// (worldwide, the US government clouds, the cloud operated by 21Vianet in China) and the pages
/// on the sign-in hosts they lead to.
pub const MICROSOFT_DEVICE_PAGES: &[&str] = &[
    "https://microsoft.com/devicelogin",
    "https://login.microsoft.com/device",
    "https://microsoft.com/deviceloginus",
    "https://microsoft.com/deviceloginchina",
    "https://login.microsoftonline.com/common/oauth2/deviceauth",
    "https://login.microsoftonline.us/common/oauth2/deviceauth",
    "https://login.chinacloudapi.cn/common/oauth2/deviceauth",
];

/// Whether a click may open `url` as the device code sign-in page: see the module header.
pub fn is_device_page(config: &Config, url: &Url) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    let authority = &config.entra.authority;
    if is_loopback(authority) && url.origin() == authority.origin() {
        return true;
    }
    MICROSOFT_DEVICE_PAGES
        .iter()
        .filter_map(|page| Url::parse(page).ok())
        .chain(config.portal.trusted.iter().cloned())
        .any(|page| covers(&page, url))
}

/// The endpoint's change-password URL when trusted, else the configured portal.
pub fn choose(config: &Config, offered: Option<&str>) -> String {
    offered
        .and_then(|candidate| Url::parse(candidate).ok())
        .filter(|url| is_trusted(config, url))
        .map(|url| url.to_string())
        .unwrap_or_else(|| config.portal.url.to_string())
}

/// Whether `url` is on the allow-list described in the module header.
pub fn is_trusted(config: &Config, url: &Url) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    if url.origin() == config.portal.url.origin() {
        return true;
    }
    let microsoft = MICROSOFT_PASSWORD_PAGES
        .iter()
        .filter_map(|page| Url::parse(page).ok());
    microsoft
        .chain(config.portal.trusted.iter().cloned())
        .any(|page| covers(&page, url))
}

/// Whether the allowed `page` covers `url`: same origin (so same scheme, host and port), and a
/// path equal to the page's, or below it when the page's path ends in `/`.
fn covers(page: &Url, url: &Url) -> bool {
    if url.origin() != page.origin() || !url.origin().is_tuple() {
        return false;
    }
    let (allowed, path) = (page.path(), url.path());
    if allowed.ends_with('/') {
        path.starts_with(allowed)
    } else {
        path == allowed
            || path
                .strip_prefix(allowed)
                .is_some_and(|rest| rest.starts_with('/'))
    }
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
    use std::path::Path;

    fn config(text: &str) -> Config {
        let mut config = Config::default();
        config.apply_text(Path::new("/etc/t.toml"), text).unwrap();
        config.validate().unwrap();
        config
    }

    #[test]
    fn microsofts_password_pages_replace_the_configured_portal() {
        let config = Config::default();
        for offered in [
            "https://portal.microsoftonline.com/ChangePassword.aspx",
            "https://portal.microsoftonline.com/ChangePassword.aspx?ru=x",
            "https://account.activedirectory.windowsazure.com/ChangePassword.aspx",
            "https://mysignins.microsoft.com/security-info/password/change",
            "https://myaccount.microsoft.com/",
            "https://myaccount.microsoft.com/?tenantId=4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59",
            "https://passwordreset.microsoftonline.com/?whr=contoso.com",
        ] {
            assert_eq!(choose(&config, Some(offered)), offered, "{offered}");
        }
    }

    #[test]
    fn anything_else_falls_back_to_the_configured_portal() {
        let config = Config::default();
        let default = config.portal.url.to_string();
        for offered in [
            // Pages anyone can create under Microsoft's domains.
            "https://forms.office.com/r/abc123",
            "https://sway.office.com/abc",
            "https://microsoft.com/",
            "https://www.microsoft.com/en-us/",
            // Look-alikes.
            "https://evilmicrosoft.com/ChangePassword.aspx",
            "https://microsoftonline.com.evil.example/",
            "https://portal.microsoftonline.com.evil.example/ChangePassword.aspx",
            "https://evil.example/portal.microsoftonline.com/ChangePassword.aspx",
            // Right host, other page, other port, other scheme, credentials in the URL.
            "https://portal.microsoftonline.com/",
            "https://portal.microsoftonline.com/ChangePassword.aspxEvil",
            "https://portal.microsoftonline.com/redirect?to=https://evil.example",
            "https://mysignins.microsoft.com/security-info/password/changed",
            "https://portal.microsoftonline.com:8443/ChangePassword.aspx",
            "http://portal.microsoftonline.com/ChangePassword.aspx",
            "https://user@portal.microsoftonline.com/ChangePassword.aspx",
            "http://127.0.0.1:9/change",
            "javascript:alert(1)",
            "data:text/html,<script>",
            "not a url",
        ] {
            assert_eq!(choose(&config, Some(offered)), default, "{offered}");
        }
        assert_eq!(choose(&config, None), default);
    }

    #[test]
    fn the_configured_portal_is_trusted_by_exact_origin() {
        let config = config("[portal]\nurl = \"https://sso.corp.example/pw\"\n");
        for same in [
            "https://sso.corp.example/pw",
            "https://sso.corp.example/other/page",
            "https://sso.corp.example:443/pw",
        ] {
            assert_eq!(
                choose(&config, Some(same)),
                Url::parse(same).unwrap().as_str()
            );
        }
        for other in [
            "https://sso.corp.example:8443/pw",
            "http://sso.corp.example/pw",
            "https://evil.sso.corp.example/pw",
            "https://corp.example/pw",
        ] {
            assert_eq!(
                choose(&config, Some(other)),
                "https://sso.corp.example/pw",
                "{other}"
            );
        }
        let loopback = config_with_loopback();
        assert_eq!(
            choose(&loopback, Some("http://127.0.0.1:8080/change")),
            "http://127.0.0.1:8080/change"
        );
        assert_eq!(
            choose(&loopback, Some("http://127.0.0.1:8081/change")),
            "http://127.0.0.1:8080/"
        );
    }

    fn config_with_loopback() -> Config {
        config("[portal]\nurl = \"http://127.0.0.1:8080/\"\n")
    }

    #[test]
    fn admins_extend_the_list_with_portal_trusted() {
        let config = config(
            "[portal]\ntrusted = [\"https://id.corp.example/password/\", \"https://adfs.corp.example/adfs/portal/updatepassword\"]\n",
        );
        for ok in [
            "https://id.corp.example/password/change",
            "https://adfs.corp.example/adfs/portal/updatepassword",
            "https://adfs.corp.example/adfs/portal/updatepassword/?x=1",
        ] {
            assert_eq!(
                choose(&config, Some(ok)),
                Url::parse(ok).unwrap().as_str(),
                "{ok}"
            );
        }
        let default = config.portal.url.to_string();
        for refused in [
            "https://id.corp.example/passwordx",
            "https://id.corp.example/",
            "https://id.corp.example:444/password/change",
            "https://adfs.corp.example/adfs/portal/updatepasswordx",
        ] {
            assert_eq!(choose(&config, Some(refused)), default, "{refused}");
        }
    }

    #[test]
    fn only_microsofts_device_pages_and_the_allowed_ones_may_be_opened() {
        let device_page =
            |config: &Config, url: &str| is_device_page(config, &Url::parse(url).unwrap());
        let config = config("[portal]\ntrusted = [\"https://id.corp.example/device\"]\n");
        for ok in [
            "https://microsoft.com/devicelogin",
            "https://login.microsoft.com/device",
            "https://login.microsoft.com/device?otc=ABCD",
            "https://microsoft.com/deviceloginus",
            "https://microsoft.com/deviceloginchina",
            "https://login.microsoftonline.com/common/oauth2/deviceauth",
            "https://login.microsoftonline.us/common/oauth2/deviceauth",
            "https://login.chinacloudapi.cn/common/oauth2/deviceauth",
            "https://id.corp.example/device",
        ] {
            assert!(device_page(&config, ok), "{ok}");
        }
        for refused in [
            "https://evil.example/devicelogin",
            "https://microsoft.com.evil.example/devicelogin",
            "https://microsoft.com/deviceloginx",
            "https://microsoft.com/",
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=x",
            "https://login.microsoftonline.com/",
            "http://microsoft.com/devicelogin",
            "https://microsoft.com:8443/devicelogin",
            "https://user@microsoft.com/devicelogin",
            "https://forms.office.com/r/abc123",
            "http://127.0.0.1:9/devicelogin",
            "javascript:alert(1)",
        ] {
            assert!(!device_page(&config, refused), "{refused}");
        }
    }

    #[test]
    fn a_device_page_on_this_computer_is_opened_only_from_the_authority_there() {
        let device_page =
            |config: &Config, url: &str| is_device_page(config, &Url::parse(url).unwrap());
        let emulator = config("[entra]\nauthority = \"http://127.0.0.1:8080/\"\n");
        assert!(device_page(&emulator, "http://127.0.0.1:8080/devicelogin"));
        assert!(!device_page(&emulator, "http://127.0.0.1:8081/devicelogin"));
        assert!(!device_page(&emulator, "https://evil.example/devicelogin"));
        let real = Config::default();
        assert!(!device_page(
            &real,
            "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize"
        ));
    }

    #[test]
    fn the_built_in_list_parses_as_https_urls() {
        for page in MICROSOFT_PASSWORD_PAGES
            .iter()
            .chain(MICROSOFT_DEVICE_PAGES)
        {
            let url = Url::parse(page).unwrap();
            assert_eq!(url.scheme(), "https", "{page}");
            assert_eq!(url.as_str(), *page, "{page} is written in its normal form");
        }
    }
}
