//! Interactive sign-in to Entra ID: the system browser (authorization code + PKCE) or a device
//! code, for tenants where the password grant cannot work (MFA, passwordless, federation).
//!
//! [`sign_in_interactively`] is the one entry point for every front end (the `sign-in` command,
//! the tray's "Sign in…", `demo --browser`): it runs the provider's [`InteractiveSignIn`] flow, checks which
//! account signed in against the one expected, and keeps the refresh token (never a password) in
//! the keyring through [`account::keep_refresh_token_only`]. What the person must see (the
//! browser failing to open, the device code) goes through the front end's [`Interaction`]. The
//! device code's page is offered as a click only when it is one a click may open
//! ([`portal::is_device_page`]); else the person is told to open the address by hand.

use std::time::Duration;

use url::Url;

use crate::providers::capabilities::{
    DeviceCodePrompt, InteractiveError, InteractiveSignIn, IssuedTokens,
};
use crate::providers::{IdentityProvider, ProviderError};
use crate::rules::expiry::{Balloon, Finding, Urgency};
use crate::screen::balloon::{self, Notifier};
use crate::screen::desktop::Desktop;
use crate::system::config::{Config, SignInMethod};
use crate::system::credentials::{CredentialCache, EndpointIdentity, KeyringError};
use crate::system::portal;
use crate::system::state::BalloonOutcome;
use crate::work::account;

/// The interactive sign-in methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractiveMethod {
    /// The system browser (RFC 8252).
    Browser,
    /// A code entered on another device (RFC 8628).
    DeviceCode,
}

impl InteractiveMethod {
    /// The method for `sign-in` with these flags: a flag wins over `[entra] sign_in`;
    /// `--password-stdin` (or the password method, or an LDAP provider) means the password
    /// grant (`None`). An interactive flag with an LDAP provider is a usage error.
    pub fn choose(
        config: &Config,
        browser: bool,
        device_code: bool,
        password: bool,
    ) -> Result<Option<InteractiveMethod>, String> {
        let provider = crate::providers::registration(config.provider.kind);
        let password_only = provider.sign_in.is_none();
        if password_only && (browser || device_code) {
            return Err(format!("--browser and --device-code sign in to Entra ID; with [provider] kind = \"{}\" sign in with the password", provider.name));
        }
        Ok(match (browser, device_code, password) {
            (true, _, _) => Some(InteractiveMethod::Browser),
            (_, true, _) => Some(InteractiveMethod::DeviceCode),
            (_, _, true) => None,
            _ if password_only => None,
            _ => InteractiveMethod::configured(config),
        })
    }

    /// The method `[entra] sign_in` names; `None` for the password grant (and for LDAP).
    pub fn configured(config: &Config) -> Option<InteractiveMethod> {
        let sign_in = crate::providers::registration(config.provider.kind).sign_in?;
        match sign_in(config) {
            SignInMethod::Browser => Some(InteractiveMethod::Browser),
            SignInMethod::DeviceCode => Some(InteractiveMethod::DeviceCode),
            SignInMethod::Password => None,
        }
    }
}

/// Which account the sign-in is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountHint<'a> {
    /// `--user` or `[account] username`: whoever signs in must be this account
    /// (case-insensitive); also pre-fills the sign-in page.
    pub required: Option<&'a str>,
    /// Pre-fills the sign-in page when nothing is required (e.g. the last account signed in).
    pub hint: Option<&'a str>,
}

/// What a front end shows the person during an interactive sign-in.
pub trait Interaction: Send + Sync {
    /// The browser is about to be opened at the sign-in page; it waits up to `timeout`.
    fn browser_opening(&self, timeout: Duration);
    /// The browser could not be opened: the person opens `url` by hand.
    fn open_by_hand(&self, url: &str);
    /// The device code sign-in: where to go and which code to enter; `page`, the address to
    /// open with a click, when it is one a click may open.
    fn device_code(&self, prompt: &DeviceCodePrompt, page: Option<&Url>);
}

