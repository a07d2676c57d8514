//! HTTP plumbing shared by the web providers: one client with timeouts, the rule for
//! throttling (429/503 honour `Retry-After`, bounded, so a check never hangs for long, and
//! jittered by [`schedule::retry_after_wait`], so clients throttled together do not come back
//! together), and the
//! buffers that carry secrets (a form with the password, a bearer token, an answer with tokens),
//! each built in one allocation of the right size that is wiped when the last reference goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, Response, StatusCode};
use zeroize::Zeroizing;

use crate::providers::ProviderError;
use crate::rules::schedule;
use crate::system::credentials::Secret;

/// How many times one request is sent when the endpoint throttles.
const MAX_ATTEMPTS: u32 = 3;
/// Wait used when a throttling answer has no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// An HTTP client with a per-request timeout and a bound on `Retry-After` waits; it notes how
/// far this computer's clock is from the endpoint's (the `Date` of the last answer).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_retry_after: Duration,
    clock_offset_secs: Arc<Mutex<Option<i64>>>,
}

/// Makes ring rustls' crypto for this process: reqwest builds its TLS on the process's default
/// provider and panics without one. Call before building a `reqwest::Client`; calling again
/// does nothing.
pub fn install_tls_crypto() {
    // Err: one is installed already (by an earlier call).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpClient {
    pub fn new(timeout: Duration, max_retry_after: Duration) -> Result<HttpClient, ProviderError> {
        install_tls_crypto();
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
            clock_offset_secs: Arc::default(),
        })
    }

    /// How far this computer's clock was ahead of the endpoint's at the last answer that said
    /// its time (negative: behind).
    pub fn clock_offset_secs(&self) -> Option<i64> {
        *self
            .clock_offset_secs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn note_endpoint_time(&self, response: &Response) {
        let theirs = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
        if let Some(theirs) = theirs {
            // Their time is truncated to the second: half a second is the better guess.
            let offset = chrono::Utc::now() - theirs.with_timezone(&chrono::Utc);
            let secs = (offset.num_milliseconds() - 500) / 1000;
            *self
                .clock_offset_secs
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(secs);
        }
    }

    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request built by `build`, retrying after throttling answers within the bound,
    /// each retry at a random moment from the `Retry-After` to half as long again.
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
            self.note_endpoint_time(&response);
            let status = response.status();
            if !is_throttling(status) {
                return Ok(response);
            }
            let asked = retry_after(&response).unwrap_or(DEFAULT_RETRY_AFTER);
            let Some(wait) = retry_within(attempt, asked, self.max_retry_after, fastrand::f64())
            else {
                tracing::warn!(
                    endpoint,
                    status = status.as_u16(),
                    wait_secs = asked.as_secs(),
                    "throttled; giving up for now"
                );
                return Err(ProviderError::Throttled {
                    endpoint: endpoint.to_string(),
                    status: status.as_u16(),
                    retry_after: asked,
                });
            };
            tracing::info!(
                endpoint,
                status = status.as_u16(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
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
            let detail = crate::rules::untrusted::clean_or(
                &error_chain(&e.without_url()),
                "the connection failed",
            );
            ProviderError::Unreachable {
                endpoint: endpoint.to_string(),
                detail,
            }
        }
    }
}

/// After a throttling answer to attempt number `attempt` that asked to wait `asked`: how long
/// to wait before the next attempt, drawn by `roll` (in `0.0..1.0`) from `asked` to half as
/// long again; or none, when this was the last attempt or the wait asked is longer than a
/// check waits by itself (`max_retry_after`): the check then ends as throttled, and the
/// schedule waits at least as long as asked.
fn retry_within(
    attempt: u32,
    asked: Duration,
    max_retry_after: Duration,
    roll: f64,
) -> Option<Duration> {
    (attempt < MAX_ATTEMPTS && asked <= max_retry_after)
        .then(|| schedule::retry_after_wait(asked, roll))
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

/// An error and its sources in one line, without repeats.
pub fn error_chain(e: &dyn std::error::Error) -> String {
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

/// An `application/x-www-form-urlencoded` body built in one buffer of exactly its size (no
/// reallocation leaves a copy of the password behind), shared without copying by every retry
/// and wiped when the request is done with it. What hyper and rustls copy while sending is
/// theirs: see SECURITY.md.
pub fn form_body(pairs: &[(&str, &str)]) -> Bytes {
    let len: usize = pairs
        .iter()
        .map(|(k, v)| encoded_len(k) + 1 + encoded_len(v))
        .sum::<usize>()
        + pairs.len().saturating_sub(1);
    let mut body = Zeroizing::new(Vec::with_capacity(len));
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        encode_into(key, &mut body);
        body.push(b'=');
        encode_into(value, &mut body);
    }
    debug_assert_eq!(body.len(), len);
    debug_assert_eq!(body.capacity(), len);
    Bytes::from_owner(body)
}

/// Bytes left as they are by form encoding (the WHATWG urlencoded serializer's set).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_')
}

