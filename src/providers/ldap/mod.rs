//! Active Directory, OpenLDAP and 389 Directory Server (FreeIPA) over LDAP: one simple bind with
//! the user's password and the password-policy request control, then a read of the user's entry
//! and policy to find the deadline (or its date, when the bind said it had passed). With
//! `flavor = "auto"` the root DSE says which server it is ([`vendor`]).
//!
//! The rules live in pure submodules that are unit-tested on recorded server answers:
//! [`ppolicy`] (the bind response control, decoded by hand), [`openldap`],
//! [`active_directory`], [`ds389`] and [`freeipa`] ([`ds389_read`] gathers their answers).
//! [`connect`] owns the transport rules and TLS trust. [`change`] changes the
//! password (with [`kpasswd`] for an expired AD one). This module only talks to the server and
//! glues the answers together. All network work runs in its own task, so
//! that a panic inside ldap3 on a hostile answer becomes a [`ProviderError`], never a crash.

pub mod active_directory;
pub mod bounded;
mod capabilities;
pub mod change;
pub mod connect;
pub mod ds389;
mod ds389_read;
pub mod freeipa;
pub mod kerberos;
pub mod kpasswd;
pub mod openldap;
pub mod ppolicy;
pub mod relay;
pub mod sasl;
pub mod settings;
mod ticket;
pub mod vendor;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapError, LdapResult, Scope, SearchEntry, SearchOptions};

use self::active_directory::{AdAttributes, BindCode};
use self::connect::Endpoint;
use self::openldap::{BindVerdict, EntryAttributes};
use crate::providers::{Attempt, ProviderError};
use crate::rules::expiry::{Deadline, Facts, Finding, SignInReason, Source};
use crate::rules::untrusted::clean_or;
use crate::system::config::{Config, LdapAuth, LdapFlavor};
use crate::system::credentials::{EndpointIdentity, Secret};

/// LDAP result codes this module tells apart.
const RC_SUCCESS: u32 = 0;
const RC_INVALID_CREDENTIALS: u32 = 49;
/// Longest attribute value accepted from the server (a DN or a number is far shorter).
const MAX_VALUE_LEN: usize = 4096;
/// Most entries one search may return: each search here expects one (the user, a policy).
const MAX_ENTRIES: usize = 16;
/// One attempt (connect, bind, the reads after it) ends after this many operation timeouts at
/// most, however the server spreads its answers.
const ATTEMPT_TIMEOUTS: u32 = 3;

/// LDAP directories (Active Directory, OpenLDAP) in the provider registry.
pub const REGISTRATION: crate::providers::Registration = crate::providers::Registration {
    kind: crate::system::config::ProviderKind::Ldap,
    name: "ldap",
    build: |config| Ok(crate::providers::Provider::Ldap(LdapProvider::new(config)?)),
    missing: settings::missing,
    words: settings::WORDS,
    sign_in: None,
    changes_password_here: settings::changes_password_here,
    login_name_is_account: true,
};

/// The LDAP provider; cheap to clone into the task that does the network work.
#[derive(Clone)]
pub struct LdapProvider {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    /// A password or the person's Kerberos ticket ([`ticket`]).
    auth: LdapAuth,
    /// Bind name template with `{username}` (empty with a Kerberos ticket).
    bind: String,
    base: String,
    flavor: LdapFlavor,
    /// How an expired AD password is changed.
    kerberos: kpasswd::Settings,
}

