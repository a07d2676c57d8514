//! What the emulated tenant looks like: one tenant, one account, one app registration, and how
//! the endpoints behave.
//!
//! A [`Scenario`] is plain data with public fields so a test can state exactly the situation it
//! exercises ("password expires in 3 days", "domain policy is forbidden", "first two Graph calls
//! are throttled"). The constructors cover the common situations; the `with_*` builders adjust one
//! aspect at a time.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

/// The change-password page Entra names in `password_change_url` and in the `pwd_url` claim.
pub const DEFAULT_PASSWORD_CHANGE_URL: &str =
    "https://portal.microsoftonline.com/ChangePassword.aspx";

/// One tenant with one account, and the behaviour of the token endpoint and Graph for it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Verified domain name of the tenant, accepted as the `{tenant}` path segment.
    pub tenant: String,
    /// Directory (tenant) id; also accepted as the `{tenant}` segment and issued as the `tid` claim.
    pub tenant_id: String,
    /// The public client registered in the tenant; any other `client_id` gets AADSTS700016.
    pub client_id: String,
    /// The account's user principal name (compared case-insensitively, as Entra does).
    pub username: String,
    /// The account's current password.
    pub password: String,
    /// The account's object id (`oid` claim, Graph `id`).
    pub user_id: String,
    /// Display name (`name` claim, Graph `displayName`).
    pub display_name: String,
    /// What a password grant with the right username and password answers.
    pub sign_in: SignInBehaviour,
    /// Graph `lastPasswordChangeDateTime`.
    pub last_password_change: DateTime<Utc>,
    /// Graph `passwordPolicies` (null when `None`).
    pub password_policies: Option<String>,
    /// Graph `onPremisesSyncEnabled` (null when `None`).
    pub on_premises_sync_enabled: Option<bool>,
    /// What `GET /v1.0/domains/{upn suffix}` answers.
    pub domain: DomainPolicy,
    /// The `pwd_exp`/`pwd_url` optional claims put in access tokens, if any.
    pub claims: Option<PasswordClaims>,
    /// URL sent as `password_change_url` with AADSTS50055.
    pub password_change_url: String,
    /// How many requests are throttled before normal service.
    pub throttle: Throttle,
    /// A deliberate protocol fault, for client robustness tests (cargo feature `faults`).
    #[cfg(feature = "faults")]
    pub misbehaviour: Option<super::Misbehaviour>,
    /// The one-time code of an account with multi-factor authentication: the sign-in page asks
    /// for it after the password. An account whose password grant answers
    /// [`SignInBehaviour::MfaRequired`] is asked for it too ([`DEFAULT_ONE_TIME_CODE`] when `None`).
    pub one_time_code: Option<String>,
    /// Redirect URIs registered for the app (platform "Mobile and desktop applications"). A
    /// loopback one (`http://localhost`, `http://127.0.0.1`) matches any port, as Entra's do.
    pub redirect_uris: Vec<String>,
    /// "Allow public client flows": the device code flow and the password grant need it
    /// (AADSTS7000218 without).
    pub public_client_flows: bool,
    /// Whether users may consent to the app themselves; otherwise the sign-in page of an account
    /// with [`SignInBehaviour::ConsentMissing`] says "Need admin approval".
    pub user_consent_allowed: bool,
    /// The device code flow's timing.
    pub device_code: DeviceCodeSettings,
}

/// The one-time code of MFA accounts that do not name their own.
pub const DEFAULT_ONE_TIME_CODE: &str = "246810";

/// Timing of the device code flow (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeSettings {
    /// `interval`: seconds between two polls; a faster poll gets `slow_down`.
    pub interval_secs: u64,
    /// `expires_in`: how long the codes are valid.
    pub lifetime_secs: u64,
    /// The first this-many polls that would be `authorization_pending` get `slow_down` instead.
    pub slow_down_polls: u32,
}

