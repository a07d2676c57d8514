//! Changing the password in the directory, by its owner, with the current password.
//!
//! Most organisations with their own directory have no self-service web page, so the product
//! changes the password itself, as the desktop's own tools do:
//! - OpenLDAP: the Password Modify extended operation (RFC 3062) on the user's own bound
//!   connection, with the password-policy control so that the policy's reason for a refusal
//!   (too short, in history, too young, quality) comes back and can be said in plain words;
//! - Active Directory: the documented self-change of `unicodePwd`, one modify that deletes the old
//!   and adds the new quoted UTF-16LE value, over an encrypted connection; AD's error codes
//!   (`0000052D` policy, `00000056` wrong current password) are turned into words;
//! - an expired AD password, which can no longer bind (data 532/773): Kerberos change-password
//!   through [`super::kpasswd`].
//!
//! Passwords only travel as [`Secret`]s and inside the encrypted request; no error holds one.
//! A new password is sent only over TLS, or to a server on this machine (not even with
//! `allow_insecure`, which is about checks); AD needs TLS in every case.

use std::collections::HashSet;
use std::fmt;

use ldap3::controls::RawControl;
use ldap3::exop::PasswordModify;
use ldap3::result::ExopResult;
use ldap3::{LdapError, LdapResult, Mod, Scope};
use zeroize::Zeroizing;

use super::active_directory::{self, BindCode};
use super::kpasswd::{self, KpasswdError};
use super::ppolicy::{self, PpolicyError};
use super::vendor::AD_CAPABILITY_OID;
use super::{
    bind_name, openldap, Attributes, Connection, Inner, LdapProvider, RC_INVALID_CREDENTIALS,
    RC_SUCCESS,
};
use crate::providers::ProviderError;
use crate::rules::expiry::SignInReason;
use crate::rules::untrusted::clean_or;
use crate::system::config::LdapFlavor;
use crate::system::credentials::Secret;

const RC_STRONGER_AUTH_REQUIRED: u32 = 8;
const RC_CONFIDENTIALITY_REQUIRED: u32 = 13;
const RC_CONSTRAINT_VIOLATION: u32 = 19;
const RC_INSUFFICIENT_ACCESS: u32 = 50;
const RC_UNWILLING_TO_PERFORM: u32 = 53;
/// AD's (Win32) codes at the start of a failed modify's diagnostic message.
const AD_PASSWORD_RESTRICTION: u32 = 0x52D;
const AD_INVALID_PASSWORD: u32 = 0x56;
const AD_ACCESS_DENIED: u32 = 0x5;
/// Attributes of an OpenLDAP policy entry that say what a new password must be.
const RULE_ATTRIBUTES: [&str; 4] = ["pwdMinLength", "pwdMaxLength", "pwdInHistory", "pwdMinAge"];

/// The rule of the password policy that a new password broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    TooShort,
    TooLong,
    InHistory,
    TooYoung,
    Quality,
    /// The directory wants the current password with the change (we always send it).
    MustSupplyOld,
    /// The directory did not say which rule.
    Unspecified,
}

impl Rule {
    /// Plain words for the person choosing a password.
    pub fn explain(self) -> &'static str {
        match self {
            Rule::TooShort => "it is too short",
            Rule::TooLong => "it is too long",
            Rule::InHistory => "it was used before, and the directory remembers your previous passwords",
            Rule::TooYoung => "the password was changed too recently; the directory allows the next change only later",
            Rule::Quality => "it is not complex enough: mix capitals, small letters, digits and symbols, and avoid your name",
            Rule::MustSupplyOld => "the directory wants the current password with the change",
            Rule::Unspecified => "it does not meet the password rules (length, complexity, history, or the time since the last change)",
        }
    }
}

/// Why the directory refused the new password, with what it said and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    /// The directory's own explanation, cleaned (Samba names the rule and its numbers).
    pub detail: Option<String>,
    /// The policy's values in words, when readable ("at least 8 characters", ...).
    pub rules: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the new password was refused: {}", self.rule.explain())?;
        if let Some(detail) = &self.detail {
            write!(f, " (the directory says: \"{detail}\")")?;
        }
        if !self.rules.is_empty() {
            write!(f, "; the rules: {}", self.rules.join(", "))?;
        }
        Ok(())
    }
}

