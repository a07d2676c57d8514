//! The one-shot listener that receives the browser's redirect after an interactive sign-in
//! (RFC 8252 7.3, "loopback interface redirection").
//!
//! Kept apart from the Entra flow because it is plain HTTP plumbing with rules of its own: it
//! listens on the loopback addresses only (127.0.0.1 and, when available, ::1, on one port
//! chosen at run time), answers requests whose `Host` is not a loopback name with 404 (a web
//! page rebinding a DNS name to 127.0.0.1 cannot poke it), ignores everything that is not a
//! redirect (the favicon, a bare visit), and ends at the first redirect: one whose `state`
//! matches brings the code or the error, one whose `state` does not ends the attempt as a
//! failure. The browser is shown a small page saying what happened, in plain words.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::rules::expiry::duration_in_words;
use crate::system::credentials::Secret;

/// What the browser brought back.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirect {
    /// The authorization code (state matched).
    Code(Secret),
    /// The authorization server's error (state matched), e.g. `access_denied`.
    Error {
        error: String,
        description: Option<String>,
    },
}

/// Why no redirect could be used.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("no answer came back from the browser within {0}")]
    TimedOut(String),
    #[error("the browser came back with an answer that does not belong to this sign-in (its state does not match); nothing was kept")]
    WrongState,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A listener bound on the loopback addresses, waiting for one redirect.
pub struct RedirectListener {
    listeners: Vec<TcpListener>,
    port: u16,
}

impl RedirectListener {
    /// Binds 127.0.0.1 on a free port, and ::1 on the same port when IPv6 is there (browsers may
    /// resolve `localhost` to either).
    pub async fn bind() -> std::io::Result<RedirectListener> {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
            Ok(v6) => listeners.push(v6),
            Err(e) => tracing::debug!(error = %e, "no IPv6 loopback listener; 127.0.0.1 only"),
        }
        Ok(RedirectListener { listeners, port })
    }

    /// `http://localhost:{port}`: the redirect URI of this attempt.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// The addresses listened on (all loopback).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until the first redirect or `timeout`; the browser gets its page before this
    /// returns.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<Redirect, LoopbackError> {
        let shared = Arc::new(Shared {
            state: state.to_string(),
            port: self.port,
            outcome: Mutex::new(None),
        });
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
        let mut tasks = JoinSet::new();
        for listener in self.listeners {
            tasks.spawn(accept_loop(listener, Arc::clone(&shared), done_tx.clone()));
        }
        drop(done_tx);
        let waited = tokio::time::timeout(timeout, done_rx.recv()).await;
        tasks.abort_all();
        if waited.is_err() {
            return Err(LoopbackError::TimedOut(duration_in_words(
                timeout.as_secs(),
            )));
        }
        let outcome = lock(&shared.outcome).take();
        outcome.unwrap_or(Err(LoopbackError::TimedOut(duration_in_words(
            timeout.as_secs(),
        ))))
    }
}