fn encoded_len(text: &str) -> usize {
    text.bytes()
        .map(|b| if is_unreserved(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

fn encode_into(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if is_unreserved(b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// `Authorization: Bearer <token>` built in a wiped buffer and marked sensitive (kept out of
/// HTTP/2 header compression tables and `Debug` output).
pub fn bearer(token: &Secret) -> Result<HeaderValue, ProviderError> {
    let token = token.expose().as_bytes();
    let mut value = Zeroizing::new(Vec::with_capacity(7 + token.len()));
    value.extend_from_slice(b"Bearer ");
    value.extend_from_slice(token);
    let mut header = HeaderValue::from_maybe_shared(Bytes::from_owner(value)).map_err(|_| {
        ProviderError::Protocol {
            endpoint: "the token endpoint".into(),
            detail: "the access token is not valid in an HTTP header".into(),
        }
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// An answer body being read: grows by moving into a new buffer twice the size and wiping the
/// old one, so a token in it never stays behind in freed memory; wiped when dropped.
pub struct WipedBody {
    bytes: Zeroizing<Vec<u8>>,
}

impl WipedBody {
    /// Room for `expected` bytes (the announced Content-Length, bounded by the caller).
    pub fn with_capacity(expected: usize) -> WipedBody {
        WipedBody {
            bytes: Zeroizing::new(Vec::with_capacity(expected.max(1024))),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn extend(&mut self, chunk: &[u8]) {
        let needed = self.bytes.len() + chunk.len();
        if needed > self.bytes.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                needed.max(self.bytes.capacity().saturating_mul(2)),
            ));
            bigger.extend_from_slice(&self.bytes);
            // The old buffer is wiped as it is dropped here.
            self.bytes = bigger;
        }
        let before = self.bytes.as_ptr();
        self.bytes.extend_from_slice(chunk);
        debug_assert_eq!(before, self.bytes.as_ptr(), "grew without wiping");
    }
}

/// Why an answer's body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {}", bytes_in_words(*limit))]
    TooLarge { limit: usize },
    #[error("timed out while reading the answer")]
    TimedOut,
    #[error("the answer was cut off")]
    CutOff,
}

/// Reads the whole body of `response`, at most `limit` bytes, into a buffer that is wiped when
/// dropped. An answer that announces more, or sends more, is not read further.
pub async fn read_bounded(mut response: Response, limit: usize) -> Result<WipedBody, BodyError> {
    let too_large = BodyError::TooLarge { limit };
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large);
    }
    let mut body = WipedBody::with_capacity(announced as usize);
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                BodyError::TimedOut
            } else {
                BodyError::CutOff
            }
        })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.as_slice().len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend(&chunk);
    }
}

/// A size in bytes as people write it: "1 MiB", "64 KiB", "500 bytes".
fn bytes_in_words(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_body_matches_the_standard_encoding_in_one_exact_buffer() {
        let pairs = [
            ("grant_type", "password"),
            ("scope", "User.Read offline_access"),
            ("username", "adele+1@contoso.com"),
            ("password", "p@ss w&rd=%é~!*'()\n"),
        ];
        let body = form_body(&pairs);
        let expected = serde_urlencoded::to_string(pairs).unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
        assert_eq!(&*form_body(&[]), b"");
        assert_eq!(&*form_body(&[("a", "")]), b"a=");
    }

    #[test]
    fn a_body_grows_without_leaving_copies_behind() {
        let mut body = WipedBody::with_capacity(0);
        let chunk = [7u8; 1000];
        for _ in 0..100 {
            // extend() asserts (debug) that Vec itself never reallocated.
            body.extend(&chunk);
        }
        assert_eq!(body.as_slice().len(), 100_000);
        assert!(body.as_slice().iter().all(|b| *b == 7));
    }

    #[test]
    fn a_throttled_request_is_retried_no_sooner_than_asked_and_at_most_half_as_long_again() {
        let max = Duration::from_secs(30);
        let ms = Duration::from_millis;
        // (attempt, asked, roll, expected wait before the next attempt)
        let cases = [
            (1, ms(10_000), 0.0, Some(ms(10_000))),
            (1, ms(10_000), 0.5, Some(ms(12_500))),
            (1, ms(10_000), 1.0, Some(ms(15_000))),
            (2, ms(30_000), 1.0, Some(ms(45_000))),
            // Out-of-range rolls stay inside the window.
            (1, ms(2_000), -3.0, Some(ms(2_000))),
            (1, ms(2_000), f64::NAN, Some(ms(2_000))),
            (1, ms(2_000), 7.0, Some(ms(3_000))),
            // "Retry-After: 0" (or a date gone by): at once.
            (1, ms(0), 1.0, Some(ms(0))),
            // The third attempt was the last.
            (3, ms(1_000), 0.0, None),
            // Asked for longer than a check waits by itself: the schedule's business.
            (1, ms(30_001), 0.0, None),
            (1, Duration::MAX, 0.0, None),
        ];
        for (attempt, asked, roll, expected) in cases {
            assert_eq!(
                retry_within(attempt, asked, max, roll),
                expected,
                "attempt {attempt}, asked {asked:?}, roll {roll}"
            );
        }
    }

    #[test]
    fn throttled_retries_spread_evenly_over_their_window() {
        let mut rng = fastrand::Rng::with_seed(25);
        let asked = Duration::from_secs(20);
        let mut fifths = [0u32; 5];
        for _ in 0..10_000 {
            let wait = retry_within(1, asked, Duration::from_secs(30), rng.f64()).unwrap();
            assert!(wait >= asked && wait <= asked.mul_f64(1.5), "{wait:?}");
            // Which fifth of the 10 s window.
            let slot = ((wait - asked).as_secs_f64() / 2.0) as usize;
            fifths[slot.min(4)] += 1;
        }
        for n in fifths {
            assert!((1800..=2200).contains(&n), "{fifths:?}");
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes_in_words(1 << 20), "1 MiB");
        assert_eq!(bytes_in_words(64 * 1024), "64 KiB");
        assert_eq!(bytes_in_words(1000), "1000 bytes");
        assert_eq!(
            BodyError::TooLarge { limit: 1 << 20 }.to_string(),
            "the answer is larger than 1 MiB"
        );
    }

    #[test]
    fn bearer_header_is_sensitive() {
        let header = bearer(&Secret::new("eyJ0.eyJ1.sig")).unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "Bearer eyJ0.eyJ1.sig");
        assert!(bearer(&Secret::new("bad\ntoken")).is_err());
    }
}
