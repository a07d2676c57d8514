//! The OpenID Connect discovery document, `GET /{tenant}/v2.0/.well-known/openid-configuration`,
//! as Microsoft documents it: answered for the tenant's id and every verified domain (here the
//! tenant's domain and the account's UPN suffix), with the tenant id in `issuer` and in every
//! endpoint; `organizations` and `common` get the `{tenantid}` placeholder. A domain no tenant
//! has verified gets HTTP 400 `invalid_tenant` with AADSTS90002.

use hyper::StatusCode;
use serde_json::json;
use url::Url;

use super::aadsts::AadError;
use super::scenario::Scenario;
use super::{json_response, jwt, tenant_known, HttpResponse};

/// The document for `tenant` (the path segment), served from `base` (the emulator's URL).
pub(super) fn document(scenario: &Scenario, base: &Url, tenant: &str) -> HttpResponse {
    let id =
        if tenant.eq_ignore_ascii_case("organizations") || tenant.eq_ignore_ascii_case("common") {
            "{tenantid}".to_string()
        } else if tenant_known(scenario, tenant) || is_upn_suffix(scenario, tenant) {
            scenario.tenant_id.clone()
        } else {
            return AadError::invalid_tenant(tenant).response(&jwt::random_guid());
        };
    let root = base.as_str().trim_end_matches('/');
    let at = |path: &str| format!("{root}/{id}/{path}");
    json_response(
        StatusCode::OK,
        &json!({
            "token_endpoint": at("oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": at("discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": at("v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{root}/oidc/userinfo"),
            "authorization_endpoint": at("oauth2/v2.0/authorize"),
            "device_authorization_endpoint": at("oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": at("oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": at("kerberos"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
    )
}

/// Whether `domain` is the domain of the account's UPN (a verified domain of the tenant).
fn is_upn_suffix(scenario: &Scenario, domain: &str) -> bool {
    scenario
        .username
        .rsplit_once('@')
        .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case(domain))
}
