//! The device code sign-in (RFC 8628), for SSH sessions and machines without a browser: the
//! person opens a web page on any device and enters a short code while this program polls the
//! token endpoint.
//!
//! [`EntraProvider::start_device_code`] asks `{authority}/{tenant}/oauth2/v2.0/devicecode` for
//! the codes and returns a [`DeviceCodeFlow`] whose [`DeviceCodePrompt`] the caller shows;
//! [`DeviceCodeFlow::finish`] polls at the given interval, honouring `authorization_pending`,
//! `slow_down` (5 s more), `authorization_declined` and `expired_token`. The device code itself
//! is a secret and stays inside this module.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::token::{self, TokenErrorBody, SCOPE};
use super::{parse_json, EntraProvider, InteractiveError, IssuedTokens};
use crate::system::credentials::Secret;

const DEVICECODE_ENDPOINT: &str = "the Entra device code endpoint";
/// Poll interval when the endpoint gives none (RFC 8628 3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Added to the interval on each `slow_down` (RFC 8628 3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// An interval longer than this is not waited for between two polls.
const LONGEST_INTERVAL: Duration = Duration::from_secs(60);

/// What the person is shown: Entra's own `message` (the URL and the code, in the tenant's
/// language), and its parts.
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
        let message = answer.message.unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
                answer.verification_uri, answer.user_code
            )
        });
        Ok(DeviceCodeFlow {
            provider: self,
            device_code: answer.device_code,
            interval,
            deadline: Instant::now() + expires_in,
            prompt: DeviceCodePrompt {
                message,
                verification_uri: answer.verification_uri,
                user_code: answer.user_code,
                expires_in,
            },
        })
    }
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