/// How the password was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedVia {
    /// Password Modify or the `unicodePwd` modify, over LDAP.
    Ldap,
    /// Kerberos change-password (the password had expired).
    Kerberos,
}

/// Why the password was not changed (or may not have been). Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the current password was not accepted; type the password you sign in with now")]
    WrongCurrent,
    #[error("{0}")]
    Refused(Refusal),
    #[error("the new password is the same as the current one; choose a different one")]
    SameAsCurrent,
    #[error("the new password is empty")]
    EmptyNew,
    #[error("{0}")]
    NotAllowed(String),
    #[error("your password has expired and {endpoint} accepts no sign-in with it any more, so it cannot be changed here; ask your IT desk to reset it")]
    ExpiredNoWayIn { endpoint: String },
    #[error("{endpoint} takes a new password only over an encrypted connection: set [ldap] url to ldaps://… or starttls = true")]
    NeedsEncryption { endpoint: String },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("changing the expired password with Kerberos failed: {0}")]
    Kerberos(KpasswdError),
    /// The request went out but no answer came back: the directory may have the new password.
    #[error("{endpoint} did not confirm the change ({detail})")]
    Unconfirmed { endpoint: String, detail: String },
}

impl LdapProvider {
    /// Changes `username`'s password from `current` to `new`. Runs in its own task, so that a
    /// panic inside ldap3 on a hostile answer becomes an error.
    pub async fn change_password(
        &self,
        username: &str,
        current: &Secret,
        new: &Secret,
    ) -> Result<ChangedVia, ChangeError> {
        if new.is_empty() {
            return Err(ChangeError::EmptyNew);
        }
        // An empty password would be an unauthenticated bind, which proves nothing.
        if username.trim().is_empty() || current.is_empty() {
            return Err(ChangeError::WrongCurrent);
        }
        if new == current {
            return Err(ChangeError::SameAsCurrent);
        }
        let inner = self.inner.clone();
        let (username, current, new) = (username.to_string(), current.clone(), new.clone());
        let task = tokio::spawn(async move { inner.change(&username, &current, &new).await });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(ChangeError::Unconfirmed {
                endpoint: self.inner.endpoint.name(),
                detail: if e.is_panic() {
                    "its answer could not be decoded".into()
                } else {
                    "the change was cancelled".into()
                },
            }),
        }
    }
}

/// What a bind with the current password allows.
enum Bound {
    /// Signed in: change over LDAP.
    Yes,
    /// AD says the password is right but expired or must be changed: change with Kerberos.
    ExpiredAd,
}

impl Inner {
    async fn change(
        &self,
        username: &str,
        current: &Secret,
        new: &Secret,
    ) -> Result<ChangedVia, ChangeError> {
        let needs_tls = !self.endpoint.on_loopback() || self.flavor == LdapFlavor::ActiveDirectory;
        if needs_tls && !self.endpoint.encrypted() {
            return Err(self.needs_encryption());
        }
        let (ldap, driver) = self.endpoint.open().await?;
        let mut session = Connection { ldap, driver };
        let bind_name = bind_name(&self.bind, username);
        let bound = session
            .ldap
            .with_controls(ppolicy_request())
            .with_timeout(self.timeout())
            .simple_bind(&bind_name, current.expose())
            .await;
        let result = match bound {
            Ok(result) => result,
            Err(e) => return Err(self.op_error(e, &mut session).await.into()),
        };
        if let Bound::ExpiredAd = self.bound_for_change(&result)? {
            drop(session);
            let account = if self.bind.contains('=') {
                username
            } else {
                &bind_name
            };
            return self.change_with_kerberos(account, current, new).await;
        }
        let changed = if self.is_active_directory(&mut session).await? {
            self.change_ad(&mut session, username, &bind_name, current, new)
                .await
        } else {
            self.change_openldap(&mut session, username, &bind_name, current, new)
                .await
        };
        let _ = tokio::time::timeout(self.timeout(), session.ldap.unbind()).await;
        changed
    }