impl LdapProvider {
    /// Checks the `[ldap]` settings (URL, transport security, bind template, base, CA file).
    pub fn new(config: &Config) -> Result<LdapProvider, ProviderError> {
        let endpoint = Endpoint::from_config(config)?;
        let required = |words, value: &Option<String>| match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(config.missing_error(words, "[provider] kind = \"ldap\" needs it")),
        };
        let bind = if settings::needs_bind(config) {
            required(&settings::BIND, &config.ldap.bind)?
        } else {
            String::new()
        };
        let base = required(&settings::BASE, &config.ldap.base)?;
        Ok(LdapProvider {
            inner: Arc::new(Inner {
                endpoint,
                auth: config.ldap.auth,
                bind,
                base,
                flavor: config.ldap.flavor,
                kerberos: kpasswd::Settings::from_config(config)?,
            }),
        })
    }

    /// Where kept passwords may be sent: the server's scheme, host and port.
    pub fn endpoint(&self) -> EndpointIdentity {
        self.inner.endpoint.identity()
    }

    /// One simple bind with the user's password, then the deadline if the bind did not give it.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Attempt, ProviderError> {
        // An empty password would be an "unauthenticated bind" (RFC 4513 5.1.2), which servers
        // accept without checking anything: it must never count as an accepted password.
        if username.trim().is_empty() || password.is_empty() {
            return Ok(Attempt::refused(SignInReason::Rejected));
        }
        let inner = self.inner.clone();
        let username = username.to_string();
        let password = password.clone();
        self.contained(async move { inner.attempt(&username, &password).await })
            .await
    }

    /// Runs one attempt in a task of its own, within [`ATTEMPT_TIMEOUTS`] timeouts: a panic
    /// inside ldap3 on a hostile answer ends that task only and becomes an error.
    async fn contained(
        &self,
        attempt: impl std::future::Future<Output = Result<Attempt, ProviderError>> + Send + 'static,
    ) -> Result<Attempt, ProviderError> {
        let mut task = tokio::spawn(attempt);
        let deadline = self.inner.timeout() * ATTEMPT_TIMEOUTS;
        let finished = match tokio::time::timeout(deadline, &mut task).await {
            Ok(finished) => finished,
            Err(_) => {
                task.abort();
                return Err(ProviderError::Timeout {
                    endpoint: self.inner.endpoint.name(),
                    secs: deadline.as_secs(),
                });
            }
        };
        match finished {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(self.inner.undecodable()),
            Err(_) => Err(ProviderError::Protocol {
                endpoint: self.inner.endpoint.name(),
                detail: "the check was cancelled".into(),
            }),
        }
    }
}

/// One connection: the ldap3 handle and the task that drives it (aborted when dropped).
struct Connection {
    ldap: Ldap,
    driver: relay::Driver,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connection {
    /// Whether the driver task died of a panic (ldap3 choking on what the server sent). The
    /// pending operation fails while the task is still unwinding, so wait for it briefly.
    async fn driver_panicked(&mut self) -> bool {
        self.driver.panicked(Duration::from_secs(1)).await
    }
}

impl Inner {
    fn timeout(&self) -> Duration {
        self.endpoint.timeout
    }

    async fn attempt(&self, username: &str, password: &Secret) -> Result<Attempt, ProviderError> {
        let (ldap, driver) = self.endpoint.open().await?;
        let mut session = Connection { ldap, driver };
        let bind_name = bind_name(&self.bind, username);
        let bound = session
            .ldap
            .with_controls(RawControl {
                ctype: ppolicy::PPOLICY_OID.to_string(),
                crit: false,
                val: None,
            })
            .with_timeout(self.timeout())
            .simple_bind(&bind_name, password.expose())
            .await;
        let result = match bound {
            Ok(result) => result,
            Err(e) => return Err(self.op_error(e, &mut session).await),
        };
        let attempt = self
            .after_bind(&mut session, username, &bind_name, &result)
            .await;
        if result.rc == RC_SUCCESS {
            let _ = tokio::time::timeout(self.timeout(), session.ldap.unbind()).await;
        }
        attempt
    }

