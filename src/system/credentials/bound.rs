//! Each kept secret is bound to the identity endpoint that accepted it, so a change of endpoint
//! (a new configuration, a policy, a pasted file) never sends it anywhere else.
//!
//! The binding travels inside the stored secret, as a small envelope:
//! `signin-assistant/1\n<endpoint identity>\n<secret>`. The identity is inside the encrypted
//! value, so it is as private as the secret and changes with it in one write; entry attributes
//! would do neither portably (the Secret Service has free attributes, the Credential Manager
//! and the Keychain only a few fixed fields). A value without the envelope was stored by an
//! older version that did not record where it was accepted: it counts as bound to no endpoint
//! (see [`Kept::Elsewhere`]), so it is forgotten rather than sent.

use std::fmt;

use zeroize::Zeroizing;

use super::Secret;

/// The first line of every bound value; a version, so the format can change later.
const HEADER: &str = "signin-assistant/1\n";

/// Where a secret was accepted: for Entra ID the token URL's origin and the tenant, for LDAP the
/// scheme, host and port. Computed by the provider from the configuration; compared, never
/// parsed. Not secret, but not logged either.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointIdentity(String);

impl EndpointIdentity {
    /// The identity described by `text` (e.g. `ldap ldaps://dc.example.com:636`); line breaks
    /// and other control characters are replaced, so it stays one line of the envelope.
    pub fn new(text: impl AsRef<str>) -> EndpointIdentity {
        let text = text.as_ref();
        EndpointIdentity(
            text.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        )
    }
}

impl EndpointIdentity {
    /// The identity as it is stored (tests that keep a secret for an endpoint by hand).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EndpointIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointIdentity({:?})", self.0)
    }
}

/// What the keyring holds for an account, seen from one endpoint.
#[derive(Debug, PartialEq, Eq)]
pub enum Kept {
    /// Nothing is kept.
    Nothing,
    /// A secret this endpoint accepted.
    Here(Secret),
    /// A secret another endpoint accepted, or one kept by an older version without its
    /// endpoint: it must not be sent to this one. The secret itself is not handed out.
    Elsewhere,
}

impl Kept {
    /// The secret, when this endpoint accepted it.
    pub fn here(self) -> Option<Secret> {
        match self {
            Kept::Here(secret) => Some(secret),
            Kept::Nothing | Kept::Elsewhere => None,
        }
    }

    pub fn is_elsewhere(&self) -> bool {
        matches!(self, Kept::Elsewhere)
    }
}

/// The value to store: `secret` in its envelope, built in one buffer of the exact size (wiped
/// when dropped).
pub(super) fn seal(endpoint: &EndpointIdentity, secret: &Secret) -> Zeroizing<String> {
    let size = HEADER.len() + endpoint.0.len() + 1 + secret.expose().len();
    let mut value = Zeroizing::new(String::with_capacity(size));
    value.push_str(HEADER);
    value.push_str(&endpoint.0);
    value.push('\n');
    value.push_str(secret.expose());
    value
}

/// What a stored value means for `endpoint`; the value is wiped when this returns.
pub(super) fn open(stored: Zeroizing<String>, endpoint: &EndpointIdentity) -> Kept {
    let Some(rest) = stored.strip_prefix(HEADER) else {
        return Kept::Elsewhere;
    };
    match rest.split_once('\n') {
        Some((identity, secret)) if identity == endpoint.0 => Kept::Here(Secret::new(secret)),
        _ => Kept::Elsewhere,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> EndpointIdentity {
        EndpointIdentity::new("ldap ldaps://a.example:636")
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_endpoint() {
        let sealed = seal(&a(), &Secret::new("pw\nwith a line"));
        assert_eq!(sealed.len(), sealed.capacity());
        assert_eq!(
            open(sealed.clone(), &a()),
            Kept::Here(Secret::new("pw\nwith a line"))
        );
        let b = EndpointIdentity::new("ldap ldaps://b.example:636");
        assert_eq!(open(sealed, &b), Kept::Elsewhere);
    }

    #[test]
    fn a_value_of_an_older_version_is_bound_to_no_endpoint() {
        assert_eq!(open(Zeroizing::new("pw".into()), &a()), Kept::Elsewhere);
        assert_eq!(open(Zeroizing::new(String::new()), &a()), Kept::Elsewhere);
    }

    #[test]
    fn an_identity_stays_on_one_line() {
        let sneaky = EndpointIdentity::new("ldap ldaps://a.example:636\nsecret");
        let sealed = seal(&sneaky, &Secret::new("pw"));
        assert_eq!(sealed.lines().count(), 3);
        assert_eq!(open(sealed, &sneaky), Kept::Here(Secret::new("pw")));
    }
}