/// Why an interactive sign-in did not sign anyone in. Messages are plain words without secrets.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the browser and device code sign-ins are for Entra ID; with [provider] kind = \"ldap\" sign in with the password")]
    NotEntra,
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Interactive(#[from] InteractiveError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("you signed in as {signed_in}, but signin-assistant is set up for {expected}; nothing was kept. Sign in as {expected}, or choose the account with `signin-assistant sign-in --user NAME`")]
    WrongAccount { expected: String, signed_in: String },
    #[error("Entra ID signed you in but gave no refresh token (offline_access was not granted), so later checks could not run; nothing was kept. Ask your IT desk to allow the offline_access permission for the app")]
    NoRefreshToken,
    /// Signed in and the refresh token is kept, but the deadline could not be learned now.
    #[error("signed in as {account} (the refresh token is kept), but {source}")]
    AcceptedWithoutFacts {
        account: String,
        source: Box<ProviderError>,
    },
}

/// Signs in with the browser or a device code and keeps the refresh token only. Returns the
/// account that signed in (the ID token's `preferred_username`) and what the endpoint says about
/// its password. Nothing is kept unless the sign-in succeeded for the expected account.
pub async fn sign_in_interactively<P: IdentityProvider>(
    config: &Config,
    provider: &P,
    cache: &CredentialCache,
    method: InteractiveMethod,
    account: AccountHint<'_>,
    ui: &dyn Interaction,
) -> Result<(String, Finding), SignInError> {
    let Some(interactive) = provider.interactive_sign_in() else {
        return Err(SignInError::NotEntra);
    };
    // Fail before the person does anything if the keyring cannot keep the result.
    account::probe(cache).await?;
    let hint = account.required.or(account.hint);
    let issued = match method {
        InteractiveMethod::Browser => {
            let timeout = Duration::from_secs(config.entra.browser_timeout_secs);
            with_browser(interactive, hint, timeout, ui).await?
        }
        InteractiveMethod::DeviceCode => {
            let flow = interactive.start_device_code().await?;
            let page = device_page(config, flow.prompt());
            ui.device_code(flow.prompt(), page.as_ref());
            flow.finish().await?
        }
    };
    let signed_in = issued.account().to_string();
    if let Some(expected) = account.required {
        if !expected.trim().eq_ignore_ascii_case(&signed_in) {
            return Err(SignInError::WrongAccount {
                expected: expected.trim().to_string(),
                signed_in,
            });
        }
    }
    keep(interactive, cache, provider.endpoint(), issued).await
}

/// The device code's page, when a click may open it ([`portal::is_device_page`]).
fn device_page(config: &Config, prompt: &DeviceCodePrompt) -> Option<Url> {
    Url::parse(&prompt.verification_uri)
        .ok()
        .filter(|url| portal::is_device_page(config, url))
}

/// The browser sign-in: the listener first, then the browser, then the wait.
async fn with_browser(
    interactive: &dyn InteractiveSignIn,
    hint: Option<&str>,
    timeout: Duration,
    ui: &dyn Interaction,
) -> Result<IssuedTokens, InteractiveError> {
    let attempt = interactive.start_browser(hint).await?;
    ui.browser_opening(timeout);
    if let Err(e) = open_in_browser(attempt.url()).await {
        tracing::warn!(error = %e, "could not open the browser");
        ui.open_by_hand(attempt.url().as_str());
    }
    attempt.finish(timeout).await
}

/// Learns the facts and keeps the refresh token (and no password).
async fn keep(
    interactive: &dyn InteractiveSignIn,
    cache: &CredentialCache,
    endpoint: EndpointIdentity,
    issued: IssuedTokens,
) -> Result<(String, Finding), SignInError> {
    let account = issued.account().to_string();
    let attempt = match interactive.accept(issued).await {
        Ok(attempt) => attempt,
        Err(ProviderError::AcceptedWithoutFacts {
            refresh_token,
            source,
        }) => {
            let token = refresh_token.ok_or(SignInError::NoRefreshToken)?;
            account::keep_refresh_token_only(cache, &account, endpoint, &token).await?;
            return Err(SignInError::AcceptedWithoutFacts { account, source });
        }
        Err(e) => return Err(e.into()),
    };
    let token = attempt.refresh_token.ok_or(SignInError::NoRefreshToken)?;
    account::keep_refresh_token_only(cache, &account, endpoint, &token).await?;
    Ok((account, attempt.finding))
}