    /// Decides what the bind result means and fetches the deadline when needed.
    async fn after_bind(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
        result: &LdapResult,
    ) -> Result<Attempt, ProviderError> {
        if result.rc == RC_INVALID_CREDENTIALS && self.flavor.may_be_active_directory() {
            if let Some(code) = active_directory::data_code(&result.text) {
                return self.ad_bind_failure(code, &result.text);
            }
        }
        if !matches!(result.rc, RC_SUCCESS | RC_INVALID_CREDENTIALS) {
            return Err(ProviderError::Endpoint {
                endpoint: self.endpoint.name(),
                code: result.rc.to_string(),
                error: clean_or(&result.text, "the bind failed"),
            });
        }
        let control = self.ppolicy_control(result)?;
        let netscape = self.netscape_controls(result)?;
        match ds389::bind_verdict(result.rc, &control, &netscape, Utc::now()) {
            BindVerdict::Refused(reason) => Ok(Attempt::refused(reason)),
            // Not bound (expired, no grace login left): nothing more is readable.
            BindVerdict::Accepted { facts: Some(facts) } if result.rc != RC_SUCCESS => {
                Ok(accepted(facts))
            }
            BindVerdict::Accepted { facts: Some(facts) } => {
                let flavor = self.flavor_in_use(ldap).await;
                let facts = self
                    .enrich_from_entry(ldap, username, bind_name, flavor, facts)
                    .await;
                Ok(accepted(facts))
            }
            BindVerdict::Accepted { facts: None } => {
                let flavor = self.flavor_in_use(ldap).await;
                // The bind accepted the password: a failed read after it must not lose that.
                match self.read_facts(ldap, username, bind_name, flavor).await {
                    Ok(facts) => Ok(accepted(facts)),
                    Err(e) => Err(ProviderError::AcceptedWithoutFacts {
                        refresh_token: None,
                        source: Box::new(e),
                    }),
                }
            }
        }
    }

    fn ad_bind_failure(&self, code: u32, text: &str) -> Result<Attempt, ProviderError> {
        let expired = |note: Option<&str>| {
            Ok(accepted(Facts {
                note: note.map(str::to_string),
                ..Facts::new(Deadline::ExpiredNow, Source::AdBindError)
            }))
        };
        match active_directory::classify(code) {
            BindCode::PasswordExpired => expired(None),
            BindCode::MustChange => expired(Some("it was reset and must be changed")),
            BindCode::Rejected => Ok(Attempt::refused(SignInReason::Rejected)),
            BindCode::Refused(reason) => Ok(Attempt::refused(reason)),
            BindCode::Restricted(code) => Err(ProviderError::Endpoint {
                endpoint: self.endpoint.name(),
                code: format!("data {code:x}"),
                error: "the account may not sign in at this time or from this computer".into(),
            }),
            BindCode::Unknown(code) => Err(ProviderError::Endpoint {
                endpoint: self.endpoint.name(),
                code: format!("data {code:x}"),
                error: clean_or(text, "unknown Active Directory bind error"),
            }),
        }
    }

    /// The ppolicy response control, decoded by [`ppolicy`] (never by ldap3).
    fn ppolicy_control(
        &self,
        result: &LdapResult,
    ) -> Result<ppolicy::PpolicyResponse, ProviderError> {
        let mut found = result
            .ctrls
            .iter()
            .filter(|c| c.1.ctype == ppolicy::PPOLICY_OID);
        let Some(control) = found.next() else {
            return Ok(ppolicy::PpolicyResponse::default());
        };
        if found.next().is_some() {
            return Err(self.protocol("two password policy controls in one answer"));
        }
        ppolicy::decode(control.1.val.as_deref()).map_err(|e| self.protocol(e.to_string()))
    }

    /// The user's entry: read directly when the bind name is its DN, else found under `base`.
    async fn user_entry(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
        attrs: &[&str],
    ) -> Result<Attributes, ProviderError> {
        let (base, scope, filter) = if self.bind.contains('=') {
            (
                bind_name.to_string(),
                Scope::Base,
                "(objectClass=*)".to_string(),
            )
        } else {
            let filter = match self.auth {
                LdapAuth::Password => account_filter(bind_name, username),
                LdapAuth::Kerberos => self.principal_filter(username),
            };
            (self.base.clone(), Scope::Subtree, filter)
        };
        let entries = self.search(ldap, &base, scope, &filter, attrs).await?;
        match entries {
            Some(mut entries) if entries.len() == 1 => Ok(entries.remove(0)),
            Some(entries) if entries.len() > 1 => Err(self.protocol(format!(
                "{} entries match {filter} under {base}",
                entries.len()
            ))),
            _ => Err(self.protocol(format!(
                "the signed-in user's entry ({filter} under {base}) is not readable"
            ))),
        }
    }

