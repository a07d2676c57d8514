//! Microsoft Entra ID / Office 365: authenticates at the OAuth2 token endpoint (password or
//! refresh-token grant, or the interactive sign-ins of `browser` and `device_code`) and learns
//! the password's deadline from the token's optional claims or from Microsoft Graph.

pub mod browser;
mod capabilities;
pub mod device_code;
pub(crate) mod graph;
pub mod loopback;
pub mod settings;
pub(crate) mod token;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::providers::http::{self, HttpClient};
use crate::providers::{Attempt, ProviderError, RefreshOutcome};
use crate::rules::expiry::{Deadline, Facts, Finding, Source};
use crate::system::config::Config;
use crate::system::credentials::{EndpointIdentity, Secret};
use token::{TokenErrorBody, TokenFailure, Tokens};

const TOKEN_ENDPOINT: &str = "the Entra token endpoint";
const GRAPH_ENDPOINT: &str = "Microsoft Graph";

pub struct EntraProvider {
    http: HttpClient,
    /// `{authority}/{tenant}/oauth2/v2.0/`: the token, authorize and devicecode endpoints.
    oauth_base: Url,
    token_url: Url,
    graph: Url,
    client_id: String,
    /// The token URL's origin and the tenant: where kept credentials may be sent.
    endpoint: EndpointIdentity,
    /// The domain policy is unreadable (403/404): say so once, then use the configured policy.
    domain_policy_warned: AtomicBool,
}