    /// What the bind with the current password says about changing it.
    fn bound_for_change(&self, result: &LdapResult) -> Result<Bound, ChangeError> {
        if result.rc == RC_INVALID_CREDENTIALS && self.flavor.may_be_active_directory() {
            if let Some(code) = active_directory::data_code(&result.text) {
                return match active_directory::classify(code) {
                    BindCode::PasswordExpired | BindCode::MustChange => Ok(Bound::ExpiredAd),
                    BindCode::Rejected => Err(ChangeError::WrongCurrent),
                    BindCode::Refused(reason) => {
                        Err(ChangeError::NotAllowed(reason.explain().to_string()))
                    }
                    BindCode::Restricted(_) => Err(ChangeError::NotAllowed(
                        "the account may not sign in at this time or from this computer; ask your IT desk".into(),
                    )),
                    BindCode::Unknown(code) => Err(self.endpoint_error(
                        format!("data {code:x}"),
                        clean_or(&result.text, "unknown Active Directory bind error"),
                    )),
                };
            }
        }
        match result.rc {
            RC_SUCCESS => Ok(Bound::Yes),
            RC_INVALID_CREDENTIALS => match self.ppolicy_control(result)?.error {
                Some(PpolicyError::PasswordExpired) => Err(ChangeError::ExpiredNoWayIn {
                    endpoint: self.endpoint.name(),
                }),
                Some(PpolicyError::AccountLocked) => Err(ChangeError::NotAllowed(
                    SignInReason::Locked.explain().to_string(),
                )),
                _ => Err(ChangeError::WrongCurrent),
            },
            RC_STRONGER_AUTH_REQUIRED => Err(self.needs_encryption()),
            rc => {
                Err(self.endpoint_error(rc.to_string(), clean_or(&result.text, "the bind failed")))
            }
        }
    }

    /// The configured flavor, or (auto) whether the root DSE announces Active Directory.
    async fn is_active_directory(&self, session: &mut Connection) -> Result<bool, ProviderError> {
        match self.flavor {
            LdapFlavor::ActiveDirectory => Ok(true),
            LdapFlavor::Openldap | LdapFlavor::Ds389 => Ok(false),
            LdapFlavor::Auto => {
                let root = self
                    .read_entry(session, "", &["supportedCapabilities"])
                    .await?;
                Ok(root
                    .as_ref()
                    .and_then(|r| r.get("supportedCapabilities"))
                    .is_some_and(|caps| caps.iter().any(|c| c == AD_CAPABILITY_OID)))
            }
        }
    }

    /// RFC 3062 on the bound connection (no user identity: the signed-in user's own password).
    async fn change_openldap(
        &self,
        session: &mut Connection,
        username: &str,
        bind_name: &str,
        current: &Secret,
        new: &Secret,
    ) -> Result<ChangedVia, ChangeError> {
        let request = PasswordModify {
            user_id: None,
            old_pass: Some(current.expose()),
            new_pass: Some(new.expose()),
        };
        let sent = session
            .ldap
            .with_controls(ppolicy_request())
            .with_timeout(self.timeout())
            .extended(request)
            .await;
        let ExopResult(_, result) = match sent {
            Ok(answer) => answer,
            Err(e) => return Err(self.unconfirmed(e, session).await),
        };
        if result.rc == RC_SUCCESS {
            return Ok(ChangedVia::Ldap);
        }
        let control = self.ppolicy_control(&result)?;
        match openldap_outcome(result.rc, control.error, &result.text) {
            Outcome::Refused(rule) => {
                let rules = match self.openldap_policy(session, username, bind_name).await {
                    Ok(Some(policy)) => describe(&policy_values(&policy)),
                    Ok(None) => Vec::new(),
                    Err(e) => {
                        tracing::debug!(error = %e, "could not read the password policy's rules");
                        Vec::new()
                    }
                };
                Err(ChangeError::Refused(Refusal {
                    rule,
                    detail: detail_of(&result.text),
                    rules,
                }))
            }
            other => Err(self.failure(other, &result)),
        }
    }

