//! What an LDAP directory can do besides checking a password: change it here, as
//! [`ChangesPasswordHere`], and check with the person's Kerberos ticket, as
//! [`ChecksWithTicket`], for the work layer, which does not name LDAP.

use super::change::{ChangeError, ChangedVia};
use super::LdapProvider;
use crate::providers::capabilities::{ChangesPasswordHere, ChecksWithTicket, Pending};
use crate::providers::{Attempt, ProviderError};
use crate::system::credentials::Secret;

impl ChecksWithTicket for LdapProvider {
    fn ticket_account(&self) -> Option<String> {
        LdapProvider::ticket_account(self)
    }

    fn check_with_ticket<'a>(
        &'a self,
        account: &'a str,
    ) -> Pending<'a, Result<Attempt, ProviderError>> {
        Box::pin(LdapProvider::check_with_ticket(self, account))
    }
}

impl ChangesPasswordHere for LdapProvider {
    fn change_password<'a>(
        &'a self,
        username: &'a str,
        current: &'a Secret,
        new: &'a Secret,
    ) -> Pending<'a, Result<ChangedVia, ChangeError>> {
        Box::pin(LdapProvider::change_password(self, username, current, new))
    }
}
