//! The interactive sign-ins of the emulator over real HTTP: the authorize endpoint and its pages,
//! PKCE and redirect URI checks, code redemption, and the device code flow.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use url::Url;

use emulator::{Emulator, Scenario, SignInBehaviour};

const SCOPE: &str = "openid profile offline_access User.Read";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://localhost:4711";

struct Browser {
    emulator: Emulator,
    client: Client,
    scenario: Scenario,
}

impl Browser {
    async fn start(scenario: Scenario) -> Browser {
        signin_assistant::providers::install_tls_crypto();
        Browser {
            emulator: Emulator::start(scenario.clone()).await.unwrap(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            scenario,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&self.url("organizations/oauth2/v2.0/authorize")).unwrap();
        let mut params = vec![
            ("client_id", self.scenario.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("state", "st-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (key, value) in extra {
            params.retain(|(k, _)| k != key);
            if !value.is_empty() {
                params.push((key, value));
            }
        }
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    }

    async fn get(&self, url: &str) -> (StatusCode, String, Option<String>) {
        let response = self.client.get(url).send().await.unwrap();
        read(response).await
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let response = self
            .client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// Signs in on the pages from the authorize page's HTML; returns the final response.
    async fn sign_in_on_pages(&self, page: &str) -> (StatusCode, String, Option<String>) {
        let flow = flow_id(page);
        let (_, mut page, mut location) = self
            .post(
                "login",
                &[
                    ("flow", &flow),
                    ("action", "sign_in"),
                    ("username", &self.scenario.username),
                    ("password", &self.scenario.password),
                ],
            )
            .await;
        if let Some(code) = self.scenario.required_one_time_code() {
            assert!(page.contains("id=\"otc\""), "{page}");
            (_, page, location) = self.post("login", &[("flow", &flow), ("otc", code)]).await;
        }
        (StatusCode::OK, page, location)
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(&format!("{}/oauth2/v2.0/token", self.scenario.tenant)))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn redeem(&self, code: &str, redirect: &str, verifier: &str) -> (StatusCode, Value) {
        let client_id = self.scenario.client_id.clone();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("scope", SCOPE),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// Through the pages to a code.
    async fn code(&self, extra: &[(&str, &str)]) -> String {
        let (status, page, _) = self.get(&self.authorize_url(extra)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let (_, page, location) = self.sign_in_on_pages(&page).await;
        let location = location.unwrap_or_else(|| panic!("no redirect: {page}"));
        let params = query(&location);
        assert_eq!(params["state"], "st-1");
        params["code"].clone()
    }
}

async fn read(response: reqwest::Response) -> (StatusCode, String, Option<String>) {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), location)
}

fn flow_id(page: &str) -> String {
    let start = page.find("name=\"flow\" value=\"").expect("a flow field") + 19;
    page[start..].split('"').next().unwrap().to_owned()
}

fn query(location: &str) -> HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn claims(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn browser_sign_in_with_mfa_and_pkce_issues_tokens_once() {
    let b = Browser::start(Scenario::mfa()).await;
    let (status, page, _) = b
        .get(&b.authorize_url(&[("login_hint", "adele@contoso.com")]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"adele@contoso.com\""), "{page}");
    let flow = flow_id(&page);
    let (_, wrong, location) = b
        .post(
            "login",
            &[
                ("flow", &flow),
                ("username", "adele@contoso.com"),
                ("password", "nope"),
            ],
        )
        .await;
    assert!(location.is_none());
    assert!(wrong.contains("incorrect"), "{wrong}");

    let code = b.code(&[]).await;
    let (status, body) = b.redeem(&code, REDIRECT, "not-the-verifier").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 501481, "{body}");
    let (status, body) = b.redeem(&code, "http://localhost:9999", VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 500112, "{body}");
    let (status, body) = b.redeem(&code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string());
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], "adele@contoso.com");
    assert_eq!(id["aud"], b.scenario.client_id.as_str());
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], serde_json::json!(["pwd", "mfa"]));
    let (_, again) = b.redeem(&code, REDIRECT, VERIFIER).await;
    assert_eq!(
        again["error_codes"][0], 54005,
        "a code is redeemed once: {again}"
    );
}

