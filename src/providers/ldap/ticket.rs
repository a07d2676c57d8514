//! Checking with the person's Kerberos ticket (`[ldap] auth = "kerberos"`): the ticket of the
//! account (its principal), a SASL GSSAPI bind with it to `ldap/HOST@REALM` (done by the relay,
//! [`super::relay`]), then the same read of the user's entry and policy as after a password bind.
//! No password is asked, sent or kept, and Kerberos proves the server's identity too.
//!
//! A missing or expired ticket, or a computer without a Kerberos library, is a reason to sign in
//! ([`SignInReason::NoTicket`], [`SignInReason::NoKerberos`]); a server the KDC does not know is
//! an error that names the service principal it asked for.

use ldap3::ldap_escape;

use super::kerberos::{self, service_principal, KerberosError, Ticket};
use super::relay::{OpenError, TicketBind};
use super::{kpasswd, Connection, Inner, LdapProvider};
use crate::providers::{Attempt, ProviderError};
use crate::rules::expiry::{Finding, SignInReason};
use crate::system::config::{LdapAuth, LdapFlavor};

impl LdapProvider {
    /// Whether this directory is asked with the person's ticket.
    pub fn uses_ticket(&self) -> bool {
        self.inner.auth == LdapAuth::Kerberos
    }

    /// The principal of the ticket cache's default ticket, when it is valid.
    pub fn ticket_account(&self) -> Option<String> {
        let ticket = kerberos::system().and_then(|k| k.ticket(None));
        match ticket {
            Ok(ticket) => Some(ticket.principal),
            Err(e) => {
                tracing::info!(error = %e, "no account from a Kerberos ticket");
                None
            }
        }
    }

    /// One check of `account` with its Kerberos ticket.
    pub async fn check_with_ticket(&self, account: &str) -> Result<Attempt, ProviderError> {
        let inner = self.inner.clone();
        let account = account.to_string();
        self.contained(async move { inner.attempt_with_ticket(&account).await })
            .await
    }
}

impl Inner {
    async fn attempt_with_ticket(&self, account: &str) -> Result<Attempt, ProviderError> {
        let kerberos = match kerberos::system() {
            Ok(kerberos) => kerberos,
            Err(e) => return self.without_ticket(e),
        };
        let wanted = self.principal_of(account);
        // The ticket cache may be a socket (KCM) or the kernel keyring: off the async threads.
        let ticket = tokio::task::spawn_blocking(move || kerberos.ticket(wanted.as_deref()))
            .await
            .map_err(|e| self.protocol(e.to_string()))?;
        let Ticket {
            principal,
            lifetime_secs,
        } = match ticket {
            Ok(ticket) => ticket,
            Err(e) => return self.without_ticket(e),
        };
        tracing::debug!(%principal, lifetime_secs, "checking with the Kerberos ticket");
        let bind = TicketBind {
            kerberos,
            principal: Some(principal.clone()),
            service: self.service(),
        };
        let (ldap, driver) = match self.endpoint.open_bound(Some(bind)).await {
            Ok(pair) => pair,
            Err(OpenError::Kerberos(e)) => return self.without_ticket(e),
            Err(e) => return Err(self.endpoint.open_error(e)),
        };
        let mut session = Connection { ldap, driver };
        let flavor = self.flavor_in_use(&mut session).await;
        let facts = self
            .read_facts(&mut session, &principal, &principal, flavor)
            .await;
        let _ = tokio::time::timeout(self.timeout(), session.ldap.unbind()).await;
        Ok(Attempt {
            finding: Finding::Facts(facts?),
            password_accepted: false,
            refresh_token: None,
        })
    }

    /// A Kerberos failure: a reason to sign in when the ticket is missing, else an error.
    fn without_ticket(&self, e: KerberosError) -> Result<Attempt, ProviderError> {
        tracing::info!(error = %e, "the Kerberos ticket cannot be used");
        match e {
            KerberosError::NoTicket(_) | KerberosError::Expired(_) => {
                Ok(Attempt::refused(SignInReason::NoTicket))
            }
            KerberosError::Unavailable(_) => Ok(Attempt::refused(SignInReason::NoKerberos)),
            other => Err(self.endpoint.open_error(OpenError::Kerberos(other))),
        }
    }

    /// The directory's service principal: `ldap/` and the URL's host, in the realm.
    fn service(&self) -> String {
        let host = self.endpoint.url.host_str().unwrap_or_default();
        service_principal(host, self.kerberos.realm.as_deref())
    }