    /// AD's self-change: one modify deleting the old and adding the new `unicodePwd` value.
    async fn change_ad(
        &self,
        session: &mut Connection,
        username: &str,
        bind_name: &str,
        current: &Secret,
        new: &Secret,
    ) -> Result<ChangedVia, ChangeError> {
        if !self.endpoint.encrypted() {
            return Err(self.needs_encryption());
        }
        let entry = self
            .user_entry(session, username, bind_name, &["distinguishedName"])
            .await?;
        let (old_value, new_value) = (unicode_pwd(current), unicode_pwd(new));
        let attribute: &[u8] = b"unicodePwd";
        let mods = vec![
            Mod::Delete(attribute, HashSet::from([&old_value[..]])),
            Mod::Add(attribute, HashSet::from([&new_value[..]])),
        ];
        let sent = session
            .ldap
            .with_timeout(self.timeout())
            .modify(&entry.dn, mods)
            .await;
        let result = match sent {
            Ok(result) => result,
            Err(e) => return Err(self.unconfirmed(e, session).await),
        };
        match ad_modify_outcome(result.rc, &result.text) {
            Outcome::Changed => Ok(ChangedVia::Ldap),
            Outcome::Refused(rule) => Err(ChangeError::Refused(Refusal {
                rule,
                detail: detail_of(&result.text),
                rules: Vec::new(),
            })),
            other => Err(self.failure(other, &result)),
        }
    }

    async fn change_with_kerberos(
        &self,
        account: &str,
        current: &Secret,
        new: &Secret,
    ) -> Result<ChangedVia, ChangeError> {
        // Two round trips to the KDC, plus starting a program.
        let timeout = self
            .timeout()
            .saturating_mul(2)
            .max(std::time::Duration::from_secs(20));
        match kpasswd::change(&self.kerberos, account, current, new, timeout).await {
            Ok(()) => Ok(ChangedVia::Kerberos),
            Err(KpasswdError::WrongCurrent) => Err(ChangeError::WrongCurrent),
            Err(KpasswdError::Refused(text)) => Err(ChangeError::Refused(Refusal {
                rule: rule_from_text(&text),
                detail: Some(text),
                rules: Vec::new(),
            })),
            Err(KpasswdError::Timeout(secs)) => Err(ChangeError::Unconfirmed {
                endpoint: "the Kerberos server".into(),
                detail: format!("kpasswd did not finish within {secs} s"),
            }),
            Err(e) => Err(ChangeError::Kerberos(e)),
        }
    }

    /// The user's effective policy entry: its `pwdPolicySubentry`, else the only readable one.
    async fn openldap_policy(
        &self,
        session: &mut Connection,
        username: &str,
        bind_name: &str,
    ) -> Result<Option<Attributes>, ProviderError> {
        let entry = self
            .user_entry(session, username, bind_name, &openldap::USER_ATTRIBUTES)
            .await?;
        let subentry = entry
            .single("pwdPolicySubentry")
            .map_err(|m| self.protocol(m))?
            .map(str::to_string);
        if let Some(dn) = subentry {
            return self.read_entry(session, &dn, &RULE_ATTRIBUTES).await;
        }
        let base = self.base.clone();
        let found = self
            .search(
                session,
                &base,
                Scope::Subtree,
                "(objectClass=pwdPolicy)",
                &RULE_ATTRIBUTES,
            )
            .await?;
        Ok(found.and_then(|mut p| (p.len() == 1).then(|| p.remove(0))))
    }

    /// An operation failed without an answer: it may have reached the directory.
    async fn unconfirmed(&self, e: LdapError, session: &mut Connection) -> ChangeError {
        ChangeError::Unconfirmed {
            endpoint: self.endpoint.name(),
            detail: self.op_error(e, session).await.to_string(),
        }
    }

    fn failure(&self, outcome: Outcome, result: &LdapResult) -> ChangeError {
        match outcome {
            Outcome::WrongCurrent => ChangeError::WrongCurrent,
            Outcome::NotAllowed => ChangeError::NotAllowed(format!(
                "{} does not let this account change its own password ({}); ask your IT desk",
                self.endpoint.name(),
                clean_or(&result.text, "access denied")
            )),
            Outcome::NeedsEncryption => self.needs_encryption(),
            Outcome::Changed | Outcome::Refused(_) | Outcome::Other => self.endpoint_error(
                result.rc.to_string(),
                clean_or(&result.text, "the password change failed"),
            ),
        }
    }

    fn needs_encryption(&self) -> ChangeError {
        ChangeError::NeedsEncryption {
            endpoint: self.endpoint.name(),
        }
    }

    fn endpoint_error(&self, code: String, error: String) -> ChangeError {
        ChangeError::Provider(ProviderError::Endpoint {
            endpoint: self.endpoint.name(),
            code,
            error,
        })
    }
}

/// The ppolicy request control, so the server says which rule was broken.
fn ppolicy_request() -> RawControl {
    RawControl {
        ctype: ppolicy::PPOLICY_OID.to_string(),
        crit: false,
        val: None,
    }
}

