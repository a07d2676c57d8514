//! The authorize endpoint and the interactive sign-in pages: `GET /{tenant}/oauth2/v2.0/authorize`
//! and `POST /login`, and the redemption of the codes they issue (`grant_type=authorization_code`).
//!
//! As Entra does for a public client: the client and the redirect URI are checked first and
//! refused with an error page (never redirected to an unregistered address); then every other
//! error goes back to the redirect URI as `error`/`error_description`/`state`. A request without
//! a PKCE S256 challenge is refused. The sign-in page asks for the user name and password, then
//! the one-time code of an MFA account, then consent when the app lacks it. A code is redeemed
//! once, within 10 minutes, with the same redirect URI and the verifier of its challenge.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Request, StatusCode};
use url::Url;

use super::aadsts::AadError;
use super::form::{field, read_form, scope_allowed, Grant};
use super::scenario::{Scenario, SignInBehaviour};
use super::{device, jwt, pages, tenant_known, text_response, HttpResponse, Shared};

/// How long an issued code may wait for its redemption.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// One interactive sign-in in progress on the pages, named by the hidden `flow` field.
#[derive(Debug, Clone)]
pub(super) struct Flow {
    kind: FlowKind,
    stage: Stage,
    /// The one-time code was entered.
    mfa_done: bool,
}

