//! The identity endpoint, step by step, so the line that fails says where it breaks: the name
//! (DNS), the connection (TCP, then TLS with a trusted certificate), and whether the token
//! endpoint answers like one (Entra) or the directory server accepts a connection (LDAP; no
//! bind, so no password is involved and no failed login is counted). Last, the computer's clock
//! against the endpoint's: the HTTP `Date` header, or Active Directory's `currentTime`. Tokens
//! and Kerberos-era directories refuse clocks more than a few minutes off.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use url::{Host, Url};

use super::Item;
use crate::providers::http::error_chain;
use crate::providers::ldap::connect::{read_root_dse, Endpoint};
use crate::providers::Provider;
use crate::rules::expiry::{duration_in_words, CLOCK_TOLERANCE_SECS};
use crate::system::config::Config;

const NAME: &str = "endpoint name";
const CONNECTION: &str = "endpoint connection";
const TOKEN: &str = "token endpoint";
const CLOCK: &str = "clock";
/// The longest one step (name, connection, answer) may take, so that the doctor answers soon
/// even when the configured timeouts are long.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// A token endpoint's error answer is small; a page bigger than this is not one.
const MAX_BODY: usize = 64 * 1024;

pub async fn check(config: Option<&Config>) -> Vec<Item> {
    let Some(config) = config else {
        return vec![Item::warning(
            "endpoint",
            "not checked: the configuration has an error",
            "correct the configuration first",
        )];
    };
    match Provider::from_config(config) {
        Err(e) => vec![Item::problem(
            "endpoint",
            e.to_string(),
            "set it in the configuration (`signin-assistant config show` lists every value)",
        )],
        Ok(Provider::Entra(entra)) => entra_checks(config, entra.token_url().clone()).await,
        Ok(Provider::Ldap(_)) => ldap(config).await,
    }
}

/// Entra ID: DNS, TCP, TLS, then a GET on the token endpoint, which a real one answers with
/// an OAuth2 error ("only POST") — after checking the tenant, which is what is wanted here.
async fn entra_checks(config: &Config, url: Url) -> Vec<Item> {
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
    body: serde_json::Value,
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
    let bytes = response.bytes().await?;
    let body = if bytes.len() <= MAX_BODY {
        serde_json::from_slice(&bytes).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
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
    let codes: Vec<u64> = answer.body["error_codes"]
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
    if answer.body["error"].is_string() {
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
        format!(
            "check [entra] authority ({}) and tenant ({})",
            config.origin("entra.authority"),
            config.origin("entra.tenant")
        ),
    )
}

/// LDAP: DNS, then a connection (TLS or StartTLS as configured) without a bind, then the
/// server's clock when it tells it (Active Directory's rootDSE `currentTime`).
async fn ldap(config: &Config) -> Vec<Item> {
    let endpoint = match Endpoint::from_config(config) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            return vec![Item::problem(
                "endpoint",
                e.to_string(),
                "correct [ldap] in the configuration",
            )]
        }
    };
    let url = endpoint.url.clone();
    let timeout = endpoint.timeout.min(STEP_LIMIT);
    let port = url
        .port()
        .unwrap_or(if url.scheme() == "ldaps" { 636 } else { 389 });
    let mut items = Vec::new();
    if !reach(&url, Some(port), timeout, &mut items).await {
        return items;
    }
    let tls = match (url.scheme(), endpoint.starttls) {
        ("ldaps", _) => "over TLS, its certificate trusted, ",
        (_, true) => "with StartTLS, its certificate trusted, ",
        _ => "without encryption (loopback or allow_insecure), ",
    };
    let (mut ldap, driver) = match endpoint.open().await {
        Ok(pair) => pair,
        Err(e) => {
            items.push(Item::problem(
                CONNECTION,
                e.to_string(),
                format!(
                    "check [ldap] url ({}) and, for a private certificate authority, ca_file",
                    config.origin("ldap.url")
                ),
            ));
            return items;
        }
    };
    items.push(Item::ok(
        CONNECTION,
        format!(
            "{} accepts a connection {tls}without signing in",
            endpoint.name()
        ),
    ));
    let ours = Utc::now();
    let theirs = server_time(&mut ldap, timeout).await;
    let _ = ldap.unbind().await;
    driver.abort();
    items.push(clock(theirs, ours, url.host_str().unwrap_or_default()));
    items
}

