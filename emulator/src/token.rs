//! The OAuth2 v2.0 token endpoint: `POST /{tenant}/oauth2/v2.0/token`.
//!
//! Supports the grants the agent uses for a public client (no secret): resource owner password
//! (`grant_type=password`), `refresh_token`, `authorization_code` (redeemed in `authorize`) and
//! the device code poll (in `device`). Requests are checked in the order Entra
//! checks them (tenant, method, parameters, client, scope, then the grant) and refused with the
//! documented AADSTS error body (see `aadsts`). Issued tokens are remembered so that Graph can
//! check bearer tokens and refresh tokens can be revoked.

use chrono::{SubsecRound, TimeDelta, Utc};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use url::Url;

use super::aadsts::AadError;
#[cfg(feature = "faults")]
use super::faults;
use super::form::{field, read_form, resource_scopes, scope_allowed, Grant};
use super::jwt;
use super::scenario::{Scenario, SignInBehaviour};
use super::{
    authorize, device, json_response, tenant_known, with_retry_after, HttpResponse, RefreshGrant,
    RefreshStatus, Shared, State,
};

/// The device code poll's grant type (RFC 8628 3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Microsoft Graph's application id: the audience of Graph access tokens.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Access token lifetime in seconds, as `expires_in` and `exp - iat`.
pub(crate) const ACCESS_TOKEN_LIFETIME: i64 = 3599;

/// Handles one token request; returns the response and the request's `grant_type`, if any.
pub(super) async fn handle(
    request: Request<Incoming>,
    tenant: &str,
    shared: &Shared,
) -> (HttpResponse, Option<String>) {
    let scenario = shared.lock().scenario.clone();
    let correlation_id = correlation_id(&request);
    let fail = |error: AadError| error.response(&correlation_id);

    if let Some(response) = throttled(shared, &scenario, &correlation_id) {
        return (response, None);
    }
    #[cfg(feature = "faults")]
    if let Some(response) = faults::token_endpoint(&scenario) {
        return (response, None);
    }
    if !tenant_known(&scenario, tenant) {
        return (fail(AadError::tenant_not_found(tenant)), None);
    }
    if request.method() != Method::POST {
        return (fail(AadError::post_only(request.method())), None);
    }
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(error) => return (fail(error), None),
    };
    let Some(grant_type) = field(&form, "grant_type") else {
        return (fail(AadError::missing("grant_type")), None);
    };
    let recorded_grant = Some(grant_type.chars().take(64).collect::<String>());
    let outcome = check_client(&form, &scenario).and_then(|()| match grant_type {
        "password" => password_grant(&form, shared, &scenario),
        "refresh_token" => refresh_grant(&form, shared, &scenario),
        "authorization_code" => authorize::redeem(&form, shared),
        DEVICE_CODE_GRANT => device::redeem(&form, shared, &scenario),
        other => Err(AadError::unsupported_grant_type(other)),
    });
    let response = match outcome {
        Ok(grant) => granted(shared, &scenario, &grant),
        Err(error) => fail(error),
    };
    (response, recorded_grant)
}

/// The 200 with the tokens a successful grant issues.
fn granted(shared: &Shared, scenario: &Scenario, grant: &Grant) -> HttpResponse {
    #[cfg(feature = "faults")]
    if let Some(response) = faults::token_body(scenario) {
        return response;
    }
    let body = issue_tokens(&mut shared.lock(), scenario, grant, &shared.base_url);
    json_response(StatusCode::OK, &body)
}

/// Checks `client_id` and the absence of a client secret.
fn check_client(form: &[(String, String)], scenario: &Scenario) -> Result<(), AadError> {
    let client_id = field(form, "client_id").ok_or_else(|| AadError::missing("client_id"))?;
    if !client_id.eq_ignore_ascii_case(&scenario.client_id) {
        return Err(AadError::unknown_client(client_id, &scenario.tenant));
    }
    if field(form, "client_secret").is_some() || field(form, "client_assertion").is_some() {
        return Err(AadError::public_client_secret());
    }
    Ok(())
}

/// The `scope` of a password or refresh-token grant, which must ask for a Graph permission.
fn required_scope(form: &[(String, String)]) -> Result<String, AadError> {
    let scope = field(form, "scope").ok_or_else(|| AadError::missing("scope"))?;
    if !scope_allowed(scope) {
        return Err(AadError::invalid_scope(scope));
    }
    Ok(scope.to_owned())
}

