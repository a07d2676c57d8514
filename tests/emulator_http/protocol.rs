//! The token endpoint and Graph of the emulator over real HTTP, as a client written against
//! Microsoft's docs would use them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Client, StatusCode};
use serde_json::Value;

use emulator::{
    decode_jwt_payload, DomainPolicy, Emulator, Misbehaviour, Scenario, SignInBehaviour, Throttle,
    DEFAULT_PASSWORD_CHANGE_URL,
};

const SCOPE: &str = "https://graph.microsoft.com/User.Read offline_access openid profile";

struct Harness {
    emulator: Emulator,
    client: Client,
    scenario: Scenario,
}

/// A plain client (TLS crypto installed first, as reqwest needs).
fn client() -> Client {
    signin_assistant::providers::install_tls_crypto();
    Client::new()
}

impl Harness {
    async fn start(scenario: Scenario) -> Harness {
        let emulator = Emulator::start(scenario.clone())
            .await
            .expect("emulator starts");
        Harness {
            emulator,
            client: client(),
            scenario,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    fn token_url(&self) -> String {
        self.url(&format!("{}/oauth2/v2.0/token", self.scenario.tenant))
    }

    async fn post_form(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.token_url())
            .form(form)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    async fn password_grant(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let client_id = self.scenario.client_id.clone();
        self.post_form(&[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("scope", SCOPE),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    async fn sign_in(&self) -> (StatusCode, Value) {
        self.password_grant(&self.scenario.username, &self.scenario.password)
            .await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let client_id = self.scenario.client_id.clone();
        self.post_form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client_id),
            ("scope", SCOPE),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn access_token(&self) -> String {
        let (status, body) = self.sign_in().await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    async fn graph(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }
}

fn error_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

/// Checks the documented AADSTS error body shape and returns the code.
fn assert_aad_error(status: StatusCode, body: &Value, code: u64, error: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(error_code(body), code, "{body}");
    let description = body["error_description"].as_str().expect("description");
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "), "{description}");
    assert!(
        description.contains("\r\nCorrelation ID: "),
        "{description}"
    );
    assert!(description.contains("\r\nTimestamp: "), "{description}");
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{key} missing in {body}");
    }
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

#[tokio::test]
async fn password_grant_issues_tokens_and_graph_answers() {
    let scenario = Scenario::expires_in_days(3);
    let h = Harness::start(scenario.clone()).await;

    let (status, body) = h.sign_in().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert_eq!(body["scope"], "User.Read profile openid email");
    assert!(body["refresh_token"].is_string());
    let id = decode_jwt_payload(body["id_token"].as_str().unwrap()).expect("id token");
    assert_eq!(id["preferred_username"], scenario.username.as_str());
    assert_eq!(id["aud"], scenario.client_id.as_str());

    let token = body["access_token"].as_str().unwrap();
    let claims = decode_jwt_payload(token).expect("access token decodes");
    assert_eq!(claims["aud"], "00000003-0000-0000-c000-000000000000");
    assert_eq!(claims["upn"], scenario.username.as_str());
    assert_eq!(claims["tid"], scenario.tenant_id.as_str());
    assert_eq!(claims["scp"], "User.Read profile openid email");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3599);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    let pwd_exp: i64 = claims["pwd_exp"].as_str().expect("string").parse().unwrap();
    assert_eq!(pwd_exp, 3 * 86_400 + 300);
    assert_eq!(claims["pwd_url"], DEFAULT_PASSWORD_CHANGE_URL);

    let response = h
        .graph(
            "v1.0/me?%24select=lastPasswordChangeDateTime,passwordPolicies,onPremisesSyncEnabled,userPrincipalName",
            Some(token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("request-id"));
    let me: Value = response.json().await.unwrap();
    let object = me.as_object().unwrap();
    assert_eq!(object.len(), 5, "{me}");
    assert!(me["@odata.context"].as_str().unwrap().ends_with(
        "$metadata#users(lastPasswordChangeDateTime,passwordPolicies,onPremisesSyncEnabled,userPrincipalName)/$entity"
    ));
    assert_eq!(me["userPrincipalName"], scenario.username.as_str());
    assert_eq!(me["passwordPolicies"], Value::Null);
    assert_eq!(me["onPremisesSyncEnabled"], Value::Null);
    let changed = me["lastPasswordChangeDateTime"].as_str().unwrap();
    assert!(
        changed.ends_with('Z') && !changed.contains('.'),
        "{changed}"
    );
    let changed: DateTime<Utc> = changed.parse().unwrap();
    assert_eq!(changed, scenario.last_password_change);
    let expires = changed + TimeDelta::days(90) - Utc::now();
    assert!(expires > TimeDelta::days(3) && expires <= TimeDelta::days(3) + TimeDelta::minutes(5));

    let response = h.graph("v1.0/domains/CONTOSO.com", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let domain: Value = response.json().await.unwrap();
    assert_eq!(domain["id"], "contoso.com");
    assert_eq!(domain["passwordValidityPeriodInDays"], 90);
    assert_eq!(domain["passwordNotificationWindowInDays"], 14);
    assert_eq!(domain["authenticationType"], "Managed");
    assert_eq!(domain["isDefault"], true);
    assert_eq!(domain["isVerified"], true);
    assert!(domain["supportedServices"].is_array());

    let response = h.graph("v1.0/domains/fabrikam.com", Some(token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

    let requests = h.emulator.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].grant_type.as_deref(), Some("password"));
    assert_eq!(requests[0].status, 200);
    assert!(requests[1].path.starts_with("/v1.0/me?%24select="));
    assert_eq!(requests[3].status, 404);
    h.emulator.shutdown().await;
}

#[tokio::test]
async fn me_without_select_gives_the_default_set_and_unknown_properties_are_rejected() {
    let h = Harness::start(Scenario::never_expires()).await;
    let token = h.access_token().await;

    let me: Value = h.graph("v1.0/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["displayName"], "Adele Vance");
    assert!(me.get("lastPasswordChangeDateTime").is_none(), "{me}");
    assert!(me.get("passwordPolicies").is_none(), "{me}");

    let me: Value = h
        .graph("v1.0/me?$select=passwordPolicies,id", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["passwordPolicies"], "DisablePasswordExpiration");
    assert!(me["id"].is_string());
    assert!(me.get("userPrincipalName").is_none(), "{me}");

    let response = h.graph("v1.0/me?$select=pwdLastSet", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    assert!(body["error"]["innerError"]["request-id"].is_string());
}

#[tokio::test]
async fn bearer_token_is_required() {
    let h = Harness::start(Scenario::default()).await;
    for token in [None, Some("not-a-jwt"), Some("a.e30.c")] {
        let response = h.graph("v1.0/me?$select=id", token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        let inner = &body["error"]["innerError"];
        for key in ["date", "request-id", "client-request-id"] {
            assert!(inner[key].is_string(), "{key} in {body}");
        }
    }
    let token = h.access_token().await;
    assert_eq!(
        h.graph("v1.0/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    h.emulator.expire_access_tokens();
    let response = h.graph("v1.0/me", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn wrong_password_or_unknown_user_is_50126_whatever_the_account_state() {
    let h = Harness::start(Scenario::rejected(SignInBehaviour::Locked)).await;
    let (status, body) = h.password_grant(&h.scenario.username, "wrong").await;
    assert_aad_error(status, &body, 50126, "invalid_grant");
    let (status, body) = h
        .password_grant("nobody@contoso.com", &h.scenario.password)
        .await;
    assert_aad_error(status, &body, 50126, "invalid_grant");
    // The UPN is case-insensitive; the password is not.
    let (status, body) = h
        .password_grant(&h.scenario.username.to_uppercase(), &h.scenario.password)
        .await;
    assert_aad_error(status, &body, 50053, "invalid_grant");
    let (status, body) = h
        .password_grant(&h.scenario.username, &h.scenario.password.to_uppercase())
        .await;
    assert_aad_error(status, &body, 50126, "invalid_grant");
}

#[tokio::test]
async fn account_states_give_their_documented_errors() {
    let cases = [
        (
            SignInBehaviour::PasswordExpired,
            50055,
            "invalid_grant",
            Some("user_password_expired"),
        ),
        (
            SignInBehaviour::OnPremPasswordExpired,
            50144,
            "invalid_grant",
            None,
        ),
        (SignInBehaviour::Locked, 50053, "invalid_grant", None),
        (SignInBehaviour::Disabled, 50057, "invalid_grant", None),
        (
            SignInBehaviour::MfaRequired(50076),
            50076,
            "invalid_grant",
            Some("basic_action"),
        ),
        (
            SignInBehaviour::MfaRequired(50079),
            50079,
            "interaction_required",
            Some("basic_action"),
        ),
        (
            SignInBehaviour::MfaRequired(50074),
            50074,
            "interaction_required",
            Some("basic_action"),
        ),
        (
            SignInBehaviour::ConsentMissing,
            65001,
            "invalid_grant",
            Some("consent_required"),
        ),
        (
            SignInBehaviour::OtherError(53003),
            53003,
            "invalid_grant",
            None,
        ),
    ];
    let h = Harness::start(Scenario::default()).await;
    for (behaviour, code, error, suberror) in cases {
        h.emulator
            .set_scenario(Scenario::default().with_sign_in(behaviour.clone()));
        let (status, body) = h.sign_in().await;
        assert_aad_error(status, &body, code, error);
        match suberror {
            Some(suberror) => assert_eq!(body["suberror"], suberror, "{behaviour:?}"),
            None => assert!(body.get("suberror").is_none(), "{behaviour:?}: {body}"),
        }
        assert!(body.get("access_token").is_none());
        if code == 50055 {
            assert_eq!(body["password_change_url"], DEFAULT_PASSWORD_CHANGE_URL);
        }
    }
}

#[tokio::test]
async fn malformed_requests_get_invalid_request_bodies() {
    let h = Harness::start(Scenario::default()).await;
    let client_id = h.scenario.client_id.clone();
    let username = h.scenario.username.clone();
    let password = h.scenario.password.clone();
    let full = [
        ("grant_type", "password"),
        ("client_id", client_id.as_str()),
        ("scope", SCOPE),
        ("username", username.as_str()),
        ("password", password.as_str()),
    ];
    for missing in ["grant_type", "client_id", "scope", "username", "password"] {
        let form: Vec<(&str, &str)> = full
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let (status, body) = h.post_form(&form).await;
        assert_aad_error(status, &body, 900144, "invalid_request");
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("'{missing}'")));
    }

    // JSON instead of a form: Entra does not read it, so grant_type is missing.
    let response = h
        .client
        .post(h.token_url())
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_aad_error(status, &body, 900144, "invalid_request");

    let response = h.client.get(h.token_url()).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_aad_error(status, &body, 900561, "invalid_request");

    let mut form = full.to_vec();
    form[1].1 = "11111111-2222-3333-4444-555555555555";
    let (status, body) = h.post_form(&form).await;
    assert_aad_error(status, &body, 700016, "unauthorized_client");

    let mut form = full.to_vec();
    form.push(("client_secret", "s3cret"));
    let (status, body) = h.post_form(&form).await;
    assert_aad_error(status, &body, 700025, "invalid_client");

    let mut form = full.to_vec();
    form[2].1 = "openid offline_access";
    let (status, body) = h.post_form(&form).await;
    assert_aad_error(status, &body, 70011, "invalid_scope");

    let mut form = full.to_vec();
    form[0].1 = "client_credentials";
    let (status, body) = h.post_form(&form).await;
    assert_aad_error(status, &body, 70003, "unsupported_grant_type");

    let response = h
        .client
        .post(h.url("fabrikam.onmicrosoft.com/oauth2/v2.0/token"))
        .form(&full)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_aad_error(status, &body, 90002, "invalid_request");

    // The tenant id works as well as the domain name.
    let response = h
        .client
        .post(h.url(&format!("{}/oauth2/v2.0/token", h.scenario.tenant_id)))
        .form(&full)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = h
        .client
        .post(h.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        h.client
            .get(h.url("nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn only_the_asked_for_tokens_are_issued() {
    let h = Harness::start(Scenario::default()).await;
    let (status, body) = h
        .post_form(&[
            ("grant_type", "password"),
            ("client_id", &h.scenario.client_id),
            ("scope", "User.Read"),
            ("username", &h.scenario.username),
            ("password", &h.scenario.password),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    let claims = decode_jwt_payload(body["access_token"].as_str().unwrap()).unwrap();
    assert!(claims.get("pwd_exp").is_none());
}

#[tokio::test]
async fn refresh_tokens_work_until_the_password_changes_elsewhere() {
    let h = Harness::start(Scenario::default()).await;
    let (_, body) = h.sign_in().await;
    let first = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = h.refresh(&first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        h.graph("v1.0/me", body["access_token"].as_str())
            .await
            .status(),
        StatusCode::OK
    );

    let before = Utc::now() - TimeDelta::seconds(1);
    h.emulator.change_password("New-Password-8");
    for token in [&first, &second] {
        let (status, body) = h.refresh(token).await;
        assert_aad_error(status, &body, 50173, "invalid_grant");
    }
    let (status, body) = h.sign_in().await;
    assert_aad_error(status, &body, 50126, "invalid_grant");
    let (status, _) = h
        .password_grant(&h.scenario.username, "New-Password-8")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.emulator.scenario().last_password_change >= before);

    let (status, body) = h.refresh("0.Anever-issued").await;
    assert_aad_error(status, &body, 50173, "invalid_grant");

    let (_, body) = h
        .password_grant(&h.scenario.username, "New-Password-8")
        .await;
    h.emulator.expire_refresh_tokens();
    let (status, body) = h.refresh(body["refresh_token"].as_str().unwrap()).await;
    assert_aad_error(status, &body, 700082, "invalid_grant");

    let grants: Vec<Option<String>> = h
        .emulator
        .requests()
        .into_iter()
        .map(|r| r.grant_type)
        .collect();
    assert!(grants.contains(&Some("refresh_token".to_owned())));
}

#[tokio::test]
async fn changing_an_expired_password_ends_the_expiry() {
    let h = Harness::start(Scenario::expired()).await;
    let (status, body) = h.sign_in().await;
    assert_aad_error(status, &body, 50055, "invalid_grant");
    h.emulator.change_password("Fresh-Password-9");
    let (status, _) = h
        .password_grant(&h.scenario.username, "Fresh-Password-9")
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn throttling_then_normal_service() {
    for status in [429u16, 503] {
        let scenario = Scenario::default().with_throttle(Throttle {
            token: 1,
            graph: 2,
            retry_after_secs: 7,
            status,
        });
        let h = Harness::start(scenario).await;

        let response = h
            .client
            .post(h.token_url())
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body["error_codes"].is_array());

        let token = h.access_token().await;
        for _ in 0..2 {
            let response = h.graph("v1.0/me", Some(&token)).await;
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()["retry-after"], "7");
            let body: Value = response.json().await.unwrap();
            let expected = if status == 429 {
                "TooManyRequests"
            } else {
                "ServiceUnavailable"
            };
            assert_eq!(body["error"]["code"], expected);
        }
        assert_eq!(
            h.graph("v1.0/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn domain_policy_variants() {
    let h = Harness::start(Scenario::default().with_domain(DomainPolicy::Forbidden)).await;
    let token = h.access_token().await;
    let response = h.graph("v1.0/domains/contoso.com", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");

    h.emulator
        .set_scenario(Scenario::default().with_domain(DomainPolicy::NotFound));
    let response = h.graph("v1.0/domains/contoso.com", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

    h.emulator
        .set_scenario(Scenario::default().with_domain(DomainPolicy::Values {
            validity_days: Some(2_147_483_647),
            notification_days: None,
        }));
    let body: Value = h
        .graph("v1.0/domains/contoso.com", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["passwordValidityPeriodInDays"], 2_147_483_647i64);
    assert_eq!(body["passwordNotificationWindowInDays"], Value::Null);
}

#[tokio::test]
async fn misbehaviours() {
    let h = Harness::start(Scenario::default().with_misbehaviour(Misbehaviour::BadDate)).await;
    let token = h.access_token().await;
    let me: Value = h
        .graph("v1.0/me?$select=lastPasswordChangeDateTime", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["lastPasswordChangeDateTime"], "not-a-date");

    h.emulator
        .set_scenario(Scenario::default().with_misbehaviour(Misbehaviour::MalformedJson));
    let response = h.graph("v1.0/me?$select=id", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    h.emulator
        .set_scenario(Scenario::default().with_misbehaviour(Misbehaviour::HtmlError));
    let response = h
        .client
        .post(h.token_url())
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    h.emulator.set_scenario(
        Scenario::default().with_misbehaviour(Misbehaviour::Delay(Duration::from_millis(500))),
    );
    signin_assistant::providers::install_tls_crypto();
    let client = Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = client.get(h.url("v1.0/me")).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn requests_never_record_secrets() {
    let h = Harness::start(Scenario::default()).await;
    let (_, body) = h.sign_in().await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let access = body["access_token"].as_str().unwrap().to_owned();
    h.refresh(&refresh).await;
    h.graph("v1.0/me", Some(&access)).await;
    let leaked = h
        .client
        .post(format!(
            "{}?password={}&x=1",
            h.token_url(),
            h.scenario.password
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(leaked.status(), StatusCode::BAD_REQUEST);

    let log = format!("{:?}", h.emulator.requests());
    for secret in [h.scenario.password.as_str(), &refresh, &access] {
        assert!(!log.contains(secret), "secret in {log}");
    }
    assert!(log.contains("password=REDACTED&x=1"), "{log}");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emulator = Emulator::start(Scenario::default()).await.unwrap();
    let url = emulator.base_url();
    emulator.shutdown().await;
    assert!(client().get(url).send().await.is_err());

    let emulator = Emulator::start(Scenario::default()).await.unwrap();
    let url = emulator.base_url();
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client().get(url).send().await.is_err());
}

#[test]
fn emulator_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
}

#[test]
fn expires_in_days_constructor() {
    let scenario = Scenario::expires_in_days(20);
    assert!(scenario.claims.is_none());
    let expiry = scenario.last_password_change + TimeDelta::days(90) - Utc::now();
    assert!(expiry > TimeDelta::days(20) && expiry <= TimeDelta::days(20) + TimeDelta::minutes(5));
    assert_eq!(
        Scenario::expires_in_days(14)
            .claims
            .unwrap()
            .expires_in_secs,
        14 * 86_400 + 300
    );
    assert_eq!(Scenario::default().upn_suffix(), "contoso.com");
}
