//! The device code sign-in (RFC 8628), for SSH sessions and machines without a browser: the
//! person opens a web page on any device and enters a short code while this program polls the
//! token endpoint.
//!
//! [`EntraProvider::start_device_code`] asks `{authority}/{tenant}/oauth2/v2.0/devicecode` for
//! the codes and returns a [`DeviceCodeFlow`] whose [`DeviceCodePrompt`] the caller shows;
//! [`DeviceCodeFlow::finish`] polls at the given interval, honouring `authorization_pending`,
//! `slow_down` (5 s more), `authorization_declined` and `expired_token`. The device code itself
//! is a secret and stays inside this module. What the person is shown (the message, the user
//! code, the address) comes from the endpoint and is cleaned like all endpoint text
//! ([`crate::rules::untrusted`]): no escape sequence, link or control character of it reaches a
//! terminal or a balloon. Whether the address may be opened with a click is decided above
//! (`crate::system::portal::is_device_page`).

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::token::{self, TokenErrorBody, SCOPE};
use super::{parse_json, EntraProvider, InteractiveError, IssuedTokens};
use crate::rules::untrusted::clean;
use crate::system::credentials::Secret;

const DEVICECODE_ENDPOINT: &str = "the Entra device code endpoint";
/// Poll interval when the endpoint gives none (RFC 8628 3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Added to the interval on each `slow_down` (RFC 8628 3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// An interval longer than this is not waited for between two polls.
const LONGEST_INTERVAL: Duration = Duration::from_secs(60);
/// How many characters of the endpoint's message are shown (Entra's are under 200, in any
/// language).
const MAX_MESSAGE_CHARS: usize = 400;
/// How many characters of a user code are shown (Entra's have 9).
const MAX_USER_CODE_CHARS: usize = 32;
/// How many characters of the verification address are shown.
const MAX_URI_CHARS: usize = 300;

/// What the person is shown: Entra's own `message` (the URL and the code, in the tenant's
/// language), and its parts; all cleaned of escape sequences and control characters.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    pub message: String,
    pub verification_uri: String,
    pub user_code: String,
    pub expires_in: Duration,
}

/// The device authorization response (RFC 8628 3.2, with Entra's `message`).
#[derive(Deserialize)]
struct DeviceAuthorization {
    device_code: Secret,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// A device code sign-in waiting for the person.
pub struct DeviceCodeFlow<'a> {
    provider: &'a EntraProvider,
    device_code: Secret,
    interval: Duration,
    deadline: Instant,
    prompt: DeviceCodePrompt,
}

impl EntraProvider {
    /// Asks for a device code and a user code.
    pub async fn start_device_code(&self) -> Result<DeviceCodeFlow<'_>, InteractiveError> {
        let url = self
            .oauth_base
            .join("devicecode")
            .map_err(|e| InteractiveError::Provider(super::unexpected(&e.to_string())))?;
        let form = [("client_id", self.client_id.as_str()), ("scope", SCOPE)];
        let (status, body) = self.post_form(DEVICECODE_ENDPOINT, url, &form).await?;
        if !status.is_success() {
            let error = super::parse_error_body(DEVICECODE_ENDPOINT, status, body.as_slice())?;
            return Err(refusal(&error));
        }
        let answer: DeviceAuthorization = parse_json(DEVICECODE_ENDPOINT, body.as_slice())?;
        let expires_in = Duration::from_secs(answer.expires_in.min(3600));
        let interval = match answer.interval {
            Some(0) | None => DEFAULT_INTERVAL,
            Some(secs) => Duration::from_secs(secs).min(LONGEST_INTERVAL),
        };
        let prompt = prompt(&answer, expires_in)?;
        Ok(DeviceCodeFlow {
            provider: self,
            device_code: answer.device_code,
            interval,
            deadline: Instant::now() + expires_in,
            prompt,
        })
    }
}

/// What the person is shown, cleaned; Entra's words when it sent a message, else ours.
fn prompt(
    answer: &DeviceAuthorization,
    expires_in: Duration,
) -> Result<DeviceCodePrompt, InteractiveError> {
    let user_code = clean(&answer.user_code, MAX_USER_CODE_CHARS);
    let verification_uri = clean(&answer.verification_uri, MAX_URI_CHARS);
    if user_code.is_empty() || verification_uri.is_empty() {
        return Err(InteractiveError::Provider(super::unexpected(
            "the device code endpoint gave no user code or no address to enter it at",
        )));
    }
    let message = answer
        .message
        .as_deref()
        .map(|message| clean(message, MAX_MESSAGE_CHARS))
        .filter(|message| !message.is_empty())
        .unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
            )
        });
    Ok(DeviceCodePrompt {
        message,
        verification_uri,
        user_code,
        expires_in,
    })
}