impl EntraProvider {
    pub fn new(config: &Config) -> Result<EntraProvider, ProviderError> {
        // Unset means any work or school account: its home tenant answers.
        let tenant = config
            .entra
            .tenant
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_TENANT);
        if tenant.contains(['/', '?', '#', ' ', '%', '\\'])
            || tenant.eq_ignore_ascii_case("consumers")
        {
            return Err(config
                .error_at("entra.tenant", "must be your tenant id, a verified domain or \"organizations\" (personal Microsoft accounts have no directory password)")
                .into());
        }
        let client_id = config
            .entra
            .client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                config.missing_error(&settings::CLIENT_ID, "signing in to Entra ID needs it")
            })?;
        let token_url = token_url(&config.entra.authority, tenant)
            .map_err(|m| config.error_at("entra.tenant", m))?;
        let oauth_base = token_url
            .join("./")
            .map_err(|e| config.error_at("entra.tenant", e.to_string()))?;
        let http = HttpClient::new(
            Duration::from_secs(config.entra.timeout_secs),
            Duration::from_secs(config.entra.max_retry_after_secs),
        )?;
        let endpoint = endpoint_identity(&token_url, tenant);
        Ok(EntraProvider {
            http,
            oauth_base,
            endpoint,
            token_url,
            graph: with_dir(&config.entra.graph),
            client_id,
            domain_policy_warned: AtomicBool::new(false),
        })
    }

    /// How far this computer's clock was from the endpoint's at its last answer.
    pub fn clock_offset_secs(&self) -> Option<i64> {
        self.http.clock_offset_secs()
    }

    /// Where kept credentials may be sent: the token URL's origin and the tenant.
    pub fn endpoint(&self) -> EndpointIdentity {
        self.endpoint.clone()
    }

    /// The OAuth2 token endpoint this provider signs in at (`doctor` checks that it answers).
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// One password (ROPC) attempt.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Attempt, ProviderError> {
        let form = token::password_form(&self.client_id, username, password);
        match self.request_tokens(&form, token::classify).await? {
            Ok(tokens) => self.accepted(username, tokens).await,
            Err(TokenFailure::PasswordExpired { change_url }) => Ok(expired_attempt(change_url)),
            Err(TokenFailure::SignIn(reason)) => Ok(Attempt::refused(reason)),
            Err(TokenFailure::RefreshRevoked) => {
                Err(unexpected("a refresh-token error for a password grant"))
            }
            Err(TokenFailure::Other { code, error }) => Err(ProviderError::Endpoint {
                endpoint: TOKEN_ENDPOINT.into(),
                code,
                error,
            }),
        }
    }

    /// One refresh-token attempt.
    pub async fn refresh(
        &self,
        username: &str,
        refresh_token: &Secret,
    ) -> Result<RefreshOutcome, ProviderError> {
        let form = token::refresh_form(&self.client_id, refresh_token);
        let attempt = match self.request_tokens(&form, token::classify_refresh).await? {
            Ok(tokens) => self.accepted(username, tokens).await?,
            Err(TokenFailure::RefreshRevoked) => return Ok(RefreshOutcome::Revoked),
            Err(TokenFailure::PasswordExpired { change_url }) => expired_attempt(change_url),
            Err(TokenFailure::SignIn(reason)) => Attempt::refused(reason),
            Err(TokenFailure::Other { code, error }) => {
                return Err(ProviderError::Endpoint {
                    endpoint: TOKEN_ENDPOINT.into(),
                    code,
                    error,
                })
            }
        };
        Ok(RefreshOutcome::Accepted(attempt))
    }

    /// Posts a grant; `Ok(Err(..))` is a documented refusal (mapped by `classify`), `Err` a
    /// transport or protocol failure.
    async fn request_tokens(
        &self,
        form: &[(&str, &str)],
        classify: fn(&TokenErrorBody) -> TokenFailure,
    ) -> Result<Result<Tokens, TokenFailure>, ProviderError> {
        Ok(self.post_token_form(form).await?.map_err(|e| classify(&e)))
    }

    /// Posts a form to the token endpoint; `Ok(Err(body))` is the documented error body.
    async fn post_token_form(
        &self,
        form: &[(&str, &str)],
    ) -> Result<Result<Tokens, TokenErrorBody>, ProviderError> {
        let url = self.token_url.clone();
        let (status, body) = self.post_form(TOKEN_ENDPOINT, url, form).await?;
        if status.is_success() {
            return parse_json::<Tokens>(TOKEN_ENDPOINT, body.as_slice()).map(Ok);
        }
        parse_error_body(TOKEN_ENDPOINT, status, body.as_slice()).map(Err)
    }

    /// Posts a form and reads the whole answer.
    async fn post_form(
        &self,
        endpoint: &str,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<(StatusCode, http::WipedBody), ProviderError> {
        // Built once in a wiped buffer; every retry shares it.
        let body = http::form_body(form);
        let response = self
            .http
            .send(endpoint, || {
                self.http
                    .inner()
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone())
            })
            .await?;
        drop(body);
        let status = response.status();
        if status.is_redirection() {
            return Err(redirected(endpoint, status));
        }
        Ok((status, read_body(endpoint, response).await?))
    }

    /// Names the account the interactive sign-in brought back, from its ID token.
    fn issued(&self, tokens: Tokens) -> Result<IssuedTokens, InteractiveError> {
        let account = tokens
            .id_token
            .as_ref()
            .and_then(|id| id_token_account(id.expose(), &self.client_id))
            .ok_or_else(|| {
                InteractiveError::Provider(unexpected(
                    "the sign-in gave no ID token naming the account (preferred_username for this app)",
                ))
            })?;
        Ok(IssuedTokens { account, tokens })
    }

    /// Learns the deadline with the tokens of an interactive sign-in. The attempt carries the
    /// refresh token to keep; `AcceptedWithoutFacts` carries it when Graph failed.
    pub async fn accept(&self, issued: IssuedTokens) -> Result<Attempt, ProviderError> {
        self.accepted(&issued.account, issued.tokens).await
    }

    /// The password (or refresh token) was accepted: learn the deadline.
    async fn accepted(&self, username: &str, tokens: Tokens) -> Result<Attempt, ProviderError> {
        let facts = match self.facts(username, &tokens.access_token).await {
            Ok(facts) => facts,
            Err(e) => {
                return Err(ProviderError::AcceptedWithoutFacts {
                    refresh_token: tokens.refresh_token,
                    source: Box::new(e),
                })
            }
        };
        Ok(Attempt {
            finding: Finding::Facts(facts),
            password_accepted: true,
            refresh_token: tokens.refresh_token,
        })
    }

    async fn facts(&self, username: &str, access_token: &Secret) -> Result<Facts, ProviderError> {
        if let Some(claims) = graph::password_claims(access_token.expose()) {
            let deadline = Deadline::At {
                expires_at: claims.expires_at,
            };
            return Ok(Facts {
                portal_url: claims.change_url,
                ..Facts::new(deadline, Source::TokenClaim)
            });
        }
        let me: graph::Me = match self.graph_get(graph::ME_PATH, access_token).await? {
            GraphAnswer::Ok(me) => me,
            GraphAnswer::Denied(status) => {
                let detail = match status {
                    401 => "it did not accept the access token (HTTP 401)".to_string(),
                    _ => format!("reading your profile was refused (HTTP {status}); the app needs the delegated User.Read permission"),
                };
                return Err(ProviderError::Protocol {
                    endpoint: GRAPH_ENDPOINT.into(),
                    detail,
                });
            }
        };
        let changed_at = me.last_password_change_date_time;
        let synced_note = me
            .on_premises_sync_enabled
            .unwrap_or(false)
            .then(|| "synced from on-premises Active Directory: the deadline is kept there; use [provider] kind = \"ldap\"".to_string());
        if me.password_never_expires() {
            return Ok(Facts {
                changed_at,
                note: synced_note,
                ..Facts::new(Deadline::Never, Source::GraphPasswordPolicies)
            });
        }
        let Some(changed_at) = changed_at else {
            return Ok(Facts {
                note: Some("Graph did not return lastPasswordChangeDateTime".into()),
                ..Facts::new(Deadline::Unknown, Source::GraphConfigPolicy)
            });
        };
        let upn = me.user_principal_name.as_deref().unwrap_or(username);
        let domain = self.domain_policy(upn, access_token).await?;
        let validity_days = domain
            .as_ref()
            .and_then(|d| d.password_validity_period_in_days);
        let source = if validity_days.is_some() {
            Source::GraphDomainPolicy
        } else {
            Source::GraphConfigPolicy
        };
        let deadline = Deadline::AfterChange {
            changed_at,
            validity_days,
        };
        Ok(Facts {
            warning_days: domain.and_then(|d| d.password_notification_window_in_days),
            changed_at: Some(changed_at),
            ..Facts::new(deadline, source)
        })
    }

    /// The domain's password policy, or None when it is unreadable (403/404) or has no UPN suffix.
    async fn domain_policy(
        &self,
        upn: &str,
        access_token: &Secret,
    ) -> Result<Option<graph::Domain>, ProviderError> {
        let Some(path) = graph::domain_path(upn) else {
            return Ok(None);
        };
        match self.graph_get::<graph::Domain>(&path, access_token).await? {
            GraphAnswer::Ok(domain) => Ok(Some(domain)),
            GraphAnswer::Denied(status) => {
                if !self.domain_policy_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        status,
                        "the domain's password policy is not readable (Domain.Read.All needs admin consent); using [policy] from the configuration"
                    );
                }
                Ok(None)
            }
        }
    }

    async fn graph_get<T: DeserializeOwned>(
        &self,
        path: &str,
        access_token: &Secret,
    ) -> Result<GraphAnswer<T>, ProviderError> {
        let url = self
            .graph
            .join(path)
            .map_err(|e| unexpected(&e.to_string()))?;
        let authorization = http::bearer(access_token)?;
        let response = self
            .http
            .send(GRAPH_ENDPOINT, || {
                self.http
                    .inner()
                    .get(url.clone())
                    .header(AUTHORIZATION, authorization.clone())
            })
            .await?;
        drop(authorization);
        let status = response.status();
        if status.is_redirection() {
            return Err(redirected(GRAPH_ENDPOINT, status));
        }
        if matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
        ) {
            return Ok(GraphAnswer::Denied(status.as_u16()));
        }
        let body = read_body(GRAPH_ENDPOINT, response).await?;
        if !status.is_success() {
            return Err(ProviderError::Protocol {
                endpoint: GRAPH_ENDPOINT.into(),
                detail: format!("HTTP {}", status.as_u16()),
            });
        }
        parse_json(GRAPH_ENDPOINT, body.as_slice()).map(GraphAnswer::Ok)
    }
}

