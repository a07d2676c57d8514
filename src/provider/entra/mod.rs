//! Microsoft Entra ID / Office 365: authenticates at the OAuth2 token endpoint (password or
//! refresh-token grant) and learns the password's deadline from the token's optional claims or
//! from Microsoft Graph.

mod graph;
mod token;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::Config;
use crate::credentials::Secret;
use crate::policy::{Deadline, Facts, Finding, Source};
use crate::provider::http::HttpClient;
use crate::provider::{Attempt, ProviderError, RefreshOutcome};
use token::{TokenErrorBody, TokenFailure, Tokens};

const TOKEN_ENDPOINT: &str = "the Entra token endpoint";
const GRAPH_ENDPOINT: &str = "Microsoft Graph";

pub struct EntraProvider {
    http: HttpClient,
    token_url: Url,
    graph: Url,
    client_id: String,
    /// The domain policy is unreadable (403/404): say so once, then use the configured policy.
    domain_policy_warned: AtomicBool,
}

impl EntraProvider {
    pub fn new(config: &Config) -> Result<EntraProvider, ProviderError> {
        let tenant = config
            .entra
            .tenant
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                config.error_at(
                    "entra.tenant",
                    "is required for [provider] kind = \"entra\"",
                )
            })?;
        if tenant.contains(['/', '?', '#', ' '])
            || matches!(tenant, "common" | "consumers" | "organizations")
        {
            return Err(config
                .error_at("entra.tenant", "must be your tenant id or verified domain (not common/consumers/organizations)")
                .into());
        }
        let client_id = config
            .entra
            .client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                config.error_at(
                    "entra.client_id",
                    "is required for [provider] kind = \"entra\"",
                )
            })?;
        let token_url = with_dir(&config.entra.authority)
            .join(&format!("{tenant}/oauth2/v2.0/token"))
            .map_err(|e| config.error_at("entra.tenant", e.to_string()))?;
        let http = HttpClient::new(
            Duration::from_secs(config.entra.timeout_secs),
            Duration::from_secs(config.entra.max_retry_after_secs),
        )?;
        Ok(EntraProvider {
            http,
            token_url,
            graph: with_dir(&config.entra.graph),
            client_id,
            domain_policy_warned: AtomicBool::new(false),
        })
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
        match self.request_tokens(&form).await? {
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
        let attempt = match self.request_tokens(&form).await? {
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

    /// Posts a grant; `Ok(Err(..))` is a documented refusal, `Err` a transport or protocol failure.
    async fn request_tokens(
        &self,
        form: &[(&str, &str)],
    ) -> Result<Result<Tokens, TokenFailure>, ProviderError> {
        let response = self
            .http
            .send(TOKEN_ENDPOINT, || {
                self.http.inner().post(self.token_url.clone()).form(form)
            })
            .await?;
        let status = response.status();
        let body = read_body(TOKEN_ENDPOINT, response).await?;
        if status.is_success() {
            return parse_json::<Tokens>(TOKEN_ENDPOINT, &body).map(Ok);
        }
        match serde_json::from_slice::<TokenErrorBody>(&body) {
            Ok(error) => Ok(Err(token::classify(&error))),
            Err(_) => Err(ProviderError::Protocol {
                endpoint: TOKEN_ENDPOINT.into(),
                detail: format!("HTTP {} without the documented error body", status.as_u16()),
            }),
        }
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
        let response = self
            .http
            .send(GRAPH_ENDPOINT, || {
                self.http
                    .inner()
                    .get(url.clone())
                    .bearer_auth(access_token.expose())
            })
            .await?;
        let status = response.status();
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
        parse_json(GRAPH_ENDPOINT, &body).map(GraphAnswer::Ok)
    }
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

async fn read_body(
    endpoint: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| ProviderError::Unreachable {
                endpoint: endpoint.into(),
                detail: if e.is_timeout() {
                    "timed out while reading the answer".into()
                } else {
                    "the answer was cut off".into()
                },
            })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProviderError::Protocol {
                endpoint: endpoint.into(),
                detail: "the answer is larger than 1 MiB".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
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

/// A base URL that `join` treats as a directory (keeps any path prefix, e.g. sovereign clouds).
fn with_dir(base: &Url) -> Url {
    let mut url = base.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url
}