    /// The configured flavor; with `auto`, the one the root DSE announces, or `Auto` when it
    /// says nothing (then the entry's attributes tell Active Directory from OpenLDAP).
    async fn flavor_in_use(&self, ldap: &mut Connection) -> LdapFlavor {
        if self.flavor != LdapFlavor::Auto {
            return self.flavor;
        }
        let root = match self
            .read_entry(ldap, "", &vendor::ROOT_DSE_ATTRIBUTES)
            .await
        {
            Ok(Some(root)) => root,
            Ok(None) => return LdapFlavor::Auto,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the root DSE");
                return LdapFlavor::Auto;
            }
        };
        let values = |name: &str| root.get(name).map(Vec::as_slice).unwrap_or_default();
        let announced = vendor::flavor(&vendor::RootDse {
            capabilities: values("supportedCapabilities"),
            object_classes: values("objectClass"),
            vendor_names: values("vendorName"),
            vendor_versions: values("vendorVersion"),
        });
        announced.unwrap_or(LdapFlavor::Auto)
    }

    /// The deadline after a bind that did not say it.
    async fn read_facts(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
        flavor: LdapFlavor,
    ) -> Result<Facts, ProviderError> {
        match flavor {
            LdapFlavor::Ds389 => return self.ds389_facts(ldap, username, bind_name, false).await,
            LdapFlavor::Openldap => return self.openldap_facts(ldap, username, bind_name).await,
            LdapFlavor::ActiveDirectory | LdapFlavor::Auto => {}
        }
        let mut wanted: Vec<&str> = active_directory::USER_ATTRIBUTES.to_vec();
        if flavor == LdapFlavor::Auto {
            wanted.extend(openldap::USER_ATTRIBUTES);
        }
        let entry = self.user_entry(ldap, username, bind_name, &wanted).await?;
        let is_ad = flavor == LdapFlavor::ActiveDirectory
            || active_directory::USER_ATTRIBUTES
                .iter()
                .any(|a| entry.get(a).is_some());
        if is_ad {
            self.ad_facts(ldap, &entry).await
        } else {
            let attrs = self.openldap_attributes(ldap, &entry).await?;
            Ok(openldap::entry_facts(&attrs))
        }
    }

    /// OpenLDAP's deadline: the entry's change time and its policy.
    async fn openldap_facts(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
    ) -> Result<Facts, ProviderError> {
        let entry = self
            .user_entry(ldap, username, bind_name, &openldap::USER_ATTRIBUTES)
            .await?;
        let attrs = self.openldap_attributes(ldap, &entry).await?;
        Ok(openldap::entry_facts(&attrs))
    }

    async fn ad_facts(
        &self,
        ldap: &mut Connection,
        entry: &Attributes,
    ) -> Result<Facts, ProviderError> {
        let int = |name: &str| -> Result<Option<i64>, ProviderError> {
            entry
                .single(name)
                .map_err(|m| self.protocol(m))?
                .map(|v| active_directory::parse_integer(name, v))
                .transpose()
                .map_err(|m| self.protocol(m))
        };
        let mut attrs = AdAttributes {
            computed_expiry: int("msDS-UserPasswordExpiryTimeComputed")?,
            pwd_last_set: int("pwdLastSet")?,
            user_account_control: int("userAccountControl")?,
            max_pwd_age: None,
        };
        let needs_domain_policy = attrs.computed_expiry.is_none()
            && attrs.pwd_last_set.is_some_and(|v| v > 0)
            && attrs
                .user_account_control
                .is_none_or(|uac| uac & active_directory::UF_DONT_EXPIRE_PASSWD == 0);
        if needs_domain_policy {
            attrs.max_pwd_age = self.domain_max_pwd_age(ldap).await?;
        }
        active_directory::facts(&attrs).map_err(|m| self.protocol(m))
    }