impl Default for DeviceCodeSettings {
    /// Entra's: a poll every 5 s, codes valid for 15 minutes.
    fn default() -> DeviceCodeSettings {
        DeviceCodeSettings {
            interval_secs: 5,
            lifetime_secs: 900,
            slow_down_polls: 0,
        }
    }
}

/// The answer to a password grant whose username and password are correct.
///
/// A wrong password or an unknown user always gets AADSTS50126, whatever this says: account
/// state is revealed only to someone who knows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInBehaviour {
    /// Tokens are issued.
    Ok,
    /// AADSTS50055, suberror `user_password_expired`, with `password_change_url`.
    PasswordExpired,
    /// AADSTS50144: the on-premises Active Directory password has expired.
    OnPremPasswordExpired,
    /// AADSTS50053: locked out.
    Locked,
    /// AADSTS50057: account disabled.
    Disabled,
    /// Multi-factor authentication required: 50076, 50079 or 50074 (suberror `basic_action`).
    MfaRequired(u32),
    /// AADSTS65001, suberror `consent_required`.
    ConsentMissing,
    /// Any other AADSTS code, e.g. 53003 (blocked by Conditional Access).
    OtherError(u32),
}

/// What Graph says about the account's domain password policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPolicy {
    /// 200 with these values (`null` when `None`; i64 so that 2147483647 fits).
    Values {
        validity_days: Option<i64>,
        notification_days: Option<i64>,
    },
    /// 403 `Authorization_RequestDenied` (a plain user without Domain.Read.All).
    Forbidden,
    /// 404 `Request_ResourceNotFound`.
    NotFound,
}

impl Default for DomainPolicy {
    fn default() -> DomainPolicy {
        DomainPolicy::Values {
            validity_days: Some(90),
            notification_days: Some(14),
        }
    }
}

/// The optional password claims Entra adds to tokens inside the notification window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordClaims {
    /// `pwd_exp`: seconds after `iat` at which the password expires (issued as a digit string).
    pub expires_in_secs: i64,
    /// `pwd_url`: where the user changes the password.
    pub url: String,
}

/// Throttling: the first `token` token requests and the first `graph` Graph requests are refused
/// with `status` (429 or 503) and `Retry-After: retry_after_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub token: u32,
    pub graph: u32,
    pub retry_after_secs: u64,
    pub status: u16,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle {
            token: 0,
            graph: 0,
            retry_after_secs: 1,
            status: 429,
        }
    }
}

impl Default for Scenario {
    /// Adele at Contoso, cloud-only account, password changed 30 days ago, default domain policy
    /// (90 days, warn 14 days before), no password claims, no throttling.
    fn default() -> Scenario {
        Scenario {
            tenant: "contoso.onmicrosoft.com".to_owned(),
            tenant_id: "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59".to_owned(),
            client_id: "0c1f5a8e-2b7d-4e3a-9f61-5d4c3b2a1e0f".to_owned(),
            username: "adele@contoso.com".to_owned(),
            password: "Correct-Horse-Battery-7".to_owned(),
            user_id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd".to_owned(),
            display_name: "Adele Vance".to_owned(),
            sign_in: SignInBehaviour::Ok,
            last_password_change: now_secs() - TimeDelta::days(30),
            password_policies: None,
            on_premises_sync_enabled: None,
            domain: DomainPolicy::default(),
            claims: None,
            password_change_url: DEFAULT_PASSWORD_CHANGE_URL.to_owned(),
            throttle: Throttle::default(),
            #[cfg(feature = "faults")]
            misbehaviour: None,
            one_time_code: None,
            redirect_uris: vec!["http://localhost".to_owned()],
            public_client_flows: true,
            user_consent_allowed: true,
            device_code: DeviceCodeSettings::default(),
        }
    }
}

