//! LDAP's endpoint checks: DNS, then a connection (TLS or StartTLS as configured) without a
//! bind, so no password is involved and no failed login is counted, then the server's clock
//! when it tells it (Active Directory's rootDSE `currentTime`); with `auth = "kerberos"`, the
//! Kerberos library and the person's ticket.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{clock, reach, CONNECTION, STEP_LIMIT};
use crate::providers::ldap::connect::{read_root_dse, Endpoint};
use crate::providers::ldap::kerberos;
use crate::setup::doctor::Item;
use crate::system::config::{Config, LdapAuth};

/// LDAP: DNS, then a connection (TLS or StartTLS as configured) without a bind, then the
/// server's clock when it tells it (Active Directory's rootDSE `currentTime`).
pub(super) async fn checks(config: &Config) -> Vec<Item> {
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
    if config.ldap.auth == LdapAuth::Kerberos {
        items.push(ticket());
    }
    if !reach(&url, Some(port), timeout, &mut items).await {
        return items;
    }
    let tls = match (url.scheme(), endpoint.starttls) {
        ("ldaps", _) => "over TLS, its certificate trusted, ",
        (_, true) => "with StartTLS, its certificate trusted, ",
        _ if config.ldap.auth == LdapAuth::Kerberos => {
            "without TLS (the Kerberos bind will seal it), "
        }
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

/// Whether this computer has Kerberos and the person a valid ticket (the cache's default).
fn ticket() -> Item {
    const KERBEROS: &str = "kerberos";
    let ticket = kerberos::system().and_then(|k| k.ticket(None));
    match ticket {
        Ok(ticket) => Item::ok(
            KERBEROS,
            format!(
                "a Kerberos ticket for {}, valid for {} more minutes",
                ticket.principal,
                ticket.lifetime_secs / 60
            ),
        ),
        Err(e @ kerberos::KerberosError::Unavailable(_)) => Item::problem(
            KERBEROS,
            e.to_string(),
            "install the Kerberos library, or set [ldap] auth = \"password\"",
        ),
        Err(e) => Item::problem(
            KERBEROS,
            e.to_string(),
            "log in to this computer again, or get a ticket with `kinit`",
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn generalized_time_of_active_directory() {
        assert_eq!(
            generalized_time("20261125100507.0Z"),
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 10, 5, 7).unwrap())
        );
        assert_eq!(generalized_time("garbage"), None);
    }
}
