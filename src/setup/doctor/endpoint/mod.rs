//! The identity endpoint, step by step, so the line that fails says where it breaks: the name
//! (DNS), the connection (TCP, then TLS with a trusted certificate), and what the endpoint
//! answers without a password: each provider's checks in its own file ([`entra`], [`ldap`]).
//! Last, the computer's clock against the endpoint's. Tokens and Kerberos-era directories
//! refuse clocks more than a few minutes off.

mod entra;
mod ldap;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::{Host, Url};

use super::Item;
use crate::providers::Provider;
use crate::rules::expiry::{duration_in_words, CLOCK_TOLERANCE_SECS};
use crate::system::config::Config;

const NAME: &str = "endpoint name";
const CONNECTION: &str = "endpoint connection";
const CLOCK: &str = "clock";
/// The longest one step (name, connection, answer) may take, so that the doctor answers soon
/// even when the configured timeouts are long.
const STEP_LIMIT: Duration = Duration::from_secs(10);

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
        Ok(Provider::Entra(entra)) => entra::checks(config, entra.token_url().clone()).await,
        Ok(Provider::Ldap(_)) => ldap::checks(config).await,
    }
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
}
