//! The device code flow (RFC 8628): `POST /{tenant}/oauth2/v2.0/devicecode`, the entry page at
//! `verification_uri` (`/devicelogin`), and the polls of the token endpoint
//! (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
//!
//! The person enters the user code on the page, then signs in on the same pages as the browser
//! flow (password, one-time code of an MFA account, consent) or declines. Polls answer
//! `authorization_pending` until then, `slow_down` when they come faster than the interval (which
//! then grows by 5 s) or for the scenario's first pending polls, `authorization_declined`,
//! `expired_token` after the lifetime, and the tokens once. The app registration must allow
//! public client flows.

use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use super::aadsts::AadError;
use super::form::{field, read_form, scope_allowed, Grant};
use super::scenario::Scenario;
use super::{json_response, jwt, pages, tenant_known, HttpResponse, Shared};

/// A device code waiting for, or decided by, the person.
#[derive(Debug, Clone)]
pub(super) struct DeviceGrant {
    user_code: String,
    scope: String,
    expires_at: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    slow_downs_left: u32,
    status: DeviceStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved { mfa: bool },
    Declined,
    Redeemed,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(super) async fn start(
    request: Request<Incoming>,
    tenant: &str,
    shared: &Shared,
) -> HttpResponse {
    let scenario = shared.lock().scenario.clone();
    let correlation = jwt::random_guid();
    let fail = |e: AadError| e.response(&correlation);
    if !tenant_known(&scenario, tenant) {
        return fail(AadError::tenant_not_found(tenant));
    }
    if request.method() != Method::POST {
        return fail(AadError::post_only(request.method()));
    }
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(e) => return fail(e),
    };
    let Some(client_id) = field(&form, "client_id") else {
        return fail(AadError::missing("client_id"));
    };
    if !client_id.eq_ignore_ascii_case(&scenario.client_id) {
        return fail(AadError::unknown_client(client_id, &scenario.tenant));
    }
    if !scenario.public_client_flows {
        return fail(AadError::public_client_flows_disabled());
    }
    let scope = field(&form, "scope").unwrap_or_default();
    if !scope_allowed(scope) {
        return fail(AadError::invalid_scope(scope));
    }
    let body = issue(shared, &scenario, scope);
    #[cfg(feature = "faults")]
    let body = {
        let mut body = body;
        super::faults::spoil_device_code(&scenario, &mut body);
        body
    };
    json_response(StatusCode::OK, &body)
}

/// Creates a device grant and returns the device authorization response.
fn issue(shared: &Shared, scenario: &Scenario, scope: &str) -> serde_json::Value {
    let settings = &scenario.device_code;
    let device_code = format!("DAQABAAEAAA{}", jwt::random_opaque(120));
    let user_code = user_code();
    let verification_uri = format!(
        "{}{}",
        shared.base_url.as_str().trim_end_matches('/'),
        pages::DEVICE_LOGIN_PATH
    );
    shared.lock().device_grants.insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            scope: scope.to_owned(),
            expires_at: Instant::now() + Duration::from_secs(settings.lifetime_secs),
            interval: Duration::from_secs(settings.interval_secs),
            last_poll: None,
            slow_downs_left: settings.slow_down_polls,
            status: DeviceStatus::Pending,
        },
    );
    json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": settings.lifetime_secs,
        "interval": settings.interval_secs,
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
        ),
    })
}

/// Nine letters, as Entra's user codes, without vowels (no words) and easy to type.
fn user_code() -> String {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    (0..9)
        .map(|_| char::from(LETTERS[fastrand::usize(..LETTERS.len())]))
        .collect()
}

/// `GET /devicelogin`.
pub(super) fn entry_page() -> HttpResponse {
    pages::device_code_entry(None)
}

/// The device code of the pending, unexpired grant whose user code the person typed.
pub(super) fn pending_device_code(shared: &Shared, typed: &str) -> Option<String> {
    let state = shared.lock();
    state
        .device_grants
        .iter()
        .find(|(_, g)| {
            g.user_code == typed
                && g.status == DeviceStatus::Pending
                && Instant::now() < g.expires_at
        })
        .map(|(device_code, _)| device_code.clone())
}

/// The person approved (`Some(mfa)`) or declined (`None`) on the pages.
pub(super) fn decide(shared: &Shared, device_code: &str, approved: Option<bool>) -> HttpResponse {
    let mut state = shared.lock();
    let Some(grant) = state
        .device_grants
        .get_mut(device_code)
        .filter(|g| g.status == DeviceStatus::Pending && Instant::now() < g.expires_at)
    else {
        return pages::error_page(
            StatusCode::OK,
            "This code has expired. Start the sign-in again on your device.",
        );
    };
    match approved {
        Some(mfa) => {
            grant.status = DeviceStatus::Approved { mfa };
            pages::message_page(
                "You're signed in",
                "You have signed in to signin-assistant on your device. You may now close this window.",
            )
        }
        None => {
            grant.status = DeviceStatus::Declined;
            pages::message_page(
                "Sign-in declined",
                "You declined to sign in to signin-assistant on your device. You may now close this window.",
            )
        }
    }
}

/// One poll of the token endpoint (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
pub(super) fn redeem(
    form: &[(String, String)],
    shared: &Shared,
    scenario: &Scenario,
) -> Result<Grant, AadError> {
    if !scenario.public_client_flows {
        return Err(AadError::public_client_flows_disabled());
    }
    let device_code = field(form, "device_code").ok_or_else(|| AadError::missing("device_code"))?;
    let mut state = shared.lock();
    state.device_polls.push(Instant::now());
    let grant = state
        .device_grants
        .get_mut(device_code)
        .ok_or_else(AadError::bad_verification_code)?;
    let now = Instant::now();
    let too_fast = grant
        .last_poll
        .is_some_and(|last| now.duration_since(last) < grant.interval.mul_f64(0.8));
    grant.last_poll = Some(now);
    match grant.status {
        DeviceStatus::Redeemed => Err(AadError::code_redeemed()),
        _ if now >= grant.expires_at => Err(AadError::device_code_expired()),
        DeviceStatus::Declined => Err(AadError::authorization_declined()),
        DeviceStatus::Approved { mfa } => {
            grant.status = DeviceStatus::Redeemed;
            Ok(Grant {
                scope: grant.scope.clone(),
                mfa,
            })
        }
        DeviceStatus::Pending if too_fast || grant.slow_downs_left > 0 => {
            grant.slow_downs_left = grant.slow_downs_left.saturating_sub(1);
            grant.interval += Duration::from_secs(5);
            Err(AadError::slow_down())
        }
        DeviceStatus::Pending => Err(AadError::authorization_pending()),
    }
}
