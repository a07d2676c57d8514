//! A loopback identity endpoint that speaks the documented Entra token and Graph protocol.
//!
//! Tests and the `demo` command need an Entra ID tenant whose situation they control ("the
//! password expires in 3 days", "the account is locked", "Graph throttles"). [`Emulator`] serves
//! the OAuth2 v2.0 token endpoint and the few Microsoft Graph v1.0 resources the agent reads, over
//! real HTTP on 127.0.0.1, and validates requests as the real endpoints do (tenant, client id,
//! content type, scopes, bearer tokens), answering with the documented status codes and error
//! bodies. Point both `[entra] authority` and `[entra] graph` at [`Emulator::base_url`].
//!
//! The interactive sign-ins are there too: the authorize endpoint with its HTML sign-in pages
//! (user name, password, the one-time code of an MFA account, consent), PKCE and redirect URI
//! checks, and the device code endpoints with their entry page; a person (or a browser driven by
//! a test) signs in on those pages.
//!
//! A crate of its own (package `signin-assistant-emulator`, library `emulator`) in the
//! signin-assistant workspace: the binary's `demo` command and the tests use it, and it knows
//! nothing of the signin-assistant library. Its protocol tests, written as a client following
//! Microsoft's documentation would be, are signin-assistant's `tests/emulator_http/`;
//! `examples/emulator.rs` serves it on its own.
//!
//! Module map: `scenario` (what the tenant looks like), `token` (token endpoint), `aadsts` (its
//! error bodies), `discovery` (the OpenID Connect discovery document), `authorize` (authorize
//! endpoint, sign-in steps, code redemption), `device` (device code flow), `pages` (the HTML),
//! `graph` (Graph resources), `jwt` (token encoding). The emulator never records passwords, codes
//! or tokens: see [`RecordedRequest`].
//!
//! Cargo feature `faults` (off by default): fault injection for the client's robustness tests,
//! `Misbehaviour` in `Scenario::misbehaviour` (module `faults`: timeouts, HTML error pages,
//! redirects, bodies of the wrong shape, a hostile error text, broken connections). The tests
//! turn it on; the shipped binary, whose `demo` only needs a well-behaved tenant, does not.

mod aadsts;
mod authorize;
mod device;
mod discovery;
#[cfg(feature = "faults")]
mod faults;
mod form;
mod graph;
mod jwt;
#[cfg(feature = "faults")]
mod misbehaviour;
mod pages;
mod scenario;
mod token;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