/// The server's `currentTime` from the rootDSE, read without a bind.
async fn server_time(ldap: &mut ldap3::Ldap, timeout: Duration) -> Option<DateTime<Utc>> {
    let entry = read_root_dse(ldap, timeout, vec!["currentTime"])
        .await
        .ok()??;
    let text = entry.attrs.get("currentTime")?.first()?.clone();
    generalized_time(&text)
}

/// LDAP GeneralizedTime in UTC, e.g. `20261125100000.0Z`.
fn generalized_time(text: &str) -> Option<DateTime<Utc>> {
    let digits = text.get(..14)?;
    NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The name, then a TCP connection: an item for the name, one more when the connection fails;
/// returns whether both work.
async fn reach(url: &Url, port: Option<u16>, timeout: Duration, items: &mut Vec<Item>) -> bool {
    let port = port.unwrap_or(443);
    let host = url.host_str().unwrap_or_default();
    let addresses = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        _ => match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(e)) => {
                items.push(dns_failed(host, &e.to_string()));
                return false;
            }
            Err(_) => {
                items.push(dns_failed(host, "no answer in time"));
                return false;
            }
        },
    };
    items.push(match url.host() {
        Some(Host::Domain(_)) => Item::ok(
            NAME,
            format!("{host} resolves ({} address(es))", addresses.len()),
        ),
        _ => Item::ok(NAME, format!("{host} is an address: nothing to look up")),
    });
    let connect = async {
        for address in &addresses {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(());
            }
        }
        Err(())
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(())) => true,
        _ => {
            items.push(Item::problem(
                CONNECTION,
                format!("nothing accepts connections at {host} port {port}"),
                "check the network (VPN?) and the endpoint's address in the configuration",
            ));
            false
        }
    }
}

fn dns_failed(host: &str, detail: &str) -> Item {
    Item::problem(
        NAME,
        format!("{host} does not resolve ({detail})"),
        "check the network connection (and VPN), then the endpoint's address in the configuration",
    )
}

/// The computer's clock against the endpoint's (`theirs`, truncated to the second).
fn clock(theirs: Option<DateTime<Utc>>, ours: DateTime<Utc>, host: &str) -> Item {
    let Some(theirs) = theirs else {
        return Item::ok(CLOCK, format!("not checked: {host} does not say its time"));
    };
    let offset = (ours - theirs).num_seconds();
    let direction = if offset > 0 { "ahead of" } else { "behind" };
    if offset.abs() <= 5 {
        return Item::ok(CLOCK, format!("within a few seconds of {host}'s"));
    }
    let words = format!(
        "{} {direction} {host}'s",
        duration_in_words(offset.unsigned_abs())
    );
    if offset.abs() <= CLOCK_TOLERANCE_SECS {
        Item::ok(CLOCK, words)
    } else {
        Item::warning(
            CLOCK,
            format!("{words}: sign-ins and checks may be refused, and days counted wrong"),
            "let the computer set its clock automatically (NTP), or correct it",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::doctor::Level;
    use chrono::TimeZone;

    #[test]
    fn clock_offsets_in_words() {
        let theirs = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let at = |secs: i64| clock(Some(theirs), theirs + chrono::Duration::seconds(secs), "h");
        assert_eq!(at(0).level, Level::Ok);
        assert_eq!(at(0).summary, "within a few seconds of h's");
        assert_eq!(at(-90).summary, "90 s behind h's");
        assert_eq!(at(300).level, Level::Ok);
        let off = at(7 * 60 + 3);
        assert_eq!(off.level, Level::Warning);
        assert!(off.summary.starts_with("7 minutes ahead of h's"), "{off:?}");
        // A second short of ten minutes (the request took a while) is still ten minutes.
        assert!(at(599).summary.starts_with("10 minutes ahead"));
        assert_eq!(
            at(-3 * 86400).summary.split(':').next(),
            Some("3 days behind h's")
        );
        assert_eq!(clock(None, theirs, "h").level, Level::Ok);
    }

    #[test]
    fn generalized_time_of_active_directory() {
        assert_eq!(
            generalized_time("20261125100507.0Z"),
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 10, 5, 7).unwrap())
        );
        assert_eq!(generalized_time("garbage"), None);
    }
}
