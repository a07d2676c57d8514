//! The Microsoft Graph v1.0 resources the agent reads: `/me` and `/domains/{id}`.
//!
//! Every request needs `Authorization: Bearer <access token>` issued by this emulator and not
//! expired, else 401 `InvalidAuthenticationToken`. `/me` honours `$select` the way Graph does for
//! the "returned only on `$select`" properties (`lastPasswordChangeDateTime`, `passwordPolicies`,
//! `onPremisesSyncEnabled`): unselected properties are absent, unknown ones are a 400. Errors use
//! Graph's body: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.

use chrono::{DateTime, Utc};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

#[cfg(feature = "faults")]
use super::faults;
use super::jwt;
use super::scenario::{DomainPolicy, Scenario, SignInBehaviour};
use super::{json_response, percent_decode, text_response, with_retry_after, HttpResponse, Shared};

/// Graph's content type for OData entities.
const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Properties `/me` returns when no `$select` is given (Graph's default set).
const DEFAULT_USER_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Every user property this emulator knows, with its canonical spelling.
const KNOWN_USER_PROPERTIES: &[&str] = &[
    "accountEnabled",
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "mail",
    "mobilePhone",
    "officeLocation",
    "onPremisesSyncEnabled",
    "passwordPolicies",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// Handles a request under `/v1.0/`; `rest` are the path segments after it.
pub(super) fn handle(request: &Request<Incoming>, rest: &[&str], shared: &Shared) -> HttpResponse {
    let scenario = shared.lock().scenario.clone();
    let ids = RequestIds::of(request);

    if let Some(response) = throttled(shared, &scenario, &ids) {
        return response;
    }
    #[cfg(feature = "faults")]
    if let Some(response) = faults::graph_endpoint(&scenario) {
        return response;
    }
    if let Err(message) = authorize(request, shared) {
        let mut response = ids.error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
        return response;
    }
    let base = format!("{}v1.0", shared.base_url);
    let method = request.method();
    let response = match rest {
        ["me"] if method == Method::GET => me(&scenario, request.uri().query(), &base, &ids),
        ["domains", id] if method == Method::GET => {
            let id = percent_decode(id).unwrap_or_default();
            domain(&scenario, &id, &base, &ids)
        }
        ["me"] | ["domains", _] => ids.error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.".to_owned(),
        ),
        _ => ids.error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource not found for the segment '{}'.",
                rest.first().unwrap_or(&"")
            ),
        ),
    };
    ids.stamp(response)
}

fn me(scenario: &Scenario, query: Option<&str>, base: &str, ids: &RequestIds) -> HttpResponse {
    let selected = match selected_properties(query) {
        Ok(selected) => selected,
        Err(message) => return ids.error(StatusCode::BAD_REQUEST, "BadRequest", message),
    };
    let context = match &selected {
        Some(names) => format!("{base}/$metadata#users({})/$entity", names.join(",")),
        None => format!("{base}/$metadata#users/$entity"),
    };
    let names = selected.unwrap_or_else(|| {
        DEFAULT_USER_PROPERTIES
            .iter()
            .map(|n| (*n).to_owned())
            .collect()
    });
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    for name in names {
        let value = user_property(scenario, &name);
        body.insert(name, value);
    }
    #[cfg(feature = "faults")]
    faults::spoil_user(scenario, &mut body);
    let text = Value::Object(body).to_string();
    #[cfg(feature = "faults")]
    let text = faults::user_text(scenario, text);
    text_response(StatusCode::OK, ODATA_JSON, &text)
}

/// The canonical names in `$select` (in request order, without duplicates), `None` without
/// `$select`, or the message of Graph's 400 for an unknown property or a syntax error.
fn selected_properties(query: Option<&str>) -> Result<Option<Vec<String>>, String> {
    let Some(query) = query else {
        return Ok(None);
    };
    let select = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key.eq_ignore_ascii_case("$select"))
        .map(|(_, value)| value.into_owned());
    let Some(select) = select else {
        return Ok(None);
    };
    let mut names: Vec<String> = Vec::new();
    for (index, item) in select.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!(
                "Syntax error: empty property name in item {} of '$select={select}'.",
                index + 1
            ));
        }
        let Some(name) = KNOWN_USER_PROPERTIES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(item))
        else {
            return Err(format!(
                "Could not find a property named '{item}' on type 'microsoft.graph.user'."
            ));
        };
        if !names.iter().any(|n| n == name) {
            names.push((*name).to_owned());
        }
    }
    Ok(Some(names))
}