/// Opens `url` in the person's browser (`$BROWSER` is honoured). The browser command may run as
/// long as the browser does: a failure to start it is reported, a browser still running after a
/// few seconds counts as opened.
pub async fn open_in_browser(url: &Url) -> std::io::Result<()> {
    let url = url.to_string();
    let opening = tokio::task::spawn_blocking(move || webbrowser::open(&url));
    match tokio::time::timeout(Duration::from_secs(5), opening).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
        Err(_) => Ok(()),
    }
}

/// The command line's [`Interaction`]: words on stderr, and the device code also as a balloon
/// when a desktop is there (a click on it opens the sign-in page).
pub struct Console {
    pub notifier: Option<Notifier>,
}

impl Console {
    /// Balloons when a desktop session is there, with the configured balloon timeout.
    pub fn new(config: &Config) -> Console {
        Console {
            notifier: balloon::desktop_present().then(|| Notifier {
                timeout: Duration::from_secs(config.policy.balloon_timeout_secs.max(60)),
                critical_stays: false,
            }),
        }
    }
}

impl Interaction for Console {
    fn browser_opening(&self, timeout: Duration) {
        eprintln!(
            "Opening your browser to sign in; waiting up to {} for it…",
            crate::rules::expiry::duration_in_words(timeout.as_secs())
        );
    }

    fn open_by_hand(&self, url: &str) {
        eprintln!("The browser did not open. Open this address in a browser on this computer to sign in:\n{url}");
    }

    fn device_code(&self, prompt: &DeviceCodePrompt, page: Option<&Url>) {
        eprintln!("{}", device_code_text(prompt, page));
        if let Some(notifier) = &self.notifier {
            spawn_device_code_balloon(notifier.clone(), prompt, page.cloned());
        }
    }
}

/// The agent's [`Interaction`] (the tray's "Sign in…"): balloons through its [`Desktop`], since
/// there is no terminal. A click on the device code balloon opens the sign-in page.
pub struct DesktopInteraction<D>(pub D);

impl<D: Desktop + Clone> Interaction for DesktopInteraction<D> {
    fn browser_opening(&self, _timeout: Duration) {}

    fn open_by_hand(&self, url: &str) {
        let balloon = Balloon {
            title: "Open the sign-in page".into(),
            body: "The browser did not open by itself. Click here to try again.".into(),
            urgency: Urgency::Normal,
        };
        spawn_desktop_balloon(self.0.clone(), balloon, openable(url));
    }

    fn device_code(&self, prompt: &DeviceCodePrompt, page: Option<&Url>) {
        let balloon = device_code_balloon(prompt, page);
        spawn_desktop_balloon(self.0.clone(), balloon, page.cloned());
    }
}

fn spawn_desktop_balloon<D: Desktop>(desktop: D, balloon: Balloon, link: Option<Url>) {
    let link = link.map(|url| url.to_string());
    tokio::spawn(async move {
        let outcome = desktop.show(&balloon, link.as_deref(), || {}).await;
        if let (Ok(BalloonOutcome::Clicked), Some(link)) = (outcome, link) {
            desktop.open_page(&link);
        }
    });
}

/// The device code balloon of the command line: Entra's message; a click opens the verification
/// page when it is one a click may open.
fn spawn_device_code_balloon(notifier: Notifier, prompt: &DeviceCodePrompt, page: Option<Url>) {
    let balloon = device_code_balloon(prompt, page.as_ref());
    let shown = page.as_ref().map_or_else(String::new, Url::to_string);
    let action = if page.is_some() {
        "Open sign-in page"
    } else {
        "OK"
    };
    tokio::spawn(async move {
        let outcome = notifier
            .show_with_action(&balloon, action, &shown, || {})
            .await;
        if let (Ok(BalloonOutcome::Clicked), Some(url)) = (outcome, page) {
            if let Err(e) = open_in_browser(&url).await {
                tracing::warn!(error = %e, "could not open the browser");
            }
        }
    });
}

fn device_code_balloon(prompt: &DeviceCodePrompt, page: Option<&Url>) -> Balloon {
    Balloon {
        title: format!("Sign in with the code {}", prompt.user_code),
        body: device_code_text(prompt, page),
        urgency: Urgency::Normal,
    }
}