/// `"password"` in UTF-16LE, as `unicodePwd` wants it; wiped on drop.
pub fn unicode_pwd(password: &Secret) -> Zeroizing<Vec<u8>> {
    let text = password.expose();
    // Room for every code unit up front: growing would leave unwiped copies behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(2 * text.len() + 4));
    let quote = u16::from(b'"');
    for unit in std::iter::once(quote)
        .chain(text.encode_utf16())
        .chain(std::iter::once(quote))
    {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// What the answer to a change request means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    Refused(Rule),
    WrongCurrent,
    NotAllowed,
    NeedsEncryption,
    Other,
}

/// An OpenLDAP Password Modify answer: the ppolicy error names the rule.
pub fn openldap_outcome(rc: u32, error: Option<PpolicyError>, text: &str) -> Outcome {
    let rule = match error {
        Some(PpolicyError::Other(3)) => return Outcome::NotAllowed,
        Some(PpolicyError::Other(4)) => Some(Rule::MustSupplyOld),
        Some(PpolicyError::Other(5)) => Some(Rule::Quality),
        Some(PpolicyError::Other(6)) => Some(Rule::TooShort),
        Some(PpolicyError::Other(7)) => Some(Rule::TooYoung),
        Some(PpolicyError::Other(8)) => Some(Rule::InHistory),
        Some(PpolicyError::Other(9)) => Some(Rule::TooLong),
        _ => None,
    };
    match (rc, rule) {
        (RC_SUCCESS, _) => Outcome::Changed,
        (_, Some(rule)) => Outcome::Refused(rule),
        (RC_CONSTRAINT_VIOLATION, None) => Outcome::Refused(rule_from_text(text)),
        (RC_INSUFFICIENT_ACCESS, None) => Outcome::NotAllowed,
        (RC_UNWILLING_TO_PERFORM, None) if text.contains("old password") => Outcome::WrongCurrent,
        (RC_STRONGER_AUTH_REQUIRED | RC_CONFIDENTIALITY_REQUIRED, _) => Outcome::NeedsEncryption,
        _ => Outcome::Other,
    }
}

/// An AD (or Samba) answer to the `unicodePwd` modify, from its result code and the Win32 code
/// that starts the diagnostic message (`0000052D: ...`).
pub fn ad_modify_outcome(rc: u32, text: &str) -> Outcome {
    if rc == RC_SUCCESS {
        return Outcome::Changed;
    }
    match (rc, leading_code(text)) {
        (_, Some(AD_PASSWORD_RESTRICTION)) => Outcome::Refused(rule_from_text(text)),
        (_, Some(AD_INVALID_PASSWORD)) => Outcome::WrongCurrent,
        (RC_STRONGER_AUTH_REQUIRED, _) => Outcome::NeedsEncryption,
        (RC_UNWILLING_TO_PERFORM, _) if text.to_ascii_lowercase().contains("encrypt") => {
            Outcome::NeedsEncryption
        }
        (RC_INSUFFICIENT_ACCESS, _) | (_, Some(AD_ACCESS_DENIED)) => Outcome::NotAllowed,
        (RC_CONSTRAINT_VIOLATION, _) => Outcome::Refused(Rule::Unspecified),
        _ => Outcome::Other,
    }
}

/// The hexadecimal Win32 code before the first colon: `0000052D: Constraint violation ...`.
fn leading_code(text: &str) -> Option<u32> {
    let (code, _) = text.trim_start().split_once(':')?;
    (code.len() == 8 && code.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(code, 16).ok())
        .flatten()
}

/// The rule a directory's (or KDC's) words name.
pub fn rule_from_text(text: &str) -> Rule {
    let text = text.to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if says(&["too short"]) {
        Rule::TooShort
    } else if says(&["too long"]) {
        Rule::TooLong
    } else if says(&["complex", "quality"]) {
        Rule::Quality
    } else if says(&["history"]) {
        Rule::InHistory
    } else if says(&[
        "too young",
        "too recent",
        "minimum password age",
        "days old",
    ]) {
        Rule::TooYoung
    } else {
        Rule::Unspecified
    }
}

/// The directory's explanation worth showing: Samba's words after `check_password_restrictions:`,
/// or a short diagnostic that is not a bare code.
fn detail_of(text: &str) -> Option<String> {
    const SAMBA: &str = "check_password_restrictions: ";
    let said = match text.find(SAMBA) {
        Some(at) => &text[at + SAMBA.len()..],
        None if leading_code(text).is_some() => return None,
        None => text,
    };
    let said = clean_or(said, "");
    let said = said.trim_end_matches('!').trim();
    if said.is_empty() {
        return None;
    }
    let mut chars = said.chars();
    let first = chars.next()?.to_uppercase();
    Some(format!("{first}{}", chars.as_str()))
}

/// The numbers of a password policy that a person can act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyValues {
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub history: Option<i64>,
    pub min_age_secs: Option<i64>,
}