fn password_grant(
    form: &[(String, String)],
    shared: &Shared,
    scenario: &Scenario,
) -> Result<Grant, AadError> {
    let scope = required_scope(form)?;
    if !scenario.public_client_flows {
        return Err(AadError::public_client_flows_disabled());
    }
    let consented = shared.lock().consented;
    let username = field(form, "username").ok_or_else(|| AadError::missing("username"))?;
    let password = field(form, "password").ok_or_else(|| AadError::missing("password"))?;
    if !username.eq_ignore_ascii_case(&scenario.username) || password != scenario.password {
        return Err(AadError::invalid_grant(50126, None));
    }
    let grant = Grant { scope, mfa: false };
    match &scenario.sign_in {
        SignInBehaviour::Ok => Ok(grant),
        SignInBehaviour::ConsentMissing if consented => Ok(grant),
        SignInBehaviour::PasswordExpired => Err(AadError::invalid_grant(
            50055,
            Some("user_password_expired"),
        )
        .with("password_change_url", json!(scenario.password_change_url))),
        SignInBehaviour::OnPremPasswordExpired => Err(AadError::invalid_grant(50144, None)),
        SignInBehaviour::Locked => Err(AadError::invalid_grant(50053, None)),
        SignInBehaviour::Disabled => Err(AadError::invalid_grant(50057, None)),
        SignInBehaviour::MfaRequired(code) => Err(AadError::mfa(*code)),
        SignInBehaviour::ConsentMissing => Err(AadError::consent(&scenario.client_id)),
        SignInBehaviour::OtherError(code) => Err(AadError::invalid_grant(*code, None)),
    }
}

/// Redeems a refresh token. Account states that Entra re-evaluates on refresh (disabled account,
/// Conditional Access) apply; password-only checks (expiry, lockout, MFA, consent) do not, since
/// the refresh token already carries that authentication. Old refresh tokens stay valid after
/// redemption, as Entra's do.
fn refresh_grant(
    form: &[(String, String)],
    shared: &Shared,
    scenario: &Scenario,
) -> Result<Grant, AadError> {
    let scope = required_scope(form)?;
    let token = field(form, "refresh_token").ok_or_else(|| AadError::missing("refresh_token"))?;
    let grant = shared.lock().refresh_tokens.get(token).cloned();
    let Some(grant) = grant else {
        return Err(AadError::revoked(None, None));
    };
    match grant.status {
        RefreshStatus::Revoked => Err(AadError::revoked(Some(grant.issued_at), grant.revoked_at)),
        RefreshStatus::Expired => Err(AadError::refresh_expired(grant.issued_at)),
        RefreshStatus::Active => match scenario.sign_in {
            SignInBehaviour::Disabled => Err(AadError::invalid_grant(50057, None)),
            SignInBehaviour::OtherError(code) => Err(AadError::invalid_grant(code, None)),
            _ => Ok(Grant {
                scope,
                mfa: grant.mfa,
            }),
        },
    }
}

/// Issues tokens for the scenario's account and remembers them. The refresh token is issued only
/// when `offline_access` was asked for and the ID token only for `openid`, as documented.
fn issue_tokens(state: &mut State, scenario: &Scenario, grant: &Grant, base_url: &Url) -> Value {
    let scope = grant.scope.as_str();
    let now = Utc::now().trunc_subsecs(0);
    let iat = now.timestamp();
    let exp = iat + ACCESS_TOKEN_LIFETIME;
    let granted = granted_scopes(scope);

    let mut access = Map::new();
    access.insert("aud".into(), json!(GRAPH_APP_ID));
    access.insert(
        "iss".into(),
        json!(format!("https://sts.windows.net/{}/", scenario.tenant_id)),
    );
    access.insert("iat".into(), json!(iat));
    access.insert("nbf".into(), json!(iat));
    access.insert("exp".into(), json!(exp));
    access.insert("appid".into(), json!(scenario.client_id));
    access.insert("appidacr".into(), json!("0"));
    let amr = if grant.mfa {
        json!(["pwd", "mfa"])
    } else {
        json!(["pwd"])
    };
    access.insert("amr".into(), amr);
    access.insert("idtyp".into(), json!("user"));
    access.insert("name".into(), json!(scenario.display_name));
    access.insert("oid".into(), json!(scenario.user_id));
    access.insert("scp".into(), json!(granted));
    access.insert("sub".into(), json!(subject(scenario)));
    access.insert("tid".into(), json!(scenario.tenant_id));
    access.insert("unique_name".into(), json!(scenario.username));
    access.insert("upn".into(), json!(scenario.username));
    access.insert("uti".into(), json!(jwt::random_opaque(22)));
    access.insert("ver".into(), json!("1.0"));
    if let Some(claims) = &scenario.claims {
        // v1 access tokens carry pwd_exp as a string of digits.
        access.insert("pwd_exp".into(), json!(claims.expires_in_secs.to_string()));
        access.insert("pwd_url".into(), json!(claims.url));
    }
    let access_token = jwt::encode(&access);
    let expires_at = now + TimeDelta::seconds(ACCESS_TOKEN_LIFETIME);
    state.access_tokens.insert(access_token.clone(), expires_at);

    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("scope".into(), json!(granted));
    body.insert("expires_in".into(), json!(ACCESS_TOKEN_LIFETIME));
    body.insert("ext_expires_in".into(), json!(ACCESS_TOKEN_LIFETIME));
    body.insert("access_token".into(), json!(access_token));
    if has_scope(scope, "offline_access") {
        let refresh_token = format!("0.A{}", jwt::random_opaque(180));
        state.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshGrant {
                issued_at: now,
                revoked_at: None,
                status: RefreshStatus::Active,
                mfa: grant.mfa,
            },
        );
        body.insert("refresh_token".into(), json!(refresh_token));
    }
    if has_scope(scope, "openid") {
        let id = id_token_claims(scenario, iat, exp, base_url);
        body.insert("id_token".into(), json!(jwt::encode(&id)));
    }
    Value::Object(body)
}