#[tokio::test]
async fn wrong_one_time_code_is_asked_again() {
    let b = Browser::start(Scenario::mfa()).await;
    let (_, page, _) = b.get(&b.authorize_url(&[])).await;
    let flow = flow_id(&page);
    let (_, otc, _) = b
        .post(
            "login",
            &[
                ("flow", &flow),
                ("username", &b.scenario.username),
                ("password", &b.scenario.password),
            ],
        )
        .await;
    assert!(otc.contains("id=\"otc\""), "{otc}");
    let (_, again, location) = b.post("login", &[("flow", &flow), ("otc", "000000")]).await;
    assert!(location.is_none());
    assert!(again.contains("Check the code and try again"), "{again}");
}

#[tokio::test]
async fn offline_access_is_honoured_in_the_code_flow() {
    let b = Browser::start(Scenario::default()).await;
    let code = b.code(&[("scope", "openid profile User.Read")]).await;
    let (status, body) = b.redeem(&code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["id_token"].is_string());
}

#[tokio::test]
async fn authorize_refuses_bad_requests_as_entra_does() {
    let b = Browser::start(Scenario::default()).await;
    // Without PKCE: back to the redirect URI with the error and the state.
    for extra in [
        vec![("code_challenge", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
    ] {
        let (status, _, location) = b.get(&b.authorize_url(&extra)).await;
        assert_eq!(status, StatusCode::FOUND, "{extra:?}");
        let params = query(&location.unwrap());
        assert_eq!(params["error"], "invalid_request", "{extra:?}");
        assert!(params["error_description"].starts_with("AADSTS9002325"));
        assert_eq!(params["state"], "st-1");
    }
    let (_, _, location) = b.get(&b.authorize_url(&[("response_type", "token")])).await;
    assert_eq!(
        query(&location.unwrap())["error"],
        "unsupported_response_type"
    );
    let (_, _, location) = b.get(&b.authorize_url(&[("scope", "openid")])).await;
    assert_eq!(query(&location.unwrap())["error"], "invalid_scope");
    // Never redirected to an unregistered address or for an unknown app: an error page.
    for extra in [
        vec![("redirect_uri", "https://evil.example/")],
        vec![("redirect_uri", "http://localhost:4711/other")],
        vec![("client_id", "someone-else")],
    ] {
        let (status, page, location) = b.get(&b.authorize_url(&extra)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(location.is_none(), "{extra:?}");
        assert!(page.contains("AADSTS"), "{page}");
    }
    // Any loopback port matches the registered http://localhost.
    let (status, _, _) = b
        .get(&b.authorize_url(&[("redirect_uri", "http://localhost:1/")]))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cancel_and_consent_end_with_their_errors() {
    let b = Browser::start(Scenario::default()).await;
    let (_, page, _) = b.get(&b.authorize_url(&[])).await;
    let (_, _, location) = b
        .post("login", &[("flow", &flow_id(&page)), ("action", "cancel")])
        .await;
    assert_eq!(query(&location.unwrap())["error"], "access_denied");

    let b = Browser::start(Scenario::rejected(SignInBehaviour::ConsentMissing)).await;
    let (_, page, _) = b.get(&b.authorize_url(&[])).await;
    let (_, consent, _) = b.sign_in_on_pages(&page).await;
    assert!(consent.contains("id=\"accept\""), "{consent}");
    let (_, _, location) = b
        .post("login", &[("flow", &flow_id(&page)), ("action", "accept")])
        .await;
    assert!(query(&location.unwrap()).contains_key("code"));
    // Consented: the password grant works now.
    let client_id = b.scenario.client_id.clone();
    let (status, body) = b
        .token(&[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("scope", SCOPE),
            ("username", &b.scenario.username),
            ("password", &b.scenario.password),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut scenario = Scenario::rejected(SignInBehaviour::ConsentMissing);
    scenario.user_consent_allowed = false;
    let b = Browser::start(scenario).await;
    let (_, page, _) = b.get(&b.authorize_url(&[])).await;
    let (_, approval, _) = b.sign_in_on_pages(&page).await;
    assert!(approval.contains("Need admin approval"), "{approval}");
    let (_, _, location) = b
        .post("login", &[("flow", &flow_id(&page)), ("action", "cancel")])
        .await;
    assert_eq!(query(&location.unwrap())["error"], "consent_required");
}

/// Asks for a device code; the answer as it came.
async fn ask_for_device_code(b: &Browser) -> reqwest::Response {
    b.client
        .post(b.url("organizations/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", b.scenario.client_id.as_str()),
            ("scope", SCOPE),
        ])
        .send()
        .await
        .unwrap()
}

/// Starts a device code flow; returns the device authorization response.
async fn device_code(b: &Browser) -> Value {
    let response = ask_for_device_code(b).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn poll(b: &Browser, device_code: &str) -> (StatusCode, Value) {
    let client_id = b.scenario.client_id.clone();
    b.token(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", &client_id),
        ("device_code", device_code),
    ])
    .await
}

#[tokio::test]
async fn device_code_flow_through_its_page() {
    let mut scenario = Scenario::mfa();
    scenario.device_code.interval_secs = 1;
    let b = Browser::start(scenario).await;
    let answer = device_code(&b).await;
    let device = answer["device_code"].as_str().unwrap();
    let user_code = answer["user_code"].as_str().unwrap();
    assert_eq!(answer["interval"], 1);
    assert_eq!(answer["expires_in"], 900);
    assert!(answer["message"].as_str().unwrap().contains(user_code));
    let uri = answer["verification_uri"].as_str().unwrap();
    assert!(uri.ends_with("/devicelogin"), "{uri}");

    let (_, pending) = poll(&b, device).await;
    assert_eq!(pending["error"], "authorization_pending");
    let (_, fast) = poll(&b, device).await;
    assert_eq!(fast["error"], "slow_down", "polled at once again");

    let (_, entry, _) = b.get(uri).await;
    assert!(entry.contains("id=\"user_code\""));
    let (_, bad, _) = b.post("devicelogin", &[("user_code", "NOPE")]).await;
    assert!(bad.contains("Check the code and try again"), "{bad}");
    let (_, page, _) = b
        .post("devicelogin", &[("user_code", &user_code.to_lowercase())])
        .await;
    let (_, done, location) = b.sign_in_on_pages(&page).await;
    assert!(location.is_none());
    assert!(done.contains("You may now close this window"), "{done}");

    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, tokens) = poll(&b, device).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["preferred_username"],
        "adele@contoso.com"
    );
    assert_eq!(b.emulator.device_code_polls().len(), 3);
    let log = format!("{:?}", b.emulator.requests());
    assert!(!log.contains(device), "{log}");
}

#[tokio::test]
async fn device_code_declined_expired_or_not_allowed() {
    let mut scenario = Scenario::default();
    scenario.device_code.interval_secs = 1;
    scenario.device_code.lifetime_secs = 1;
    let b = Browser::start(scenario.clone()).await;
    let answer = device_code(&b).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, expired) = poll(&b, answer["device_code"].as_str().unwrap()).await;
    assert_eq!(expired["error"], "expired_token", "{expired}");

    scenario.device_code.lifetime_secs = 60;
    let b = Browser::start(scenario.clone()).await;
    let answer = device_code(&b).await;
    let (_, page, _) = b
        .post(
            "devicelogin",
            &[("user_code", answer["user_code"].as_str().unwrap())],
        )
        .await;
    let (_, declined, _) = b
        .post("login", &[("flow", &flow_id(&page)), ("action", "cancel")])
        .await;
    assert!(declined.contains("declined"), "{declined}");
    let (_, body) = poll(&b, answer["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_declined");

    scenario.public_client_flows = false;
    let b = Browser::start(scenario).await;
    let body: Value = ask_for_device_code(&b).await.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 7000218, "{body}");
}