fn user_property(scenario: &Scenario, name: &str) -> Value {
    let mut words = scenario.display_name.split_whitespace();
    match name {
        "id" => json!(scenario.user_id),
        "userPrincipalName" | "mail" => json!(scenario.username),
        "displayName" => json!(scenario.display_name),
        "givenName" => json!(words.next()),
        "surname" => json!(words.nth(1)),
        "businessPhones" => json!([]),
        "accountEnabled" => json!(scenario.sign_in != SignInBehaviour::Disabled),
        "lastPasswordChangeDateTime" => json!(scenario
            .last_password_change
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()),
        "passwordPolicies" => json!(scenario.password_policies),
        "onPremisesSyncEnabled" => json!(scenario.on_premises_sync_enabled),
        _ => Value::Null,
    }
}

fn domain(scenario: &Scenario, id: &str, base: &str, ids: &RequestIds) -> HttpResponse {
    let not_found = || {
        ids.error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    };
    let (validity, notification) = match &scenario.domain {
        DomainPolicy::Forbidden => {
            return ids.error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.".to_owned(),
            )
        }
        DomainPolicy::NotFound => return not_found(),
        DomainPolicy::Values {
            validity_days,
            notification_days,
        } => (validity_days, notification_days),
    };
    if !id.eq_ignore_ascii_case(scenario.upn_suffix()) {
        return not_found();
    }
    let body = json!({
        "@odata.context": format!("{base}/$metadata#domains/$entity"),
        "authenticationType": "Managed",
        "availabilityStatus": null,
        "id": scenario.upn_suffix(),
        "isAdminManaged": true,
        "isDefault": true,
        "isInitial": false,
        "isRoot": true,
        "isVerified": true,
        "passwordNotificationWindowInDays": notification,
        "passwordValidityPeriodInDays": validity,
        "supportedServices": ["Email", "OfficeCommunicationsOnlineService"],
        "state": null,
    });
    text_response(StatusCode::OK, ODATA_JSON, &body.to_string())
}

/// Checks the bearer token; the error is the message of Graph's 401.
fn authorize(request: &Request<Incoming>, shared: &Shared) -> Result<(), String> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
        _ => "",
    };
    if token.is_empty() {
        return Err("Access token is empty.".to_owned());
    }
    if jwt::decode_payload(token).is_none() {
        return Err("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.".to_owned());
    }
    let expires_at: Option<DateTime<Utc>> = shared.lock().access_tokens.get(token).copied();
    match expires_at {
        None => Err("Invalid signature.".to_owned()),
        Some(expires_at) if expires_at <= Utc::now() => {
            Err("Lifetime validation failed, the token is expired.".to_owned())
        }
        Some(_) => Ok(()),
    }
}

/// Counts and refuses the first `throttle.graph` requests.
fn throttled(shared: &Shared, scenario: &Scenario, ids: &RequestIds) -> Option<HttpResponse> {
    let throttle = &scenario.throttle;
    {
        let mut state = shared.lock();
        if state.graph_throttled >= throttle.graph {
            return None;
        }
        state.graph_throttled += 1;
    }
    let response = if throttle.status == 503 {
        ids.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service unavailable. Please retry again later.".to_owned(),
        )
    } else {
        let status = StatusCode::from_u16(throttle.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        ids.error(
            status,
            "TooManyRequests",
            "Please retry again later.".to_owned(),
        )
    };
    Some(with_retry_after(
        ids.stamp(response),
        throttle.retry_after_secs,
    ))
}

/// Graph's request correlation: a fresh `request-id`, and the caller's `client-request-id`
/// echoed (or the request id when none was sent).
struct RequestIds {
    request_id: String,
    client_request_id: String,
}

impl RequestIds {
    fn of(request: &Request<Incoming>) -> RequestIds {
        let request_id = jwt::random_guid();
        let client_request_id = request
            .headers()
            .get("client-request-id")
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty() && id.len() <= 64)
            .map_or_else(|| request_id.clone(), str::to_owned);
        RequestIds {
            request_id,
            client_request_id,
        }
    }

    fn error(&self, status: StatusCode, code: &str, message: String) -> HttpResponse {
        let body = json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": self.request_id,
                    "client-request-id": self.client_request_id,
                }
            }
        });
        self.stamp(json_response(status, &body))
    }

    fn stamp(&self, mut response: HttpResponse) -> HttpResponse {
        for (name, value) in [
            ("request-id", &self.request_id),
            ("client-request-id", &self.client_request_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_parsing() {
        assert_eq!(selected_properties(None), Ok(None));
        assert_eq!(selected_properties(Some("foo=bar")), Ok(None));
        assert_eq!(
            selected_properties(Some(
                "%24select=lastpasswordchangedatetime,%20passwordPolicies,id,id"
            )),
            Ok(Some(vec![
                "lastPasswordChangeDateTime".to_owned(),
                "passwordPolicies".to_owned(),
                "id".to_owned()
            ]))
        );
        assert!(selected_properties(Some("$select=id,,mail")).is_err());
        let unknown = selected_properties(Some("$select=pwd")).unwrap_err();
        assert!(unknown.contains("'pwd'"), "{unknown}");
    }
}