    /// `maxPwdAge` from `base`, or from the domain head named by the root DSE.
    async fn domain_max_pwd_age(
        &self,
        ldap: &mut Connection,
    ) -> Result<Option<i64>, ProviderError> {
        let mut heads = vec![self.base.clone()];
        if let Some(root) = self.read_entry(ldap, "", &["defaultNamingContext"]).await? {
            if let Some(head) = root
                .single("defaultNamingContext")
                .map_err(|m| self.protocol(m))?
            {
                heads.push(head.to_string());
            }
        }
        for head in heads {
            if let Some(entry) = self.read_entry(ldap, &head, &["maxPwdAge"]).await? {
                if let Some(value) = entry.single("maxPwdAge").map_err(|m| self.protocol(m))? {
                    return active_directory::parse_integer("maxPwdAge", value)
                        .map(Some)
                        .map_err(|m| self.protocol(m));
                }
            }
        }
        Ok(None)
    }

    async fn openldap_attributes(
        &self,
        ldap: &mut Connection,
        entry: &Attributes,
    ) -> Result<EntryAttributes, ProviderError> {
        let changed_at = match entry
            .single("pwdChangedTime")
            .map_err(|m| self.protocol(m))?
        {
            None => None,
            Some(v) => Some(
                openldap::parse_generalized_time(v)
                    .ok_or_else(|| self.protocol("pwdChangedTime is not a GeneralizedTime"))?,
            ),
        };
        let mut attrs = EntryAttributes {
            changed_at,
            ..Default::default()
        };
        let subentry = entry
            .single("pwdPolicySubentry")
            .map_err(|m| self.protocol(m))?
            .map(str::to_string);
        let policy = match subentry {
            Some(dn) => {
                self.read_entry(ldap, &dn, &openldap::POLICY_ATTRIBUTES)
                    .await?
            }
            None => self.default_policy(ldap).await?,
        };
        if let Some(policy) = policy {
            let seconds = |name: &str| -> Result<Option<i64>, ProviderError> {
                policy
                    .single(name)
                    .map_err(|m| self.protocol(m))?
                    .map(|v| openldap::parse_seconds(name, v))
                    .transpose()
                    .map_err(|m| self.protocol(m))
            };
            let classes = policy
                .get("objectClass")
                .map(Vec::as_slice)
                .unwrap_or_default();
            attrs.max_age_secs = openldap::max_age(seconds("pwdMaxAge")?, classes);
            attrs.expire_warning_secs = seconds("pwdExpireWarning")?;
        }
        Ok(attrs)
    }

    /// The default policy when the entry names none. Its DN is set in cn=config, which users
    /// cannot read, so it is taken only when exactly one policy entry under `base` is readable;
    /// otherwise the configured max age applies.
    async fn default_policy(
        &self,
        ldap: &mut Connection,
    ) -> Result<Option<Attributes>, ProviderError> {
        let found = self
            .search(
                ldap,
                &self.base.clone(),
                Scope::Subtree,
                "(objectClass=pwdPolicy)",
                &openldap::POLICY_ATTRIBUTES,
            )
            .await?;
        Ok(match found {
            Some(mut policies) if policies.len() == 1 => Some(policies.remove(0)),
            _ => None,
        })
    }

    /// After a control said it: add what the entry says when it is readable (the change time,
    /// the server's warning window, the date an expired password expired). Failures here lose
    /// nothing the bind already said.
    async fn enrich_from_entry(
        &self,
        ldap: &mut Connection,
        username: &str,
        bind_name: &str,
        flavor: LdapFlavor,
        facts: Facts,
    ) -> Facts {
        let said_expired = facts.deadline == Deadline::ExpiredNow;
        let entry = match flavor {
            LdapFlavor::ActiveDirectory => return facts,
            LdapFlavor::Ds389 => {
                self.ds389_facts(ldap, username, bind_name, said_expired)
                    .await
            }
            LdapFlavor::Openldap | LdapFlavor::Auto => {
                self.openldap_facts(ldap, username, bind_name).await
            }
        };
        match entry {
            Ok(entry) => openldap::completed(facts, &entry, Utc::now()),
            Err(e) => {
                tracing::debug!(error = %e, "could not read the entry or its password policy");
                facts
            }
        }
    }