/// What the connections share: the expected state and the first outcome.
struct Shared {
    state: String,
    port: u16,
    outcome: Mutex<Option<Result<Redirect, LoopbackError>>>,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, done: mpsc::UnboundedSender<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream, Arc::clone(&shared), done.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "loopback listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection; when it delivered the outcome, says so once its page is written (the
/// page is sent with `Connection: close`, so the connection ends right after it).
async fn serve(stream: TcpStream, shared: Arc<Shared>, done: mpsc::UnboundedSender<()>) {
    let delivered = Arc::new(Mutex::new(false));
    let service = {
        let shared = Arc::clone(&shared);
        let delivered = Arc::clone(&delivered);
        service_fn(move |request| {
            let response = answer(&request, &shared, &delivered);
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let served = tokio::time::timeout(
        Duration::from_secs(30),
        http1::Builder::new().serve_connection(TokioIo::new(stream), service),
    )
    .await;
    if let Ok(Err(e)) = served {
        tracing::debug!(error = %e, "loopback listener: connection ended with an error");
    }
    if *lock(&delivered) {
        let _ = done.send(());
    }
}

/// The answer to one request; a redirect is taken as the outcome if none was taken yet.
fn answer(
    request: &Request<Incoming>,
    shared: &Shared,
    delivered: &Mutex<bool>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET
        || request.uri().path() != "/"
        || !host_is_loopback(request, shared.port)
    {
        return page(StatusCode::NOT_FOUND, "Not found", "Nothing here.", false);
    }
    let params: Vec<(String, String)> = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let value = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let is_redirect = ["code", "error", "state"]
        .iter()
        .any(|name| value(name).is_some());
    if !is_redirect {
        return page(StatusCode::NOT_FOUND, "Not found", "Nothing here.", false);
    }
    let mut outcome = lock(&shared.outcome);
    if outcome.is_some() {
        return page(
            StatusCode::OK,
            "Already done",
            "This sign-in has already ended. You can close this tab.",
            true,
        );
    }
    let (result, response) = judge(
        value("state"),
        value("code"),
        value("error"),
        value("error_description"),
        &shared.state,
    );
    *outcome = Some(result);
    *lock(delivered) = true;
    response
}

/// The outcome of a redirect and the page the browser is shown.
fn judge(
    state: Option<&str>,
    code: Option<&str>,
    error: Option<&str>,
    description: Option<&str>,
    expected_state: &str,
) -> (Result<Redirect, LoopbackError>, Response<Full<Bytes>>) {
    if !state.is_some_and(|s| constant_time_eq(s.as_bytes(), expected_state.as_bytes())) {
        let text = "This answer does not belong to the sign-in signin-assistant started, so it was not used. Start the sign-in again from signin-assistant.";
        return (
            Err(LoopbackError::WrongState),
            page(StatusCode::BAD_REQUEST, "Sign-in not completed", text, true),
        );
    }
    match (code, error) {
        (Some(code), None) if !code.is_empty() => (
            Ok(Redirect::Code(Secret::new(code))),
            page(
                StatusCode::OK,
                "Signed in",
                "Signed in \u{2014} you can close this tab.",
                true,
            ),
        ),
        (_, error) => {
            let error = error.unwrap_or("invalid_response").to_string();
            let text = format!(
                "The sign-in did not complete: {}. You can close this tab; signin-assistant says what to do next.",
                error_in_words(&error)
            );
            (
                Ok(Redirect::Error {
                    error,
                    description: description.map(first_line),
                }),
                page(StatusCode::OK, "Sign-in not completed", &text, true),
            )
        }
    }
}

/// An OAuth error code (RFC 6749 4.1.2.1, OpenID Connect 3.1.2.6) in plain words.
pub fn error_in_words(error: &str) -> &'static str {
    match error {
        "access_denied" => "the sign-in was cancelled or declined",
        "consent_required" => "signin-assistant needs an approval (consent) that was not given; an admin may have to approve it",
        "interaction_required" | "login_required" => "the sign-in needs you to interact with the sign-in page",
        "invalid_request" | "invalid_scope" | "unsupported_response_type" => {
            "the sign-in request was refused as malformed; the app registration or the configuration may be wrong"
        }
        "unauthorized_client" | "invalid_client" => {
            "the app registration does not allow this sign-in; ask your IT desk to check it"
        }
        "server_error" | "temporarily_unavailable" => "the sign-in service had a problem; try again later",
        _ => "the sign-in service refused it",
    }
}

/// The first line of an endpoint's description (its trace and correlation lines dropped).
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// The `Host` names this listener: localhost, 127.0.0.1 or [::1], on its port.
fn host_is_loopback(request: &Request<Incoming>, port: u16) -> bool {
    let Some(host) = request.headers().get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .any(|name| host == format!("{name}:{port}"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A small HTML page; `close` ends the connection after it (the answer that ends the wait).
fn page(status: StatusCode, title: &str, text: &str, close: bool) -> Response<Full<Bytes>> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} \u{2014} signin-assistant</title>\
         <style>body{{font-family:sans-serif;margin:3em auto;max-width:40em;line-height:1.5}}</style></head>\
         <body><h1 id=\"title\">{title}</h1><p id=\"message\">{text}</p></body></html>\n",
        title = html_escape(title),
        text = html_escape(text),
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_state_brings_the_code_or_the_error() {
        let (result, response) = judge(Some("s1"), Some("the-code"), None, None, "s1");
        assert_eq!(result.unwrap(), Redirect::Code(Secret::new("the-code")));
        assert_eq!(response.status(), StatusCode::OK);
        let (result, _) = judge(
            Some("s1"),
            None,
            Some("access_denied"),
            Some("AADSTS65004: declined\r\nTrace ID: x"),
            "s1",
        );
        assert_eq!(
            result.unwrap(),
            Redirect::Error {
                error: "access_denied".into(),
                description: Some("AADSTS65004: declined".into())
            }
        );
    }

    #[test]
    fn wrong_or_missing_state_is_refused() {
        for state in [Some("s2"), None, Some("")] {
            let (result, response) = judge(state, Some("code"), None, None, "s1");
            assert!(
                matches!(result, Err(LoopbackError::WrongState)),
                "{state:?}"
            );
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[tokio::test]
    async fn listens_on_loopback_only() {
        let listener = RedirectListener::bind().await.unwrap();
        let addrs = listener.local_addrs();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(listener.redirect_uri().starts_with("http://localhost:"));
    }
}