/// The device code instructions (the endpoint's words, cleaned by the provider), with a warning
/// when the address is not one a click may open.
fn device_code_text(prompt: &DeviceCodePrompt, page: Option<&Url>) -> String {
    match page {
        Some(_) => prompt.message.clone(),
        None => format!(
            "{} signin-assistant does not open {} for you: it is not one of Microsoft's device sign-in pages or a page your administrator allowed. Open it by hand only if you trust it.",
            prompt.message, prompt.verification_uri
        ),
    }
}

/// The browser sign-in's address (built from the configured authority) when a balloon may open
/// it: a web address, or plain HTTP on this computer (the emulator).
fn openable(link: &str) -> Option<Url> {
    Url::parse(link)
        .ok()
        .filter(|url| url.scheme() == "https" || crate::system::config::is_loopback(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::ProviderKind;

    fn config(kind: ProviderKind, method: SignInMethod) -> Config {
        let mut config = Config::default();
        config.provider.kind = kind;
        config.entra.sign_in = method;
        config
    }

    fn prompt(uri: &str) -> DeviceCodePrompt {
        DeviceCodePrompt {
            message: format!("To sign in, open the page {uri} and enter the code ABCD."),
            verification_uri: uri.into(),
            user_code: "ABCD".into(),
            expires_in: Duration::from_secs(900),
        }
    }

    /// The device code balloon of the agent, clicked: the pages opened.
    async fn clicked(uri: &str) -> Vec<String> {
        let desktop = crate::testing::desktop::FakeDesktop {
            outcome: Some(BalloonOutcome::Clicked),
            ..Default::default()
        };
        let prompt = prompt(uri);
        let page = device_page(&Config::default(), &prompt);
        DesktopInteraction(desktop.clone()).device_code(&prompt, page.as_ref());
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(desktop.titles(), ["Sign in with the code ABCD"]);
        desktop.opened()
    }

    #[tokio::test]
    async fn a_click_opens_microsofts_device_page_and_no_other() {
        let microsoft = "https://microsoft.com/devicelogin";
        assert_eq!(clicked(microsoft).await, [microsoft]);
        assert!(clicked("https://evil.example/devicelogin").await.is_empty());
    }

    #[test]
    fn a_page_not_opened_is_said_in_words() {
        let evil = prompt("https://evil.example/devicelogin");
        let text = device_code_balloon(&evil, None).body;
        assert!(text.starts_with(&evil.message), "{text}");
        assert!(
            text.contains(
                "signin-assistant does not open https://evil.example/devicelogin for you"
            ),
            "{text}"
        );
        let microsoft = prompt("https://microsoft.com/devicelogin");
        let page = device_page(&Config::default(), &microsoft);
        assert_eq!(
            device_code_balloon(&microsoft, page.as_ref()).body,
            microsoft.message
        );
    }

    #[test]
    fn flags_win_over_the_configured_method() {
        use InteractiveMethod::*;
        let entra = config(ProviderKind::Entra, SignInMethod::Browser);
        assert_eq!(
            InteractiveMethod::choose(&entra, false, false, false),
            Ok(Some(Browser))
        );
        assert_eq!(
            InteractiveMethod::choose(&entra, false, true, false),
            Ok(Some(DeviceCode))
        );
        assert_eq!(
            InteractiveMethod::choose(&entra, false, false, true),
            Ok(None)
        );
        let device = config(ProviderKind::Entra, SignInMethod::DeviceCode);
        assert_eq!(
            InteractiveMethod::choose(&device, false, false, false),
            Ok(Some(DeviceCode))
        );
        assert_eq!(
            InteractiveMethod::choose(&device, true, false, false),
            Ok(Some(Browser))
        );
        let password = config(ProviderKind::Entra, SignInMethod::Password);
        assert_eq!(
            InteractiveMethod::choose(&password, false, false, false),
            Ok(None)
        );
        let ldap = config(ProviderKind::Ldap, SignInMethod::Browser);
        assert_eq!(
            InteractiveMethod::choose(&ldap, false, false, false),
            Ok(None)
        );
        assert!(InteractiveMethod::choose(&ldap, true, false, false).is_err());
        assert!(InteractiveMethod::choose(&ldap, false, true, false).is_err());
    }
}