#[derive(Debug, Clone)]
enum FlowKind {
    /// From the authorize endpoint: ends with a redirect.
    Authorize(AuthorizeRequest),
    /// From the device code page: ends with the device grant approved or declined.
    Device { device_code: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Credentials,
    OneTimeCode,
    Consent,
}

/// What the authorize request asked for.
#[derive(Debug, Clone)]
struct AuthorizeRequest {
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    scope: String,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(super) struct AuthCode {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    issued_at: Instant,
    redeemed: bool,
    mfa: bool,
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub(super) fn start(request: &Request<Incoming>, tenant: &str, shared: &Shared) -> HttpResponse {
    let scenario = shared.lock().scenario.clone();
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let param = |name: &str| field(&query, name);
    let refused = |e: AadError| pages::error_page(StatusCode::BAD_REQUEST, &e.description());
    if !tenant_known(&scenario, tenant) {
        return refused(AadError::tenant_not_found(tenant));
    }
    let Some(client_id) = param("client_id") else {
        return refused(AadError::missing("client_id"));
    };
    if !client_id.eq_ignore_ascii_case(&scenario.client_id) {
        return refused(AadError::unknown_client(client_id, &scenario.tenant));
    }
    let Some(redirect_uri) = param("redirect_uri") else {
        return refused(AadError::missing("redirect_uri"));
    };
    let Some(redirect) = Url::parse(redirect_uri)
        .ok()
        .filter(|uri| is_registered(&scenario, uri))
    else {
        return refused(AadError::redirect_uri_not_registered(
            redirect_uri,
            client_id,
        ));
    };
    let state = param("state").map(str::to_owned);
    let back = |e: AadError| error_redirect(&redirect, &e, state.as_deref());
    let response_type = param("response_type").unwrap_or_default();
    if response_type != "code" {
        return back(AadError::unsupported_response_type(response_type));
    }
    let (Some(code_challenge), Some("S256")) =
        (param("code_challenge"), param("code_challenge_method"))
    else {
        return back(AadError::pkce_required());
    };
    let scope = param("scope").unwrap_or_default();
    if !scope_allowed(scope) {
        return back(AadError::invalid_scope(scope));
    }
    let flow = Flow {
        kind: FlowKind::Authorize(AuthorizeRequest {
            redirect_uri: redirect_uri.to_owned(),
            state,
            code_challenge: code_challenge.to_owned(),
            scope: scope.to_owned(),
        }),
        stage: Stage::Credentials,
        mfa_done: false,
    };
    let id = new_flow(shared, flow);
    pages::sign_in(
        &id,
        "Sign in to continue to signin-assistant",
        param("login_hint"),
        None,
        "Cancel",
    )
}

/// `POST /devicelogin`: the person entered a user code; its device grant's sign-in starts on the
/// pages.
pub(super) async fn enter_code(request: Request<Incoming>, shared: &Shared) -> HttpResponse {
    let Ok(form) = read_form(request).await else {
        return pages::device_code_entry(Some("The form could not be read."));
    };
    let typed: String = field(&form, "user_code")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    match device::pending_device_code(shared, &typed) {
        Some(device_code) => start_device_flow(shared, device_code),
        None => {
            pages::device_code_entry(Some("That code didn't work. Check the code and try again."))
        }
    }
}

/// Starts a flow on the pages for an entered device code; returns its sign-in page.
fn start_device_flow(shared: &Shared, device_code: String) -> HttpResponse {
    let flow = Flow {
        kind: FlowKind::Device { device_code },
        stage: Stage::Credentials,
        mfa_done: false,
    };
    let id = new_flow(shared, flow);
    pages::sign_in(
        &id,
        "Sign in to signin-assistant on your other device. Only continue if you started this sign-in yourself.",
        None,
        None,
        "Decline",
    )
}

fn new_flow(shared: &Shared, flow: Flow) -> String {
    let id = jwt::random_opaque(32);
    shared.lock().flows.insert(id.clone(), flow);
    id
}

/// `POST /login`: one step of a sign-in on the pages.
pub(super) async fn login(request: Request<Incoming>, shared: &Shared) -> HttpResponse {
    let Ok(form) = read_form(request).await else {
        return pages::error_page(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let id = field(&form, "flow").unwrap_or_default().to_owned();
    let flow = shared.lock().flows.get(&id).cloned();
    let Some(mut flow) = flow else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in page has expired or was already used. Go back to the application and sign in again.",
        );
    };
    if field(&form, "action") == Some("cancel") {
        return finish(shared, &id, &flow, Ending::Cancelled);
    }
    let scenario = shared.lock().scenario.clone();
    match flow.stage {
        Stage::Credentials => {
            let username = field(&form, "username").unwrap_or_default();
            let password = field(&form, "password").unwrap_or_default();
            if !username.eq_ignore_ascii_case(&scenario.username) || password != scenario.password {
                return pages::sign_in(
                    &id,
                    "Sign in to continue to signin-assistant",
                    Some(username),
                    Some("Your account or password is incorrect."),
                    cancel_label(&flow),
                );
            }
            if let Some(refusal) = account_refusal(&scenario) {
                shared.lock().flows.remove(&id);
                return pages::error_page(StatusCode::OK, &refusal.description());
            }
        }
        Stage::OneTimeCode => {
            let wanted = scenario.required_one_time_code().unwrap_or_default();
            if field(&form, "otc").map(str::trim) != Some(wanted) {
                return pages::one_time_code(
                    &id,
                    Some("That code didn't work. Check the code and try again."),
                );
            }
            flow.mfa_done = true;
        }
        Stage::Consent => shared.lock().consented = true,
    }
    advance(shared, &id, flow, &scenario)
}

/// The next step after one is done: the one-time code, consent, or the end.
fn advance(shared: &Shared, id: &str, mut flow: Flow, scenario: &Scenario) -> HttpResponse {
    let consented = shared.lock().consented;
    if scenario.required_one_time_code().is_some() && !flow.mfa_done {
        flow.stage = Stage::OneTimeCode;
        shared.lock().flows.insert(id.to_owned(), flow);
        return pages::one_time_code(id, None);
    }
    if scenario.sign_in == SignInBehaviour::ConsentMissing && !consented {
        flow.stage = Stage::Consent;
        let scope = match &flow.kind {
            FlowKind::Authorize(request) => request.scope.clone(),
            FlowKind::Device { .. } => "sign you in and read your profile".to_owned(),
        };
        shared.lock().flows.insert(id.to_owned(), flow);
        return if scenario.user_consent_allowed {
            pages::consent(id, &scope)
        } else {
            pages::admin_approval(id)
        };
    }
    let mfa = flow.mfa_done;
    finish(shared, id, &flow, Ending::SignedIn { mfa })
}

/// Account states the pages refuse after a right password (no way on from there).
fn account_refusal(scenario: &Scenario) -> Option<AadError> {
    match scenario.sign_in {
        SignInBehaviour::Locked => Some(AadError::invalid_grant(50053, None)),
        SignInBehaviour::Disabled => Some(AadError::invalid_grant(50057, None)),
        SignInBehaviour::PasswordExpired => Some(AadError::invalid_grant(50055, None)),
        SignInBehaviour::OnPremPasswordExpired => Some(AadError::invalid_grant(50144, None)),
        SignInBehaviour::OtherError(code) => Some(AadError::invalid_grant(code, None)),
        _ => None,
    }
}

fn cancel_label(flow: &Flow) -> &'static str {
    match flow.kind {
        FlowKind::Authorize(_) => "Cancel",
        FlowKind::Device { .. } => "Decline",
    }
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    SignedIn { mfa: bool },
    Cancelled,
}

/// Ends a flow: a redirect with a code or an error, or the device grant decided.
fn finish(shared: &Shared, id: &str, flow: &Flow, ending: Ending) -> HttpResponse {
    shared.lock().flows.remove(id);
    let request = match &flow.kind {
        FlowKind::Device { device_code } => {
            let approved = match ending {
                Ending::SignedIn { mfa } => Some(mfa),
                Ending::Cancelled => None,
            };
            return device::decide(shared, device_code, approved);
        }
        FlowKind::Authorize(request) => request,
    };
    let Ok(redirect) = Url::parse(&request.redirect_uri) else {
        return pages::error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid.");
    };
    match ending {
        Ending::SignedIn { mfa } => {
            let code = jwt::random_opaque(64);
            shared.lock().auth_codes.insert(
                code.clone(),
                AuthCode {
                    redirect_uri: request.redirect_uri.clone(),
                    code_challenge: request.code_challenge.clone(),
                    scope: request.scope.clone(),
                    issued_at: Instant::now(),
                    redeemed: false,
                    mfa,
                },
            );
            let mut params = vec![("code", code.as_str())];
            params.extend(request.state.as_deref().map(|s| ("state", s)));
            found(&redirect, &params)
        }
        Ending::Cancelled => {
            let scenario = shared.lock().scenario.clone();
            let error = if flow.stage == Stage::Consent && !scenario.user_consent_allowed {
                AadError::admin_consent_required()
            } else {
                AadError::access_denied()
            };
            error_redirect(&redirect, &error, request.state.as_deref())
        }
    }
}

/// Redeems an authorization code (`grant_type=authorization_code`).
pub(super) fn redeem(form: &[(String, String)], shared: &Shared) -> Result<Grant, AadError> {
    let code = field(form, "code").ok_or_else(|| AadError::missing("code"))?;
    let redirect_uri =
        field(form, "redirect_uri").ok_or_else(|| AadError::missing("redirect_uri"))?;
    let verifier = field(form, "code_verifier");
    let mut state = shared.lock();
    let issued = state
        .auth_codes
        .get_mut(code)
        .ok_or_else(AadError::code_invalid)?;
    if issued.redeemed {
        return Err(AadError::code_redeemed());
    }
    if issued.issued_at.elapsed() > CODE_LIFETIME {
        return Err(AadError::code_expired());
    }
    if redirect_uri != issued.redirect_uri {
        return Err(AadError::reply_address_mismatch(
            redirect_uri,
            &issued.redirect_uri,
        ));
    }
    let verifier = verifier.ok_or_else(|| AadError::missing("code_verifier"))?;
    if s256(verifier) != issued.code_challenge {
        return Err(AadError::code_verifier_mismatch());
    }
    issued.redeemed = true;
    Ok(Grant {
        scope: issued.scope.clone(),
        mfa: issued.mfa,
    })
}

fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Whether `uri` is a registered redirect URI; a loopback registration matches any port.
fn is_registered(scenario: &Scenario, uri: &Url) -> bool {
    let path = |u: &Url| u.path().trim_end_matches('/').to_owned();
    scenario
        .redirect_uris
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|registered| {
            registered.scheme() == uri.scheme()
                && registered.host() == uri.host()
                && path(&registered) == path(uri)
                && (registered.port() == uri.port() || is_loopback(uri))
        })
}

/// Whether `url` names this computer: a loopback address or `localhost` (RFC 8252 7.3).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A 302 to the redirect URI with `params` added to its query.
fn found(redirect: &Url, params: &[(&str, &str)]) -> HttpResponse {
    let mut location = redirect.clone();
    location.query_pairs_mut().extend_pairs(params);
    let mut response = text_response(StatusCode::FOUND, "text/html; charset=utf-8", "");
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// An error sent back to the redirect URI, with Entra's trace lines in the description.
fn error_redirect(redirect: &Url, error: &AadError, state: Option<&str>) -> HttpResponse {
    let description = format!(
        "{}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
        error.description(),
        jwt::random_guid(),
        jwt::random_guid(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")
    );
    let mut params = vec![
        ("error", error.error()),
        ("error_description", description.as_str()),
    ];
    params.extend(state.map(|s| ("state", s)));
    found(redirect, &params)
}