/// Entra ID in the provider registry.
pub const REGISTRATION: crate::providers::Registration = crate::providers::Registration {
    kind: crate::system::config::ProviderKind::Entra,
    name: "entra",
    build: |config| {
        Ok(crate::providers::Provider::Entra(EntraProvider::new(
            config,
        )?))
    },
    missing: settings::missing,
    words: settings::WORDS,
    sign_in: Some(settings::sign_in),
    changes_password_here: |_| false,
    login_name_is_account: false,
};

/// Tenant used when `[entra] tenant` is unset: any work or school account.
const DEFAULT_TENANT: &str = "organizations";

/// What an interactive sign-in brought back: the tokens and the account they belong to.
pub struct IssuedTokens {
    account: String,
    tokens: Tokens,
}

impl IssuedTokens {
    /// The account signed in: the ID token's `preferred_username`.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// Why an interactive sign-in (browser or device code) did not bring tokens. Messages are plain
/// words and never hold codes, verifiers or tokens.
#[derive(Debug, thiserror::Error)]
pub enum InteractiveError {
    /// The person, the tenant or the endpoint said no; nothing is kept.
    #[error("{0}")]
    Refused(String),
    /// Nothing came back in time.
    #[error("{0}")]
    TimedOut(String),
    /// The loopback listener for the browser's answer could not be set up.
    #[error("cannot listen on this computer's loopback address for the browser's answer: {0}")]
    Loopback(String),
    /// This computer could not do its part (e.g. no secure random numbers).
    #[error("{0}")]
    System(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl InteractiveError {
    /// A refusal of the token endpoint, in words for the person.
    fn from_failure(failure: TokenFailure) -> InteractiveError {
        match failure {
            TokenFailure::SignIn(reason) => InteractiveError::Refused(reason.explain().to_string()),
            TokenFailure::PasswordExpired { .. } => InteractiveError::Refused(
                "your password has expired; change it, then sign in again".into(),
            ),
            TokenFailure::RefreshRevoked => {
                InteractiveError::Refused("the sign-in was no longer valid; sign in again".into())
            }
            TokenFailure::Other { code, error } => {
                InteractiveError::Provider(ProviderError::Endpoint {
                    endpoint: TOKEN_ENDPOINT.into(),
                    code,
                    error,
                })
            }
        }
    }
}

/// The `preferred_username` of an ID token meant for `client_id`. The signature is not checked:
/// the token came over TLS straight from the configured authority, in answer to our own request.
fn id_token_account(id_token: &str, client_id: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdClaims {
        aud: Option<String>,
        preferred_username: Option<String>,
    }
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.trim_end_matches('='),
    )
    .ok()?;
    let claims: IdClaims = serde_json::from_slice(&bytes).ok()?;
    if !claims.aud?.eq_ignore_ascii_case(client_id) {
        return None;
    }
    claims
        .preferred_username
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

/// The documented error body of an OAuth endpoint, or a protocol error without it.
fn parse_error_body(
    endpoint: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<TokenErrorBody, ProviderError> {
    serde_json::from_slice::<TokenErrorBody>(body).map_err(|_| ProviderError::Protocol {
        endpoint: endpoint.into(),
        detail: format!("HTTP {} without the documented error body", status.as_u16()),
    })
}

enum GraphAnswer<T> {
    Ok(T),
    Denied(u16),
}

/// The endpoint accepted the password but it has expired: cache it, report expired.
fn expired_attempt(change_url: Option<String>) -> Attempt {
    Attempt {
        finding: Finding::Facts(Facts {
            portal_url: change_url,
            ..Facts::new(Deadline::ExpiredNow, Source::TokenEndpoint)
        }),
        password_accepted: true,
        refresh_token: None,
    }
}

/// Largest answer we read: the documented bodies are a few kilobytes.
const MAX_BODY: usize = 1 << 20;

/// A 3xx answer: redirects are never followed (the request carries the password or a token),
/// so it is reported as what it is.
fn redirected(endpoint: &str, status: StatusCode) -> ProviderError {
    ProviderError::Protocol {
        endpoint: endpoint.into(),
        detail: format!(
            "it redirected elsewhere (HTTP {}); redirects are not followed, so nothing was sent there",
            status.as_u16()
        ),
    }
}

/// Reads the whole answer, at most [`MAX_BODY`], into a buffer that is wiped when dropped.
async fn read_body(
    endpoint: &str,
    response: reqwest::Response,
) -> Result<http::WipedBody, ProviderError> {
    http::read_bounded(response, MAX_BODY)
        .await
        .map_err(|e| match e {
            http::BodyError::TooLarge { .. } => ProviderError::Protocol {
                endpoint: endpoint.into(),
                detail: e.to_string(),
            },
            http::BodyError::TimedOut | http::BodyError::CutOff => ProviderError::Unreachable {
                endpoint: endpoint.into(),
                detail: e.to_string(),
            },
        })
}

/// Parses JSON; the error names the field but never quotes the body (it may hold tokens).
fn parse_json<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| ProviderError::Protocol {
        endpoint: endpoint.into(),
        detail: format!(
            "malformed JSON ({} at line {} column {})",
            classify_json_error(&e),
            e.line(),
            e.column()
        ),
    })
}

fn classify_json_error(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected or missing field value",
        serde_json::error::Category::Eof => "truncated",
    }
}

fn unexpected(detail: &str) -> ProviderError {
    ProviderError::Protocol {
        endpoint: TOKEN_ENDPOINT.into(),
        detail: detail.into(),
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/token`, checked after joining: it must obey the same
/// https/loopback rule as every configured URL and stay on the authority's origin, under its
/// path. The config loader already refuses tenants that are not a GUID or a domain name; this
/// is the second lock, on the URL the password is actually sent to.
fn token_url(authority: &Url, tenant: &str) -> Result<Url, String> {
    crate::system::config::check_tenant(tenant)?;
    let base = with_dir(authority);
    let url = base
        .join(&format!("{tenant}/oauth2/v2.0/token"))
        .map_err(|e| format!("the token endpoint URL cannot be built: {e}"))?;
    crate::system::config::check_web_url(&url)?;
    let expected_path = format!("{}{tenant}/oauth2/v2.0/token", base.path());
    if url.origin() != base.origin()
        || !url.path().eq_ignore_ascii_case(&expected_path)
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "the token endpoint URL `{url}` would leave the authority `{base}`"
        ));
    }
    Ok(url)
}

/// The identity of the endpoint that receives the password and refresh token: the token URL's
/// origin (scheme, host, port) and the tenant, which names the directory (case does not matter
/// in a GUID or a domain name).
fn endpoint_identity(token_url: &Url, tenant: &str) -> EndpointIdentity {
    EndpointIdentity::new(format!(
        "entra {} tenant={}",
        token_url.origin().ascii_serialization(),
        tenant.to_ascii_lowercase()
    ))
}

/// A base URL that `join` treats as a directory (keeps any path prefix, e.g. sovereign clouds).
fn with_dir(base: &Url) -> Url {
    let mut url = base.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn id_token(payload: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", enc(r#"{"alg":"RS256"}"#), enc(payload))
    }

    #[test]
    fn the_account_is_the_preferred_username_of_an_id_token_for_this_app() {
        let token = id_token(r#"{"aud":"APP","preferred_username":" adele@contoso.com "}"#);
        assert_eq!(
            id_token_account(&token, "app").as_deref(),
            Some("adele@contoso.com")
        );
        let other_app = id_token(r#"{"aud":"other","preferred_username":"adele@contoso.com"}"#);
        assert_eq!(id_token_account(&other_app, "app"), None);
        assert_eq!(id_token_account(&id_token(r#"{"aud":"app"}"#), "app"), None);
        let blank = id_token(r#"{"aud":"app","preferred_username":""}"#);
        assert_eq!(id_token_account(&blank, "app"), None);
        assert_eq!(id_token_account("not-a-jwt", "app"), None);
    }

    #[test]
    fn the_endpoint_is_the_token_url_origin_and_the_tenant() {
        let at = |authority: &str, tenant: &str| {
            let url = token_url(&Url::parse(authority).unwrap(), tenant).unwrap();
            endpoint_identity(&url, tenant)
        };
        let home = at(
            "https://login.microsoftonline.com",
            "contoso.onmicrosoft.com",
        );
        assert_eq!(
            home,
            at(
                "https://LOGIN.microsoftonline.com/",
                "Contoso.onmicrosoft.com"
            )
        );
        assert_ne!(
            home,
            at("https://login.microsoftonline.com", "fabrikam.com")
        );
        assert_ne!(
            home,
            at("https://login.partner.example", "contoso.onmicrosoft.com")
        );
        assert_ne!(
            at("http://127.0.0.1:8001", "contoso.com"),
            at("http://127.0.0.1:8002", "contoso.com")
        );
    }

    #[test]
    fn the_token_url_stays_under_the_authority() {
        let authority = Url::parse("https://login.microsoftonline.com").unwrap();
        assert_eq!(
            token_url(&authority, "contoso.onmicrosoft.com")
                .unwrap()
                .as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let sovereign = Url::parse("https://login.example.us/prefix").unwrap();
        assert_eq!(
            token_url(&sovereign, "4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59")
                .unwrap()
                .as_str(),
            "https://login.example.us/prefix/4b1f0c51-7a3e-4d2b-9c5e-0e1d2c3b4a59/oauth2/v2.0/token"
        );
        for hostile in [
            "http:evil.example",
            "\\\\evil.example",
            "//evil.example",
            "..",
            "../other",
            "a?b",
            "x#y",
            "https://evil.example",
        ] {
            let err = token_url(&authority, hostile).expect_err(hostile);
            assert!(!err.is_empty());
        }
    }

    #[test]
    fn a_joined_url_that_leaves_the_authority_is_refused_even_if_the_tenant_looked_fine() {
        // `Url::join` with an absolute reference: what the URL check exists for.
        let base = Url::parse("https://login.microsoftonline.com/").unwrap();
        let moved = base.join("http:evil.example/oauth2/v2.0/token").unwrap();
        assert_eq!(moved.host_str(), Some("evil.example"));
        assert!(crate::system::config::check_web_url(&moved).is_err());
        let moved = base.join("\\\\evil.example/oauth2/v2.0/token").unwrap();
        assert_eq!(moved.host_str(), Some("evil.example"));
        assert_ne!(moved.origin(), base.origin());
    }
}