/// The claims of a v2.0 ID token for the scenario's account.
fn id_token_claims(scenario: &Scenario, iat: i64, exp: i64, base_url: &Url) -> Map<String, Value> {
    let mut id = Map::new();
    id.insert("aud".into(), json!(scenario.client_id));
    id.insert(
        "iss".into(),
        json!(format!("{base_url}{}/v2.0", scenario.tenant_id)),
    );
    id.insert("iat".into(), json!(iat));
    id.insert("nbf".into(), json!(iat));
    id.insert("exp".into(), json!(exp));
    id.insert("name".into(), json!(scenario.display_name));
    id.insert("oid".into(), json!(scenario.user_id));
    id.insert("preferred_username".into(), json!(scenario.username));
    id.insert("sub".into(), json!(subject(scenario)));
    id.insert("tid".into(), json!(scenario.tenant_id));
    id.insert("uti".into(), json!(jwt::random_opaque(22)));
    id.insert("ver".into(), json!("2.0"));
    id
}

/// A stable pairwise-looking subject for the account.
fn subject(scenario: &Scenario) -> String {
    format!("sub-{}", scenario.user_id.replace('-', ""))
}

/// The `scope` of the response and the `scp` claim: the Graph permissions (`.default` means the
/// consented `User.Read`) followed by `profile openid email`, as Entra answers.
fn granted_scopes(scope: &str) -> String {
    let mut granted: Vec<String> = Vec::new();
    for s in resource_scopes(scope) {
        let s = if s == ".default" { "User.Read" } else { s };
        if !granted.iter().any(|g| g.eq_ignore_ascii_case(s)) {
            granted.push(s.to_owned());
        }
    }
    granted.extend(["profile", "openid", "email"].map(String::from));
    granted.join(" ")
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case(wanted))
}

/// Counts and refuses the first `throttle.token` requests.
fn throttled(shared: &Shared, scenario: &Scenario, correlation_id: &str) -> Option<HttpResponse> {
    let throttle = &scenario.throttle;
    {
        let mut state = shared.lock();
        if state.token_throttled >= throttle.token {
            return None;
        }
        state.token_throttled += 1;
    }
    let status = StatusCode::from_u16(throttle.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let error = AadError::temporarily_unavailable(status);
    Some(with_retry_after(
        error.response(correlation_id),
        throttle.retry_after_secs,
    ))
}

/// Entra echoes a well-formed `client-request-id` as the correlation id.
fn correlation_id(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get("client-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        })
        .map_or_else(jwt::random_guid, str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let scope = "https://graph.microsoft.com/User.Read offline_access openid profile";
        assert_eq!(resource_scopes(scope), ["User.Read"]);
        assert_eq!(granted_scopes(scope), "User.Read profile openid email");
        assert_eq!(
            granted_scopes("https://graph.microsoft.com/.default"),
            "User.Read profile openid email"
        );
        assert!(has_scope(scope, "offline_access"));
        assert!(!has_scope("User.Read", "openid"));
        assert!(resource_scopes("openid offline_access").is_empty());
    }

    #[test]
    fn first_non_empty_field() {
        let form = vec![
            ("scope".to_owned(), String::new()),
            ("scope".to_owned(), "User.Read".to_owned()),
        ];
        assert_eq!(field(&form, "scope"), Some("User.Read"));
        assert_eq!(field(&form, "username"), None);
    }
}