    /// One base-scope read; `None` when the entry does not exist or is not readable.
    async fn read_entry(
        &self,
        ldap: &mut Connection,
        dn: &str,
        attrs: &[&str],
    ) -> Result<Option<Attributes>, ProviderError> {
        let found = self
            .search(ldap, dn, Scope::Base, "(objectClass=*)", attrs)
            .await?;
        Ok(found.and_then(|mut entries| (!entries.is_empty()).then(|| entries.remove(0))))
    }

    /// A search; `None` when the server refuses it for a reason that means "not readable".
    /// At most [`MAX_ENTRIES`] entries are taken: more is an error, not a memory hog.
    async fn search(
        &self,
        ldap: &mut Connection,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<Vec<Attributes>>, ProviderError> {
        let limits = SearchOptions::new()
            .sizelimit(MAX_ENTRIES as i32)
            .timelimit(self.timeout().as_secs().try_into().unwrap_or(i32::MAX));
        let started = ldap
            .ldap
            .with_search_options(limits)
            .with_timeout(self.timeout())
            .streaming_search(base, scope, filter, attrs.to_vec())
            .await;
        let mut stream = match started {
            Ok(stream) => stream,
            Err(e) => return Err(self.op_error(e, ldap).await),
        };
        let mut entries = Vec::new();
        loop {
            match stream.next().await {
                Ok(Some(entry)) if entry.is_ref() || entry.is_intermediate() => {}
                Ok(Some(_)) if entries.len() == MAX_ENTRIES => {
                    return Err(self.protocol(format!(
                        "more than {MAX_ENTRIES} entries match {filter} under {base}"
                    )))
                }
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => break,
                Err(e) => return Err(self.op_error(e, ldap).await),
            }
        }
        let result = stream.finish().await;
        match result.rc {
            RC_SUCCESS => {}
            // noSuchObject, insufficientAccessRights, sizeLimitExceeded, unwillingToPerform
            32 | 50 | 4 | 53 => return Ok(None),
            rc => {
                return Err(ProviderError::Endpoint {
                    endpoint: self.endpoint.name(),
                    code: rc.to_string(),
                    error: clean_or(&result.text, "the search failed"),
                })
            }
        }
        Ok(Some(
            entries
                .into_iter()
                .map(|e| Attributes::from(SearchEntry::construct(e)))
                .collect(),
        ))
    }

    async fn op_error(&self, e: LdapError, session: &mut Connection) -> ProviderError {
        // The relay closes the connection when the server breaks a limit; that is the reason.
        if let Some(violation) = session.driver.violation() {
            return connect::violation_error(self.endpoint.name(), &violation);
        }
        match e {
            LdapError::Timeout { .. } => ProviderError::Timeout {
                endpoint: self.endpoint.name(),
                secs: self.timeout().as_secs(),
            },
            _ if session.driver_panicked().await => self.undecodable(),
            other => ProviderError::Unreachable {
                endpoint: self.endpoint.name(),
                detail: clean_or(&other.to_string(), "the connection failed"),
            },
        }
    }

    /// ldap3 gave up on (panicked over) the server's answer.
    fn undecodable(&self) -> ProviderError {
        self.protocol("its answer is not valid LDAP and could not be decoded")
    }

    fn protocol(&self, detail: impl Into<String>) -> ProviderError {
        ProviderError::Protocol {
            endpoint: self.endpoint.name(),
            detail: detail.into(),
        }
    }
}

/// An accepted password with what is known about its deadline.
fn accepted(facts: Facts) -> Attempt {
    Attempt {
        finding: Finding::Facts(facts),
        password_accepted: true,
        refresh_token: None,
    }
}

/// The bind name: the template with the user name, escaped as a DN value when the template is
/// a DN, verbatim when it is a UPN or `DOMAIN\user` form.
pub fn bind_name(template: &str, username: &str) -> String {
    let username = username.trim();
    if template.contains('=') {
        template.replace("{username}", &ldap3::dn_escape(username))
    } else {
        template.replace("{username}", username)
    }
}

/// The filter that finds an AD account by the name it signed in with.
pub fn account_filter(bind_name: &str, username: &str) -> String {
    if let Some((_, sam)) = bind_name.rsplit_once('\\') {
        format!("(sAMAccountName={})", ldap3::ldap_escape(sam))
    } else if bind_name.contains('@') {
        format!("(userPrincipalName={})", ldap3::ldap_escape(bind_name))
    } else {
        format!("(sAMAccountName={})", ldap3::ldap_escape(username.trim()))
    }
}

/// An entry's text attributes, looked up case-insensitively.
#[derive(Debug, Default)]
struct Attributes {
    dn: String,
    values: HashMap<String, Vec<String>>,
    binary: Vec<String>,
}

impl From<SearchEntry> for Attributes {
    fn from(entry: SearchEntry) -> Self {
        Attributes {
            dn: entry.dn,
            values: entry
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            binary: entry
                .bin_attrs
                .into_keys()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
        }
    }
}

impl Attributes {
    fn get(&self, name: &str) -> Option<&Vec<String>> {
        self.values.get(&name.to_ascii_lowercase())
    }

