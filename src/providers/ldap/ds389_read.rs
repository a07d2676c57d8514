//! What 389 Directory Server (and FreeIPA, built on it) keeps about a signed-in user's password,
//! gathered from the server for the pure rules of [`super::ds389`] and [`super::freeipa`]: the
//! bind's own response controls, then the user's entry, the local policy it names, the global
//! policy in `cn=config` and, for a FreeIPA account, its Kerberos password policy.
//!
//! Only reads: none of them spends a grace login (only a bind does). A policy the user may not
//! read is no error; the rules then say "unknown" rather than guess.

use chrono::{DateTime, Utc};
use ldap3::LdapResult;

use super::ds389::{self, EntryAttributes, NetscapeControls, Policy};
use super::freeipa::{self, KrbAttributes};
use super::openldap::{parse_generalized_time, parse_seconds};
use super::{Attributes, Connection, Inner};
use crate::providers::ProviderError;
use crate::rules::expiry::Facts;

impl Inner {
    /// The server's own bind response controls, "password expired" and "password expiring".
    pub(super) fn netscape_controls(
        &self,
        result: &LdapResult,
    ) -> Result<NetscapeControls, ProviderError> {
        let mut said = NetscapeControls::default();
        for control in &result.ctrls {
            let control = &control.1;
            match control.ctype.as_str() {
                ds389::EXPIRED_OID => said.expired = true,
                ds389::EXPIRING_OID => {
                    let secs = ds389::expiring_seconds(control.val.as_deref())
                        .map_err(|m| self.protocol(m))?;
                    said.expiring_secs = Some(secs);
                }
                _ => {}
            }
        }
        Ok(said)
    }

    /// The deadline from the entry and its policies; `said_expired` when the bind said the
    /// password has expired (then a past date is the date it expired).
    pub(super) async fn ds389_facts(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
        said_expired: bool,
    ) -> Result<Facts, ProviderError> {
        let wanted: Vec<&str> = ds389::USER_ATTRIBUTES
            .iter()
            .chain(&freeipa::USER_ATTRIBUTES)
            .copied()
            .collect();
        let entry = self.user_entry(ldap, username, bind_name, &wanted).await?;
        let krb = self.krb_attributes(ldap, &entry).await?;
        if krb.present() {
            return Ok(freeipa::facts(&krb));
        }
        let expiration =
            match self.single(&entry, "passwordExpirationTime")? {
                Some(value) => Some(ds389::expiration(value).ok_or_else(|| {
                    self.protocol("passwordExpirationTime is not a GeneralizedTime")
                })?),
                None => None,
            };
        let local_policy = match self.single(&entry, "pwdpolicysubentry")? {
            Some(dn) => Some(self.policy(ldap, dn, &ds389::POLICY_ATTRIBUTES).await?),
            None => None,
        };
        let attrs = EntryAttributes {
            expiration,
            local_policy,
            global_policy: self
                .policy(
                    ldap,
                    ds389::GLOBAL_POLICY_DN,
                    &ds389::GLOBAL_POLICY_ATTRIBUTES,
                )
                .await?,
        };
        Ok(ds389::entry_facts(&attrs, Utc::now(), said_expired))
    }

    /// A 389 policy entry, `None` when the user may not read it.
    async fn policy(
        &self,
        ldap: &mut Connection,
        dn: &str,
        attrs: &[&str],
    ) -> Result<Option<Policy>, ProviderError> {
        let Some(entry) = self.read_entry(ldap, dn, attrs).await? else {
            return Ok(None);
        };
        let switch = |name: &str| -> Result<Option<bool>, ProviderError> {
            self.single(&entry, name)?
                .map(|v| ds389::parse_switch(name, v))
                .transpose()
                .map_err(|m| self.protocol(m))
        };
        Ok(Some(Policy {
            expires: switch("passwordExp")?,
            local_policies: switch("nsslapd-pwpolicy-local")?,
        }))
    }

    /// FreeIPA's Kerberos attributes, and its policy's maximum life when no expiration is set.
    async fn krb_attributes(
        &self,
        ldap: &mut Connection,
        entry: &Attributes,
    ) -> Result<KrbAttributes, ProviderError> {
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, ProviderError> {
            self.single(entry, name)?
                .map(|v| {
                    parse_generalized_time(v)
                        .ok_or_else(|| self.protocol(format!("{name} is not a GeneralizedTime")))
                })
                .transpose()
        };
        let mut krb = KrbAttributes {
            expiration: time("krbPasswordExpiration")?,
            last_change: time("krbLastPwdChange")?,
            max_life_secs: None,
        };
        if !krb.present() || krb.expiration.is_some() {
            return Ok(krb);
        }
        let policy_dn = freeipa::policy_dn(
            self.single(entry, "krbPwdPolicyReference")?,
            self.single(entry, "krbPrincipalName")?,
            &self.base,
        );
        if let Some(dn) = policy_dn {
            if let Some(policy) = self
                .read_entry(ldap, &dn, &freeipa::POLICY_ATTRIBUTES)
                .await?
            {
                krb.max_life_secs = self
                    .single(&policy, "krbMaxPwdLife")?
                    .map(|v| parse_seconds("krbMaxPwdLife", v))
                    .transpose()
                    .map_err(|m| self.protocol(m))?;
            }
        }
        Ok(krb)
    }

    /// One text value of an attribute; a protocol error when it has several, is huge or binary.
    fn single<'a>(
        &self,
        entry: &'a Attributes,
        name: &str,
    ) -> Result<Option<&'a str>, ProviderError> {
        entry.single(name).map_err(|m| self.protocol(m))
    }
}