impl Scenario {
    /// With the default 90/14-day domain policy, the password expires in `days` days plus five
    /// minutes (so "in 3 days" does not slip to 2 while a test runs). Inside the 14-day
    /// notification window tokens carry `pwd_exp`/`pwd_url`, as Entra's do.
    pub fn expires_in_days(days: i64) -> Scenario {
        let expires_in = TimeDelta::days(days) + TimeDelta::minutes(5);
        let claims = (0..=14).contains(&days).then(|| PasswordClaims {
            expires_in_secs: expires_in.num_seconds(),
            url: DEFAULT_PASSWORD_CHANGE_URL.to_owned(),
        });
        Scenario {
            last_password_change: now_secs() - TimeDelta::days(90) + expires_in,
            domain: DomainPolicy::default(),
            claims,
            ..Scenario::default()
        }
    }

    /// The password expired a day ago: the password grant answers AADSTS50055.
    pub fn expired() -> Scenario {
        Scenario {
            last_password_change: now_secs() - TimeDelta::days(91),
            sign_in: SignInBehaviour::PasswordExpired,
            ..Scenario::default()
        }
    }

    /// The account has `DisablePasswordExpiration` and an old password.
    pub fn never_expires() -> Scenario {
        Scenario {
            last_password_change: now_secs() - TimeDelta::days(400),
            password_policies: Some("DisablePasswordExpiration".to_owned()),
            ..Scenario::default()
        }
    }

    /// An account synchronised from on-premises AD: Entra Connect sets
    /// `DisablePasswordExpiration`, so the real expiry lives in AD.
    pub fn synced() -> Scenario {
        Scenario {
            password_policies: Some("DisablePasswordExpiration".to_owned()),
            on_premises_sync_enabled: Some(true),
            ..Scenario::default()
        }
    }

    /// An account with multi-factor authentication, as most tenants have today: the password
    /// grant answers AADSTS50076; the browser and device code sign-ins ask for the password and
    /// then the one-time code [`DEFAULT_ONE_TIME_CODE`]. The password expires in 30 days.
    pub fn mfa() -> Scenario {
        Scenario::expires_in_days(30).with_mfa(DEFAULT_ONE_TIME_CODE)
    }

    /// Requires multi-factor authentication with `one_time_code` (the password grant answers
    /// AADSTS50076).
    pub fn with_mfa(mut self, one_time_code: &str) -> Scenario {
        self.sign_in = SignInBehaviour::MfaRequired(50076);
        self.one_time_code = Some(one_time_code.to_owned());
        self
    }

    /// The one-time code the sign-in page asks for, if the account has MFA.
    pub fn required_one_time_code(&self) -> Option<&str> {
        match (&self.one_time_code, &self.sign_in) {
            (Some(code), _) => Some(code),
            (None, SignInBehaviour::MfaRequired(_)) => Some(DEFAULT_ONE_TIME_CODE),
            _ => None,
        }
    }

    /// The right password is refused with `behaviour` (e.g. locked, MFA required).
    pub fn rejected(behaviour: SignInBehaviour) -> Scenario {
        Scenario::default().with_sign_in(behaviour)
    }

    pub fn with_credentials(mut self, username: &str, password: &str) -> Scenario {
        self.username = username.to_owned();
        self.password = password.to_owned();
        self
    }

    pub fn with_sign_in(mut self, sign_in: SignInBehaviour) -> Scenario {
        self.sign_in = sign_in;
        self
    }

    pub fn with_domain(mut self, domain: DomainPolicy) -> Scenario {
        self.domain = domain;
        self
    }

    pub fn with_claims(mut self, claims: Option<PasswordClaims>) -> Scenario {
        self.claims = claims;
        self
    }

    pub fn with_throttle(mut self, throttle: Throttle) -> Scenario {
        self.throttle = throttle;
        self
    }

    /// Misbehaves with `misbehaviour` (cargo feature `faults`).
    #[cfg(feature = "faults")]
    pub fn with_misbehaviour(mut self, misbehaviour: super::Misbehaviour) -> Scenario {
        self.misbehaviour = Some(misbehaviour);
        self
    }

    /// The domain part of the UPN, which Graph knows as the account's domain.
    pub fn upn_suffix(&self) -> &str {
        self.username
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain)
    }
}

/// Now, to the second: Graph reports `lastPasswordChangeDateTime` without fractions.
pub(crate) fn now_secs() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}
