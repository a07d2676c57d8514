//! Active Directory and OpenLDAP over LDAP (simple bind with the ppolicy request control).

use crate::config::Config;
use crate::credentials::Secret;
use crate::provider::{Attempt, ProviderError};

pub struct LdapProvider {}

impl LdapProvider {
    pub fn new(_config: &Config) -> Result<LdapProvider, ProviderError> {
        Err(ProviderError::Protocol {
            endpoint: "ldap".into(),
            detail: "the LDAP provider is not built yet".into(),
        })
    }

    pub async fn authenticate(
        &self,
        _username: &str,
        _password: &Secret,
    ) -> Result<Attempt, ProviderError> {
        unreachable!("LdapProvider::new never succeeds yet")
    }
}