    /// The principal whose ticket checks `account`: `None` (the cache's default) for no account;
    /// a principal as it is; else the account's name at the realm (`alice@example.com`, a UPN,
    /// is `alice@EXAMPLE.TEST` when that is the realm), or at its own suffix in capitals.
    fn principal_of(&self, account: &str) -> Option<String> {
        principal_of(account, self.kerberos.realm.as_deref())
    }

    /// The filter that finds the entry of `principal`: its UPN, or its MIT principal attribute
    /// (OpenLDAP with the MIT schema, FreeIPA), and in Active Directory its sAMAccountName when the principal is of the directory's own realm
    /// (how the KDC itself names accounts).
    pub(super) fn principal_filter(&self, principal: &str) -> String {
        let (name, realm) = principal.rsplit_once('@').unwrap_or((principal, ""));
        let own_realm = self.kerberos.realm.as_deref() == Some(realm);
        principal_filter(principal, name, own_realm, self.flavor)
    }
}

fn principal_of(account: &str, realm: Option<&str>) -> Option<String> {
    let account = account.trim();
    if account.is_empty() {
        return None;
    }
    let suffix = account.rsplit_once('@').map(|(_, s)| s);
    match (suffix, realm) {
        (Some(s), _) if !s.is_empty() && s == s.to_ascii_uppercase() => Some(account.to_string()),
        (_, Some(realm)) => kpasswd::principal(account, realm).ok(),
        (Some(s), None) => kpasswd::principal(account, &s.to_ascii_uppercase()).ok(),
        (None, None) => None,
    }
}

fn principal_filter(principal: &str, name: &str, own_realm: bool, flavor: LdapFlavor) -> String {
    let principal = ldap_escape(principal);
    let mut terms = Vec::new();
    if matches!(flavor, LdapFlavor::ActiveDirectory | LdapFlavor::Auto) {
        terms.push(format!("(userPrincipalName={principal})"));
        if own_realm {
            terms.push(format!("(sAMAccountName={})", ldap_escape(name)));
        }
    }
    if flavor != LdapFlavor::ActiveDirectory {
        terms.push(format!("(krbPrincipalName={principal})"));
    }
    match terms.as_slice() {
        [one] => one.clone(),
        _ => format!("(|{})", terms.concat()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_become_principals() {
        let realm = Some("EXAMPLE.TEST");
        assert_eq!(principal_of("", realm), None);
        assert_eq!(principal_of("alice", None), None);
        assert_eq!(
            principal_of("alice@EXAMPLE.TEST", None).as_deref(),
            Some("alice@EXAMPLE.TEST")
        );
        assert_eq!(
            principal_of("alice@example.com", realm).as_deref(),
            Some("alice@EXAMPLE.TEST")
        );
        assert_eq!(
            principal_of("EXAMPLE\\alice", realm).as_deref(),
            Some("alice@EXAMPLE.TEST")
        );
        assert_eq!(
            principal_of("alice@example.com", None).as_deref(),
            Some("alice@EXAMPLE.COM")
        );
        assert_eq!(principal_of("a b@example.com", realm), None);
    }

    #[test]
    fn entries_are_found_by_principal() {
        assert_eq!(
            principal_filter(
                "alice@EXAMPLE.TEST",
                "alice",
                true,
                LdapFlavor::ActiveDirectory
            ),
            "(|(userPrincipalName=alice@EXAMPLE.TEST)(sAMAccountName=alice))"
        );
        assert_eq!(
            principal_filter("bob@OTHER.TEST", "bob", false, LdapFlavor::ActiveDirectory),
            "(userPrincipalName=bob@OTHER.TEST)"
        );
        assert_eq!(
            principal_filter("a*)(x@R", "a*)(x", false, LdapFlavor::Openldap),
            "(krbPrincipalName=a\\2a\\29\\28x@R)"
        );
        assert_eq!(
            principal_filter("alice@EXAMPLE.TEST", "alice", true, LdapFlavor::Ds389),
            "(krbPrincipalName=alice@EXAMPLE.TEST)"
        );
        assert_eq!(
            principal_filter("alice@EXAMPLE.TEST", "alice", true, LdapFlavor::Auto),
            "(|(userPrincipalName=alice@EXAMPLE.TEST)(sAMAccountName=alice)\
             (krbPrincipalName=alice@EXAMPLE.TEST))"
        );
    }
}