impl DeviceCodeFlow<'_> {
    /// What to show the person.
    pub fn prompt(&self) -> &DeviceCodePrompt {
        &self.prompt
    }

    /// Polls until the person approves or declines, or the code expires.
    pub async fn finish(mut self) -> Result<IssuedTokens, InteractiveError> {
        let provider = self.provider;
        loop {
            if Instant::now() + self.interval > self.deadline {
                return Err(expired());
            }
            tokio::time::sleep(self.interval).await;
            let form = token::device_code_form(&provider.client_id, &self.device_code);
            let error = match provider.post_token_form(&form).await? {
                Ok(tokens) => return provider.issued(tokens),
                Err(error) => error,
            };
            match error.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => {
                    self.interval = (self.interval + SLOW_DOWN_STEP).min(LONGEST_INTERVAL);
                    tracing::info!(
                        interval_secs = self.interval.as_secs(),
                        "the endpoint asked to poll more slowly"
                    );
                }
                "authorization_declined" | "access_denied" => {
                    return Err(InteractiveError::Refused(
                        "the sign-in was declined on the device login page; nothing was kept"
                            .into(),
                    ))
                }
                "expired_token" | "code_expired" => return Err(expired()),
                _ => return Err(refusal(&error)),
            }
        }
    }
}

fn expired() -> InteractiveError {
    InteractiveError::TimedOut(
        "the code expired before the sign-in was approved; run the sign-in again and enter the new code"
            .into(),
    )
}

/// A refusal of the device code endpoints, in words: a registration without public client flows
/// gets its own explanation.
fn refusal(error: &TokenErrorBody) -> InteractiveError {
    if error.error_codes.contains(&7000218) || error.error == "invalid_client" {
        return InteractiveError::Refused(format!(
            "the app registration does not allow the device code sign-in (AADSTS{}): an admin must turn on \"Allow public client flows\" in its Authentication settings, or use the browser sign-in",
            error.error_codes.first().copied().unwrap_or(7000218)
        ));
    }
    if error.error == "bad_verification_code" {
        return InteractiveError::Refused(
            "the endpoint did not recognise the device code; run the sign-in again".into(),
        );
    }
    InteractiveError::from_failure(token::classify(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(message: Option<&str>, user_code: &str, uri: &str) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: Secret::new("device-code"),
            user_code: user_code.into(),
            verification_uri: uri.into(),
            expires_in: 900,
            interval: None,
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn what_the_person_is_shown_is_cleaned_of_escapes_and_controls() {
        let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mTo sign in, open \
             \u{1b}]8;;https://evil.example\u{1b}\\https://microsoft.com/devicelogin\u{1b}]8;;\u{1b}\\ \
             \u{9b}31m and enter <a href=\"https://evil.example\">ABCD</a>\r\nFAKE\u{202e}";
        let shown = prompt(
            &answer(
                Some(hostile),
                "AB\u{1b}[8mCD\u{85}",
                "https://microsoft.com/devicelogin\u{1b}[2J",
            ),
            Duration::from_secs(900),
        )
        .unwrap();
        for text in [&shown.message, &shown.user_code, &shown.verification_uri] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
            assert!(!text.contains('\u{202e}'), "{text:?}");
        }
        assert_eq!(
            shown.message,
            "To sign in, open https://microsoft.com/devicelogin 31m and enter \
             <a href=\"https://evil.example\">ABCD</a> FAKE"
        );
        assert_eq!(shown.user_code, "ABCD");
        assert_eq!(shown.verification_uri, "https://microsoft.com/devicelogin");
    }

    #[test]
    fn a_long_message_is_cut_and_a_missing_one_is_written_from_the_parts() {
        let long = "x".repeat(100_000);
        let shown = prompt(
            &answer(Some(&long), "ABCD", "https://microsoft.com/devicelogin"),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(shown.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        for message in [None, Some("\u{1b}[2J\u{7}")] {
            let shown = prompt(
                &answer(message, "ABCD", "https://microsoft.com/devicelogin"),
                Duration::ZERO,
            )
            .unwrap();
            assert_eq!(
                shown.message,
                "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD to authenticate."
            );
        }
        assert!(prompt(
            &answer(None, "\u{1b}[2J", "https://microsoft.com/devicelogin"),
            Duration::ZERO
        )
        .is_err());
    }
}
