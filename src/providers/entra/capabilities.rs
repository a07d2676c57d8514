//! What Entra ID can do besides checking a password: the interactive sign-ins (system browser,
//! device code), as [`InteractiveSignIn`] for the work layer, which does not name Entra.

use std::time::Duration;

use url::Url;

use super::browser::BrowserAttempt;
use super::device_code::{DeviceCodeFlow, DeviceCodePrompt};
use super::{EntraProvider, InteractiveError, IssuedTokens};
use crate::providers::capabilities::{BrowserSignIn, DeviceCodeSignIn, InteractiveSignIn, Pending};
use crate::providers::{Attempt, ProviderError};

impl InteractiveSignIn for EntraProvider {
    fn start_browser<'a>(
        &'a self,
        login_hint: Option<&'a str>,
    ) -> Pending<'a, Result<Box<dyn BrowserSignIn<'a> + 'a>, InteractiveError>> {
        Box::pin(async move {
            let attempt = BrowserAttempt::start(self, login_hint).await?;
            Ok(Box::new(attempt) as Box<dyn BrowserSignIn<'a> + 'a>)
        })
    }

    fn start_device_code(
        &self,
    ) -> Pending<'_, Result<Box<dyn DeviceCodeSignIn<'_> + '_>, InteractiveError>> {
        Box::pin(async move {
            let flow = EntraProvider::start_device_code(self).await?;
            Ok(Box::new(flow) as Box<dyn DeviceCodeSignIn<'_> + '_>)
        })
    }

    fn accept(&self, issued: IssuedTokens) -> Pending<'_, Result<Attempt, ProviderError>> {
        Box::pin(EntraProvider::accept(self, issued))
    }
}

impl<'a> BrowserSignIn<'a> for BrowserAttempt<'a> {
    fn url(&self) -> &Url {
        BrowserAttempt::url(self)
    }

    fn finish(
        self: Box<Self>,
        timeout: Duration,
    ) -> Pending<'a, Result<IssuedTokens, InteractiveError>> {
        Box::pin(BrowserAttempt::finish(*self, timeout))
    }
}

impl<'a> DeviceCodeSignIn<'a> for DeviceCodeFlow<'a> {
    fn prompt(&self) -> &DeviceCodePrompt {
        DeviceCodeFlow::prompt(self)
    }

    fn finish(self: Box<Self>) -> Pending<'a, Result<IssuedTokens, InteractiveError>> {
        Box::pin(DeviceCodeFlow::finish(*self))
    }
}
