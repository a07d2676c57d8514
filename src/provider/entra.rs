//! Microsoft Entra ID / Office 365: OAuth2 token endpoint (ROPC and refresh) + Microsoft Graph.

use crate::config::Config;
use crate::credentials::Secret;
use crate::provider::{Attempt, ProviderError, RefreshOutcome};

pub struct EntraProvider {}

impl EntraProvider {
    pub fn new(_config: &Config) -> Result<EntraProvider, ProviderError> {
        Ok(EntraProvider {})
    }

    pub async fn authenticate(
        &self,
        _username: &str,
        _password: &Secret,
    ) -> Result<Attempt, ProviderError> {
        todo!()
    }

    pub async fn refresh(
        &self,
        _username: &str,
        _token: &Secret,
    ) -> Result<RefreshOutcome, ProviderError> {
        todo!()
    }
}
