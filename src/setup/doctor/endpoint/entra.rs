//! Entra ID's endpoint checks: DNS, TCP, TLS, then a GET on the token endpoint, which a real
//! one answers with an OAuth2 error ("only POST"), after checking the tenant. Its answer is read
//! up to a bound: a page larger than an error answer is reported as too large, not read on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::{clock, reach, CONNECTION, STEP_LIMIT};
use crate::providers::http::{error_chain, read_bounded, BodyError};
use crate::setup::doctor::Item;
use crate::system::config::Config;

const TOKEN: &str = "token endpoint";
/// A token endpoint's error answer is small; a page bigger than this is not one.
const MAX_BODY: usize = 64 * 1024;

/// Entra ID: DNS, TCP, TLS, then a GET on the token endpoint, which a real one answers with
/// an OAuth2 error ("only POST") — after checking the tenant, which is what is wanted here.
pub(super) async fn checks(config: &Config, url: Url) -> Vec<Item> {
    let timeout = Duration::from_secs(config.entra.timeout_secs).min(STEP_LIMIT);
    let mut items = Vec::new();
    if !reach(&url, url.port_or_known_default(), timeout, &mut items).await {
        return items;
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let started = Utc::now();
    let answer = get(&url, timeout).await;
    let ours = started + (Utc::now() - started) / 2;
    match answer {
        Err(e) => items.push(connection_failed(&url, &host, e)),
        Ok(answer) => {
            items.push(if url.scheme() == "https" {
                Item::ok(
                    CONNECTION,
                    format!("TLS with {host}: its certificate is trusted"),
                )
            } else {
                Item::ok(
                    CONNECTION,
                    format!("plain http to {host}, a loopback address (a test endpoint)"),
                )
            });
            items.push(token_answer(config, &answer));
            items.push(clock(answer.date, ours, &host));
        }
    }
    items
}

/// What the token endpoint answered.
struct Answer {
    status: u16,
    date: Option<DateTime<Utc>>,
    /// The JSON of the body (`Null` when it is not JSON), or why the body was not read whole.
    body: Result<serde_json::Value, BodyError>,
}

async fn get(url: &Url, timeout: Duration) -> Result<Answer, reqwest::Error> {
    crate::providers::install_tls_crypto();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("signin-assistant/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let response = client.get(url.clone()).send().await?;
    let status = response.status().as_u16();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|d| d.with_timezone(&Utc));
    let body = read_bounded(response, MAX_BODY)
        .await
        .map(|bytes| serde_json::from_slice(bytes.as_slice()).unwrap_or_default());
    Ok(Answer { status, date, body })
}

fn connection_failed(url: &Url, host: &str, e: reqwest::Error) -> Item {
    let (timed_out, connecting) = (e.is_timeout(), e.is_connect());
    let detail = error_chain(&e.without_url());
    if timed_out {
        return Item::problem(
            CONNECTION,
            format!("{host} did not answer in time ({detail})"),
            "check the network; a proxy may be needed (HTTPS_PROXY)",
        );
    }
    if url.scheme() == "https" && connecting {
        return Item::problem(
            CONNECTION,
            format!("the TLS connection to {host} failed: {detail}"),
            "if a proxy or firewall inspects TLS, its certificate authority must be in the system's store (on Debian: copy it to /usr/local/share/ca-certificates and run update-ca-certificates)",
        );
    }
    Item::problem(
        CONNECTION,
        format!("the request to {host} failed: {detail}"),
        "check the network, and [entra] authority in the configuration",
    )
}

fn token_answer(config: &Config, answer: &Answer) -> Item {
    let body = match &answer.body {
        Ok(body) => body,
        Err(e) => {
            return Item::problem(
                TOKEN,
                format!(
                    "HTTP {}, not the answer of an OAuth2 token endpoint: {e}",
                    answer.status
                ),
                check_authority(config),
            )
        }
    };
    let codes: Vec<u64> = body["error_codes"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_u64()).collect())
        .unwrap_or_default();
    if codes.contains(&90002) {
        return Item::problem(
            TOKEN,
            format!(
                "the endpoint does not know the tenant `{}` (AADSTS90002)",
                config.entra.tenant.as_deref().unwrap_or_default()
            ),
            format!(
                "set your tenant id or verified domain in [entra] tenant ({})",
                config.origin("entra.tenant")
            ),
        );
    }
    if body["error"].is_string() {
        return Item::ok(
            TOKEN,
            format!(
                "answers like an OAuth2 token endpoint (HTTP {} to a look without credentials, as expected)",
                answer.status
            ),
        );
    }
    Item::problem(
        TOKEN,
        format!(
            "HTTP {}, not the answer of an OAuth2 token endpoint",
            answer.status
        ),
        check_authority(config),
    )
}

/// What to check when the endpoint does not answer like a token endpoint.
fn check_authority(config: &Config) -> String {
    format!(
        "check [entra] authority ({}) and tenant ({})",
        config.origin("entra.authority"),
        config.origin("entra.tenant")
    )
}
