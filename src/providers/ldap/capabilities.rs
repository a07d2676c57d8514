//! What an LDAP directory can do besides checking a password: change it here, as
//! [`ChangesPasswordHere`] for the work layer, which does not name LDAP.

use super::change::{ChangeError, ChangedVia};
use super::LdapProvider;
use crate::providers::capabilities::{ChangesPasswordHere, Pending};
use crate::system::credentials::Secret;

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