fn policy_values(policy: &Attributes) -> PolicyValues {
    let number = |name: &str| {
        policy
            .single(name)
            .ok()
            .flatten()
            .and_then(|v| openldap::parse_seconds(name, v).ok())
    };
    PolicyValues {
        min_length: number("pwdMinLength"),
        max_length: number("pwdMaxLength"),
        history: number("pwdInHistory"),
        min_age_secs: number("pwdMinAge"),
    }
}

/// The policy in words: "at least 8 characters", "not one of your last 5 passwords", ...
pub fn describe(values: &PolicyValues) -> Vec<String> {
    let mut rules = Vec::new();
    let positive = |v: Option<i64>| v.filter(|n| *n > 0);
    if let Some(n) = positive(values.min_length) {
        rules.push(format!("at least {n} characters"));
    }
    if let Some(n) = positive(values.max_length) {
        rules.push(format!("at most {n} characters"));
    }
    if let Some(n) = positive(values.history) {
        rules.push(match n {
            1 => "not the same as your last password".to_string(),
            n => format!("not one of your last {n} passwords"),
        });
    }
    if let Some(secs) = positive(values.min_age_secs) {
        rules.push(format!("at most one change every {}", duration_words(secs)));
    }
    rules
}

fn duration_words(secs: i64) -> String {
    let secs = secs.unsigned_abs();
    let (n, unit) = match secs {
        s if s >= 86_400 => (s.div_ceil(86_400), "day"),
        s if s >= 3_600 => (s.div_ceil(3_600), "hour"),
        s if s >= 60 => (s.div_ceil(60), "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(
            &unicode_pwd(&Secret::new("ab"))[..],
            &[b'"', 0, b'a', 0, b'b', 0, b'"', 0]
        );
        // Outside the BMP: a surrogate pair.
        assert_eq!(
            &unicode_pwd(&Secret::new("é😀"))[..],
            &[b'"', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, b'"', 0]
        );
    }

    // Diagnostics as Samba 4.17 sends them.
    const SAMBA_SHORT: &str = "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!";
    const SAMBA_COMPLEX: &str = "0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!";
    const SAMBA_HISTORY: &str = "0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!";
    const SAMBA_WRONG: &str = "00000056: Constraint violation - check_password_restrictions: The old password specified doesn't match!";
    // And as Windows Server sends them.
    const WINDOWS_POLICY: &str = "0000052D: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\0";
    const WINDOWS_WRONG: &str = "00000056: AtrErr: DSID-03191083, #1:\n\t0: 00000056: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n";

    #[test]
    fn ad_answers_in_words() {
        assert_eq!(ad_modify_outcome(0, ""), Outcome::Changed);
        assert_eq!(
            ad_modify_outcome(19, SAMBA_SHORT),
            Outcome::Refused(Rule::TooShort)
        );
        assert_eq!(
            ad_modify_outcome(19, SAMBA_COMPLEX),
            Outcome::Refused(Rule::Quality)
        );
        assert_eq!(
            ad_modify_outcome(19, SAMBA_HISTORY),
            Outcome::Refused(Rule::InHistory)
        );
        assert_eq!(ad_modify_outcome(19, SAMBA_WRONG), Outcome::WrongCurrent);
        assert_eq!(
            ad_modify_outcome(19, WINDOWS_POLICY),
            Outcome::Refused(Rule::Unspecified)
        );
        assert_eq!(ad_modify_outcome(19, WINDOWS_WRONG), Outcome::WrongCurrent);
        assert_eq!(
            ad_modify_outcome(
                50,
                "00000005: SecErr: DSID-031A11E5, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
            ),
            Outcome::NotAllowed
        );
        assert_eq!(
            ad_modify_outcome(53, "0000001F: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0 (encryption required)"),
            Outcome::NeedsEncryption
        );
        assert_eq!(
            ad_modify_outcome(8, "BindSimple: Transport encryption required."),
            Outcome::NeedsEncryption
        );
        assert_eq!(ad_modify_outcome(1, "operations error"), Outcome::Other);
    }

    #[test]
    fn details_are_the_directory_words_without_codes() {
        assert_eq!(
            detail_of(SAMBA_SHORT).as_deref(),
            Some("The password is too short. It should be equal or longer than 7 characters")
        );
        assert_eq!(
            detail_of(SAMBA_COMPLEX).as_deref(),
            Some("The password does not meet the complexity criteria")
        );
        assert_eq!(detail_of(WINDOWS_POLICY), None);
        assert_eq!(
            detail_of("Password fails quality checking policy").as_deref(),
            Some("Password fails quality checking policy")
        );
        assert_eq!(detail_of(""), None);
        assert_eq!(detail_of("\u{1b}\0"), None);
    }

    #[test]
    fn openldap_answers_name_the_rule() {
        let case =
            |rc, code: Option<u32>, text| openldap_outcome(rc, code.map(PpolicyError::Other), text);
        assert_eq!(case(0, None, ""), Outcome::Changed);
        assert_eq!(
            case(19, Some(6), "Password fails quality checking policy"),
            Outcome::Refused(Rule::TooShort)
        );
        assert_eq!(case(19, Some(5), ""), Outcome::Refused(Rule::Quality));
        assert_eq!(
            case(19, Some(7), "Password is too young to change"),
            Outcome::Refused(Rule::TooYoung)
        );
        assert_eq!(
            case(19, Some(8), "Password is in history of old passwords"),
            Outcome::Refused(Rule::InHistory)
        );
        assert_eq!(case(19, Some(9), ""), Outcome::Refused(Rule::TooLong));
        assert_eq!(case(19, Some(4), ""), Outcome::Refused(Rule::MustSupplyOld));
        assert_eq!(case(50, Some(3), ""), Outcome::NotAllowed);
        assert_eq!(case(50, None, "insufficient access"), Outcome::NotAllowed);
        // Without the control, the words decide.
        assert_eq!(
            case(19, None, "Password is in history of old passwords"),
            Outcome::Refused(Rule::InHistory)
        );
        assert_eq!(
            case(53, None, "unwilling to verify old password"),
            Outcome::WrongCurrent
        );
        assert_eq!(
            case(8, None, "confidentiality required"),
            Outcome::NeedsEncryption
        );
        assert_eq!(case(80, None, "other"), Outcome::Other);
    }

    #[test]
    fn kdc_words_name_the_rule() {
        for (text, rule) in [
            ("Password too short, password must be at least 7 characters long.", Rule::TooShort),
            ("Password does not meet complexity requirements", Rule::Quality),
            ("Password is already in password history.  New password must not match any of your 24 previous passwords.", Rule::InHistory),
            ("Password must be at least 1 days old before it can be changed.", Rule::TooYoung),
            ("The password was changed too recently", Rule::TooYoung),
            ("Policy rejected the password", Rule::Unspecified),
        ] {
            assert_eq!(rule_from_text(text), rule, "{text}");
        }
    }

    #[test]
    fn rules_in_words() {
        let rules = describe(&PolicyValues {
            min_length: Some(8),
            max_length: Some(0),
            history: Some(5),
            min_age_secs: Some(86_400),
        });
        assert_eq!(
            rules,
            vec![
                "at least 8 characters",
                "not one of your last 5 passwords",
                "at most one change every 1 day"
            ]
        );
        assert_eq!(describe(&PolicyValues::default()), Vec::<String>::new());
        assert_eq!(duration_words(3_600 * 5), "5 hours");
        assert_eq!(duration_words(90), "2 minutes");
        assert_eq!(duration_words(30), "30 seconds");
        let refusal = Refusal {
            rule: Rule::TooShort,
            detail: Some("Password fails quality checking policy".into()),
            rules: vec!["at least 8 characters".into()],
        };
        assert_eq!(
            refusal.to_string(),
            "the new password was refused: it is too short (the directory says: \"Password fails quality checking policy\"); the rules: at least 8 characters"
        );
    }
}
