//! The Entra ID (AADSTS) error body the token endpoint answers with.
//!
//! Clients are told to branch on `error_codes` and `suberror`, never on the description, so
//! this module gets both right for every code the emulator produces, and words the description
//! as Entra does: `AADSTSn: text`, then `Trace ID`, `Correlation ID` and `Timestamp` lines
//! separated by CRLF.

use chrono::{DateTime, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::{json_response, jwt, HttpResponse};

/// One AADSTS error, rendered as Entra's JSON error body.
pub(super) struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
    /// `suberror`, `password_change_url`, `claims`.
    extra: Map<String, Value>,
}

impl AadError {
    fn new(error: &'static str, code: u32, message: impl Into<String>) -> AadError {
        AadError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    pub(super) fn with(mut self, key: &str, value: Value) -> AadError {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub(super) fn invalid_grant(code: u32, suberror: Option<&str>) -> AadError {
        let error = AadError::new("invalid_grant", code, message_for(code));
        match suberror {
            Some(suberror) => error.with("suberror", json!(suberror)),
            None => error,
        }
    }

    /// Throttling (429 or 503), sent with `Retry-After`.
    pub(super) fn temporarily_unavailable(status: StatusCode) -> AadError {
        AadError {
            status,
            ..AadError::new(
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            )
        }
    }

    pub(super) fn missing(parameter: &str) -> AadError {
        AadError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    pub(super) fn malformed_body() -> AadError {
        AadError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    }

    pub(super) fn tenant_not_found(tenant: &str) -> AadError {
        AadError::new(
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// The discovery document's answer for a domain no tenant has verified.
    pub(super) fn invalid_tenant(tenant: &str) -> AadError {
        AadError {
            error: "invalid_tenant",
            ..AadError::tenant_not_found(tenant)
        }
    }

    pub(super) fn post_only(method: &Method) -> AadError {
        AadError::new(
            "invalid_request",
            900561,
            format!("The endpoint only accepts POST requests. Received a {method} request."),
        )
    }

    pub(super) fn unsupported_grant_type(grant_type: &str) -> AadError {
        AadError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    pub(super) fn unknown_client(client_id: &str, tenant: &str) -> AadError {
        AadError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub(super) fn public_client_secret() -> AadError {
        AadError::new(
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        )
    }

    pub(super) fn invalid_scope(scope: &str) -> AadError {
        AadError::new(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope \
                 '{scope}' does not include 'User.Read'."
            ),
        )
    }

    /// 50076 is observed as `invalid_grant`; 50079 and 50074 as `interaction_required`. Clients
    /// must go by `error_codes`/`suberror`, not by `error`.
    pub(super) fn mfa(code: u32) -> AadError {
        let error = if code == 50076 {
            "invalid_grant"
        } else {
            "interaction_required"
        };
        AadError::new(error, code, message_for(code))
            .with("suberror", json!("basic_action"))
            .with(
                "claims",
                json!(r#"{"access_token":{"capolids":{"essential":true,"values":["5a4c3b2a-1e0f-4d2b-9c5e-0e1d2c3b4a59"]}}}"#),
            )
    }

    pub(super) fn consent(client_id: &str) -> AadError {
        AadError::new(
            "invalid_grant",
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID \
                 '{client_id}' named 'signin-assistant'. Send an interactive authorization \
                 request for this user and resource."
            ),
        )
        .with("suberror", json!("consent_required"))
    }

    pub(super) fn revoked(
        issued: Option<DateTime<Utc>>,
        revoked: Option<DateTime<Utc>>,
    ) -> AadError {
        let when = |t: Option<DateTime<Utc>>| {
            t.map_or_else(String::new, |t| t.format("%m/%d/%Y %H:%M:%S").to_string())
        };
        AadError::new(
            "invalid_grant",
            50173,
            format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is \
                 needed. The user might have changed or reset their password. The grant was \
                 issued on '{}' and the TokensValidFrom date (before which tokens are not valid) \
                 for this user is '{}'.",
                when(issued),
                when(revoked)
            ),
        )
    }

    pub(super) fn refresh_expired(issued: DateTime<Utc>) -> AadError {
        AadError::new(
            "invalid_grant",
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and \
                 was inactive for 90.00:00:00.",
                issued.format("%Y-%m-%dT%H:%M:%S.0000000Z")
            ),
        )
    }

    /// The client must not use the device code flow or the password grant: "Allow public client
    /// flows" is off in the app registration.
    pub(super) fn public_client_flows_disabled() -> AadError {
        AadError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    }

    /// Device code flow: the person has not finished on the device login page yet.
    pub(super) fn authorization_pending() -> AadError {
        AadError::new(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }

    /// Device code flow: polled faster than the interval (RFC 8628 3.5).
    pub(super) fn slow_down() -> AadError {
        AadError::new(
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Polling too fast; add 5 seconds to the interval.",
        )
    }

    pub(super) fn authorization_declined() -> AadError {
        AadError::new(
            "authorization_declined",
            65004,
            "User declined to consent to access the app.",
        )
    }

    pub(super) fn device_code_expired() -> AadError {
        AadError::new(
            "expired_token",
            70019,
            "Verification code expired. Have the user retry the sign-in.",
        )
    }

    pub(super) fn bad_verification_code() -> AadError {
        AadError::new(
            "bad_verification_code",
            70018,
            "Invalid verification code due to User typing in wrong user code for device code flow.",
        )
    }

    pub(super) fn code_invalid() -> AadError {
        AadError::new(
            "invalid_grant",
            70000,
            "The provided value for the 'code' parameter is not valid.",
        )
    }

    pub(super) fn code_redeemed() -> AadError {
        AadError::new(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )
    }

    pub(super) fn code_expired() -> AadError {
        AadError::new(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        )
    }

    pub(super) fn reply_address_mismatch(given: &str, issued: &str) -> AadError {
        AadError::new(
            "invalid_grant",
            500112,
            format!(
                "The reply address '{given}' does not match the reply address '{issued}' provided when requesting Authorization code."
            ),
        )
    }

    pub(super) fn code_verifier_mismatch() -> AadError {
        AadError::new(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    }

    /// Authorize endpoint: the redirect URI is not registered (shown as a page, not redirected).
    pub(super) fn redirect_uri_not_registered(redirect_uri: &str, client_id: &str) -> AadError {
        AadError::new(
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        )
    }

    /// Authorize endpoint: a public client must send a PKCE S256 challenge.
    pub(super) fn pkce_required() -> AadError {
        AadError::new(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange (code_challenge with code_challenge_method S256) is required for this public client.",
        )
    }

    pub(super) fn unsupported_response_type(response_type: &str) -> AadError {
        AadError::new(
            "unsupported_response_type",
            700054,
            format!("response_type '{response_type}' is not enabled for the application."),
        )
    }

    /// Authorize endpoint: the person cancelled (or declined consent).
    pub(super) fn access_denied() -> AadError {
        AadError::new(
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        )
    }

    /// Authorize endpoint: only an admin can consent for this app.
    pub(super) fn admin_consent_required() -> AadError {
        AadError::new(
            "consent_required",
            90094,
            "The grant requires admin permission.",
        )
    }

    /// `AADSTSn: message`, as shown on an error page or sent as `error_description` in a
    /// redirect (where Entra adds the trace lines too).
    pub(super) fn description(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }

    /// The OAuth `error` value.
    pub(super) fn error(&self) -> &'static str {
        self.error
    }

    pub(super) fn response(self, correlation_id: &str) -> HttpResponse {
        let code = self.code;
        let trace_id = jwt::random_guid();
        let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let mut body = Map::new();
        body.insert("error".into(), json!(self.error));
        body.insert(
            "error_description".into(),
            json!(format!(
                "AADSTS{code}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.message
            )),
        );
        body.insert("error_codes".into(), json!([code]));
        body.insert("timestamp".into(), json!(timestamp));
        body.insert("trace_id".into(), json!(trace_id));
        body.insert("correlation_id".into(), json!(correlation_id));
        body.insert(
            "error_uri".into(),
            json!(format!(
                "https://login.microsoftonline.com/error?code={code}"
            )),
        );
        body.extend(self.extra);
        json_response(self.status, &Value::Object(body))
    }
}

/// Entra's wording for the account-state codes.
fn message_for(code: u32) -> String {
    match code {
        50126 => "Error validating credentials due to invalid username or password.",
        50055 => "The password is expired.",
        50144 => "User's Active Directory password has expired. Generate a new password for the user or have the user use the self-service reset tool to reset their password.",
        50053 => "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.",
        50057 => "The user account is disabled. The account has been disabled by an administrator.",
        50076 => "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        50079 => "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        50074 => "Strong Authentication is required.",
        50034 => "The user account does not exist in the directory. To sign into this application, the account must be added to the directory.",
        50158 => "External security challenge not satisfied. User will be redirected to another page or authentication provider to satisfy additional authentication challenges.",
        53003 => "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        _ => "The sign-in was refused.",
    }
    .to_owned()
}