    /// The attribute's one value; an error when it has several, is not text or is huge.
    fn single(&self, name: &str) -> Result<Option<&str>, String> {
        if self.binary.contains(&name.to_ascii_lowercase()) {
            return Err(format!("{name} is not text"));
        }
        match self.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([value]) if value.len() <= MAX_VALUE_LEN => Ok(Some(value)),
            Some([_]) => Err(format!("{name} is too long")),
            Some(_) => Err(format!("{name} has several values")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_names_escape_dn_values_only() {
        assert_eq!(
            bind_name("uid={username},ou=people,dc=example,dc=com", "alice"),
            "uid=alice,ou=people,dc=example,dc=com"
        );
        assert_eq!(
            bind_name("uid={username},ou=people,dc=example,dc=com", "a,b=c"),
            "uid=a\\2cb\\3dc,ou=people,dc=example,dc=com"
        );
        assert_eq!(
            bind_name("{username}", "alice@example.com"),
            "alice@example.com"
        );
        assert_eq!(bind_name("EXAMPLE\\{username}", "alice"), "EXAMPLE\\alice");
    }

    #[test]
    fn account_filters_escape_values() {
        assert_eq!(
            account_filter("alice@example.com", "alice@example.com"),
            "(userPrincipalName=alice@example.com)"
        );
        assert_eq!(
            account_filter("EXAMPLE\\alice", "alice"),
            "(sAMAccountName=alice)"
        );
        assert_eq!(
            account_filter("a*)(uid=*", "a*)(uid=*"),
            "(sAMAccountName=a\\2a\\29\\28uid=\\2a)"
        );
    }

    #[test]
    fn attribute_values_are_checked() {
        let mut attrs = Attributes::default();
        attrs.values.insert("pwdlastset".into(), vec!["1".into()]);
        attrs
            .values
            .insert("two".into(), vec!["1".into(), "2".into()]);
        attrs
            .values
            .insert("huge".into(), vec!["9".repeat(MAX_VALUE_LEN + 1)]);
        attrs.binary.push("bin".into());
        assert_eq!(attrs.single("pwdLastSet"), Ok(Some("1")));
        assert_eq!(attrs.single("absent"), Ok(None));
        assert!(attrs.single("two").is_err());
        assert!(attrs.single("huge").is_err());
        assert!(attrs.single("bin").is_err());
    }
}
