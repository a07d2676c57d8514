//! HTTP plumbing shared by the web providers: one client with timeouts, and the rule for
//! throttling (429/503 honour `Retry-After`, bounded, so a check never hangs for long).

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use crate::provider::ProviderError;

/// How many times one request is sent when the endpoint throttles.
const MAX_ATTEMPTS: u32 = 3;
/// Wait used when a throttling answer has no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// An HTTP client with a per-request timeout and a bound on `Retry-After` waits.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_retry_after: Duration,
}

impl HttpClient {
    pub fn new(timeout: Duration, max_retry_after: Duration) -> Result<HttpClient, ProviderError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Credentials are posted: never follow a redirect to another place.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("signin-assistant/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Protocol {
                endpoint: "HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(HttpClient {
            client,
            timeout,
            max_retry_after,
        })
    }

    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request built by `build`, retrying after throttling answers within the bound.
    /// `endpoint` names the endpoint in errors (never the full URL with its query).
    pub async fn send(
        &self,
        endpoint: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let mut attempt = 1;
        loop {
            let response = build()
                .send()
                .await
                .map_err(|e| self.transport_error(endpoint, e))?;
            let status = response.status();
            if !is_throttling(status) {
                return Ok(response);
            }
            let wait = retry_after(&response).unwrap_or(DEFAULT_RETRY_AFTER);
            if attempt >= MAX_ATTEMPTS || wait > self.max_retry_after {
                tracing::warn!(
                    endpoint,
                    status = status.as_u16(),
                    wait_secs = wait.as_secs(),
                    "throttled; giving up for now"
                );
                return Err(ProviderError::Throttled {
                    endpoint: endpoint.to_string(),
                    status: status.as_u16(),
                });
            }
            tracing::info!(
                endpoint,
                status = status.as_u16(),
                wait_secs = wait.as_secs(),
                "throttled; waiting as asked"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn transport_error(&self, endpoint: &str, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Timeout {
                endpoint: endpoint.to_string(),
                secs: self.timeout.as_secs(),
            }
        } else {
            // reqwest errors carry the URL; strip it so no query (or anything else) leaks.
            let detail =
                crate::untrusted::clean_or(&error_chain(&e.without_url()), "the connection failed");
            ProviderError::Unreachable {
                endpoint: endpoint.to_string(),
                detail,
            }
        }
    }
}

fn is_throttling(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