pub use jwt::decode_payload as decode_jwt_payload;
#[cfg(feature = "faults")]
pub use misbehaviour::Misbehaviour;
pub use scenario::{
    DeviceCodeSettings, DomainPolicy, PasswordClaims, Scenario, SignInBehaviour, Throttle,
    DEFAULT_ONE_TIME_CODE, DEFAULT_PASSWORD_CHANGE_URL,
};

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`] also waits for it.
pub struct Emulator {
    shared: Arc<Shared>,
    base_url: Url,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// One request the emulator answered, without secrets: no body, no headers, and the values of
/// secret-bearing query parameters replaced by `REDACTED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path plus query, e.g. `/v1.0/me?$select=id`.
    pub path: String,
    /// `grant_type` of a token request that had one.
    pub grant_type: Option<String>,
    pub status: u16,
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime until dropped or
    /// shut down.
    pub async fn start(scenario: Scenario) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let port = listener.local_addr()?.port();
        let base_url = Url::parse(&format!("http://127.0.0.1:{port}/"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(scenario)),
            base_url: base_url.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Emulator {
            shared,
            base_url,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT/`: use it as both `[entra] authority` and `[entra] graph`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The scenario currently served.
    pub fn scenario(&self) -> Scenario {
        self.shared.lock().scenario.clone()
    }

    /// Replaces the behaviour from the next request on. Issued tokens stay valid; throttling
    /// counters start again.
    pub fn set_scenario(&self, scenario: Scenario) {
        let mut state = self.shared.lock();
        state.scenario = scenario;
        state.token_throttled = 0;
        state.graph_throttled = 0;
    }

    /// The password was changed elsewhere: the new password is the only one accepted,
    /// `lastPasswordChangeDateTime` is now, an expired password no longer is (sign-in `Ok`,
    /// no `pwd_exp` claims), and every refresh token issued so far is revoked (AADSTS50173).
    pub fn change_password(&self, new_password: &str) {
        let mut state = self.shared.lock();
        let now = scenario::now_secs();
        state.scenario.password = new_password.to_owned();
        state.scenario.last_password_change = now;
        state.scenario.claims = None;
        if matches!(
            state.scenario.sign_in,
            SignInBehaviour::PasswordExpired | SignInBehaviour::OnPremPasswordExpired
        ) {
            state.scenario.sign_in = SignInBehaviour::Ok;
        }
        state.revoke_refresh_tokens(now);
    }

    /// Revokes every refresh token issued so far (AADSTS50173), as an admin's "revoke sessions".
    pub fn revoke_refresh_tokens(&self) {
        self.shared
            .lock()
            .revoke_refresh_tokens(scenario::now_secs());
    }

    /// Makes every refresh token issued so far expire for inactivity (AADSTS700082).
    pub fn expire_refresh_tokens(&self) {
        let mut state = self.shared.lock();
        for grant in state.refresh_tokens.values_mut() {
            if grant.status == RefreshStatus::Active {
                grant.status = RefreshStatus::Expired;
            }
        }
    }

    /// Makes every access token issued so far expired (Graph answers 401).
    pub fn expire_access_tokens(&self) {
        let mut state = self.shared.lock();
        let past = Utc::now() - chrono::TimeDelta::seconds(1);
        for expires_at in state.access_tokens.values_mut() {
            *expires_at = past;
        }
    }

    /// The requests answered so far, in order, without secrets.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// When each device code poll arrived, oldest first (to check the client's interval).
    pub fn device_code_polls(&self) -> Vec<std::time::Instant> {
        self.shared.lock().device_polls.clone()
    }

    /// Stops accepting connections, drops open ones and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Dropping the sender wakes the accept loop, which ends and aborts its connections.
        self.stop.take();
    }
}

/// State shared by the API handle and the request handlers. The lock is never held across an
/// `.await`.
pub(crate) struct Shared {
    state: Mutex<State>,
    base_url: Url,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked cannot leave the state half-written in a way that matters here.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) struct State {
    scenario: Scenario,
    /// Requests throttled so far on each endpoint.
    token_throttled: u32,
    graph_throttled: u32,
    refresh_tokens: HashMap<String, RefreshGrant>,
    /// Access tokens issued, with their expiry.
    access_tokens: HashMap<String, DateTime<Utc>>,
    requests: Vec<RecordedRequest>,
    /// Sign-ins in progress on the pages, by flow id.
    flows: HashMap<String, authorize::Flow>,
    /// Authorization codes issued.
    auth_codes: HashMap<String, authorize::AuthCode>,
    /// Device codes issued, by device code.
    device_grants: HashMap<String, device::DeviceGrant>,
    /// When each device code poll arrived.
    device_polls: Vec<std::time::Instant>,
    /// The account consented to the app on the consent page.
    consented: bool,
}

impl State {
    fn new(scenario: Scenario) -> State {
        State {
            scenario,
            token_throttled: 0,
            graph_throttled: 0,
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            requests: Vec::new(),
            flows: HashMap::new(),
            auth_codes: HashMap::new(),
            device_grants: HashMap::new(),
            device_polls: Vec::new(),
            consented: false,
        }
    }

    fn revoke_refresh_tokens(&mut self, at: DateTime<Utc>) {
        for grant in self.refresh_tokens.values_mut() {
            if grant.status != RefreshStatus::Revoked {
                grant.status = RefreshStatus::Revoked;
                grant.revoked_at = Some(at);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    issued_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    status: RefreshStatus,
    /// Issued after multi-factor authentication: refreshed tokens say so too.
    mfa: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshStatus {
    Active,
    Revoked,
    Expired,
}

type HttpResponse = Response<Full<Bytes>>;

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(error) => {
                    tracing::warn!(%error, "emulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    #[cfg(feature = "faults")]
    let Some(stream) = faults::serve_raw(stream, &shared).await
    else {
        return;
    };
    let service = service_fn(move |request| handle(request, Arc::clone(&shared)));
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%error, "emulator: connection ended with an error");
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<HttpResponse, Infallible> {
    let method = request.method().to_string();
    let path = redacted_path(request.uri().path(), request.uri().query());
    #[cfg(feature = "faults")]
    faults::delay(&shared).await;
    // A handler bug must show up as a 500 in the test that hit it, not as a dropped connection.
    let routed = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { route(request, &shared).await }).await
    };
    let (response, grant_type) = routed.unwrap_or_else(|_| {
        let body = "emulator fault: the request handler panicked";
        (
            text_response(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", body),
            None,
        )
    });
    shared.lock().requests.push(RecordedRequest {
        method,
        path,
        grant_type,
        status: response.status().as_u16(),
    });
    Ok(response)
}

/// Dispatches by path; returns the response and the token request's `grant_type`, if any.
async fn route(request: Request<Incoming>, shared: &Shared) -> (HttpResponse, Option<String>) {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] => {
            let tenant = percent_decode(tenant).unwrap_or_default();
            token::handle(request, &tenant, shared).await
        }
        [tenant, "oauth2", "v2.0", "authorize"] => {
            let tenant = percent_decode(tenant).unwrap_or_default();
            (authorize::start(&request, &tenant, shared), None)
        }
        [tenant, "oauth2", "v2.0", "devicecode"] => {
            let tenant = percent_decode(tenant).unwrap_or_default();
            (device::start(request, &tenant, shared).await, None)
        }
        [tenant, "v2.0", ".well-known", "openid-configuration"] => {
            let tenant = percent_decode(tenant).unwrap_or_default();
            let scenario = shared.lock().scenario.clone();
            (
                discovery::document(&scenario, &shared.base_url, &tenant),
                None,
            )
        }
        ["login"] if method == hyper::Method::POST => {
            (authorize::login(request, shared).await, None)
        }
        ["devicelogin"] if method == hyper::Method::POST => {
            (authorize::enter_code(request, shared).await, None)
        }
        ["devicelogin"] => (device::entry_page(), None),
        ["v1.0", rest @ ..] => (graph::handle(&request, rest, shared), None),
        _ => (
            text_response(StatusCode::NOT_FOUND, "text/plain", "Not Found"),
            None,
        ),
    }
}

/// Whether `tenant` (the path segment) names the emulated tenant: its domain, its id, or
/// `organizations`/`common`, which send work and school accounts to their home tenant.
pub(crate) fn tenant_known(scenario: &Scenario, tenant: &str) -> bool {
    [
        scenario.tenant.as_str(),
        scenario.tenant_id.as_str(),
        "organizations",
        "common",
    ]
    .iter()
    .any(|t| tenant.eq_ignore_ascii_case(t))
}

/// Path and query for the request log, with secret-bearing query values replaced.
fn redacted_path(path: &str, query: Option<&str>) -> String {
    const SECRET_KEYS: &[&str] = &[
        "password",
        "refresh_token",
        "access_token",
        "id_token",
        "client_secret",
        "client_assertion",
        "code",
        "code_verifier",
        "assertion",
        "device_code",
        "otc",
    ];
    let Some(query) = query else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let decoded = percent_decode(key).unwrap_or_default().to_ascii_lowercase();
            if SECRET_KEYS.contains(&decoded.as_str()) {
                format!("{key}=REDACTED")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// Decodes `%XX` escapes (not `+`, which is literal in a path). `None` if the result is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    text_response(status, "application/json; charset=utf-8", &body.to_string())
}

pub(crate) fn text_response(
    status: StatusCode,
    content_type: &'static str,
    body: &str,
) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Adds `Retry-After: secs` to a throttling response.
pub(crate) fn with_retry_after(mut response: HttpResponse, secs: u64) -> HttpResponse {
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
    response
}
