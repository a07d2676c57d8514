//! The one-shot listener that receives the browser's redirect after an interactive sign-in
//! (RFC 8252 7.3, "loopback interface redirection").
//!
//! Kept apart from the Entra flow because it is plain HTTP plumbing with rules of its own: it
//! listens on the loopback addresses only, and advertises only a name it owns. `localhost`
//! (which a browser may resolve to 127.0.0.1 or ::1) is advertised only when both addresses are
//! bound on the one port chosen at run time; when another socket holds ::1 on that port, another
//! port is tried, and on a computer without IPv6 loopback the redirect names `127.0.0.1`, so no
//! other local user's listener can receive the code. It answers requests whose `Host` is not a
//! loopback name with 404 (a web page rebinding a DNS name to 127.0.0.1 cannot poke it), ignores
//! everything that is not a redirect (the favicon, a bare visit), answers a redirect whose
//! `state` does not match with 400 and keeps waiting (any local process or web page could send
//! one, and must not end the sign-in), and ends at the first redirect whose `state` matches: it
//! brings the code or the error. The browser is shown a small page saying what happened, in
//! plain words.

use std::convert::Infallible;
use std::io::ErrorKind;
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
use crate::rules::untrusted::escape_markup;
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
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How many ports are tried for one that is free on both 127.0.0.1 and ::1.
const BIND_ATTEMPTS: usize = 8;

/// A listener bound on the loopback addresses, waiting for one redirect.
pub struct RedirectListener {
    listeners: Vec<TcpListener>,
    port: u16,
    /// The name the redirect URI gives: `localhost`, or `127.0.0.1` without IPv6 loopback.
    host: &'static str,
}

impl RedirectListener {
    /// Binds 127.0.0.1 and ::1 on one free port (browsers may resolve `localhost` to either);
    /// 127.0.0.1 alone where this computer has no IPv6 loopback.
    pub async fn bind() -> std::io::Result<RedirectListener> {
        Self::bind_on_ports(std::iter::repeat_n(0, BIND_ATTEMPTS)).await
    }

    /// [`bind`](Self::bind) trying `ports` in turn (0: any free port of 127.0.0.1) until ::1 is
    /// free on the same port too.
    async fn bind_on_ports(
        ports: impl IntoIterator<Item = u16>,
    ) -> std::io::Result<RedirectListener> {
        for wanted in ports {
            let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, wanted))).await?;
            let port = v4.local_addr()?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                Ok(v6) => {
                    return Ok(RedirectListener {
                        listeners: vec![v4, v6],
                        port,
                        host: "localhost",
                    })
                }
                Err(e) if e.kind() == ErrorKind::AddrInUse => {
                    tracing::debug!(port, "[::1] is taken on this port; trying another");
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no IPv6 loopback listener; the redirect names 127.0.0.1");
                    return Ok(RedirectListener {
                        listeners: vec![v4],
                        port,
                        host: "127.0.0.1",
                    });
                }
            }
        }
        Err(std::io::Error::new(
            ErrorKind::AddrInUse,
            "no port was free on both loopback addresses (127.0.0.1 and ::1)",
        ))
    }

    /// `http://localhost:{port}` (`http://127.0.0.1:{port}` without IPv6 loopback): the
    /// redirect URI of this attempt.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The addresses listened on (all loopback).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until the first redirect whose state matches, or `timeout`; the browser gets its
    /// page before this returns.
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
        let outcome = waited.ok().and_then(|_| lock(&shared.outcome).take());
        outcome.ok_or_else(|| LoopbackError::TimedOut(duration_in_words(timeout.as_secs())))
    }
}

/// What the connections share: the expected state and the first outcome.
struct Shared {
    state: String,
    port: u16,
    outcome: Mutex<Option<Redirect>>,
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
    if !value("state").is_some_and(|s| constant_time_eq(s.as_bytes(), shared.state.as_bytes())) {
        // Not this sign-in's: anything on this computer (or a web page) can send one. It does
        // not end the wait.
        tracing::info!("the loopback listener ignored a redirect whose state does not match");
        let text = "This answer does not belong to the sign-in signin-assistant started, so it was not used.";
        return page(StatusCode::BAD_REQUEST, "Sign-in not completed", text, true);
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
    let (result, response) = judge(value("code"), value("error"), value("error_description"));
    *outcome = Some(result);
    *lock(delivered) = true;
    response
}

/// The outcome of a redirect whose state matched, and the page the browser is shown.
fn judge(
    code: Option<&str>,
    error: Option<&str>,
    description: Option<&str>,
) -> (Redirect, Response<Full<Bytes>>) {
    match (code, error) {
        (Some(code), None) if !code.is_empty() => (
            Redirect::Code(Secret::new(code)),
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
                Redirect::Error {
                    error,
                    description: description.map(first_line),
                },
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
        title = escape_markup(title),
        text = escape_markup(text),
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_matching_redirect_brings_the_code_or_the_error() {
        let (result, response) = judge(Some("the-code"), None, None);
        assert_eq!(result, Redirect::Code(Secret::new("the-code")));
        assert_eq!(response.status(), StatusCode::OK);
        let (result, _) = judge(
            None,
            Some("access_denied"),
            Some("AADSTS65004: declined\r\nTrace ID: x"),
        );
        assert_eq!(
            result,
            Redirect::Error {
                error: "access_denied".into(),
                description: Some("AADSTS65004: declined".into())
            }
        );
    }

    /// Sends `GET {path_and_query}` to `addr` naming `host`; returns the status code.
    async fn get(addr: SocketAddr, host: &str, path_and_query: &str) -> u16 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {answer:?}"))
    }

    #[tokio::test]
    async fn a_wrong_state_is_answered_and_ignored_and_the_right_one_completes() {
        let listener = RedirectListener::bind().await.unwrap();
        let addr = listener.local_addrs()[0];
        let host = format!("localhost:{}", addr.port());
        let waiting = tokio::spawn(listener.wait("s1", Duration::from_secs(20)));
        for forged in [
            "/?code=stolen&state=s2",
            "/?code=stolen",
            "/?code=stolen&state=",
            "/?error=access_denied&state=s2",
        ] {
            assert_eq!(get(addr, &host, forged).await, 400, "{forged}");
        }
        assert!(!waiting.is_finished(), "a forged redirect ended the wait");
        assert_eq!(get(addr, &host, "/?code=the-code&state=s1").await, 200);
        let redirect = waiting.await.unwrap().unwrap();
        assert_eq!(redirect, Redirect::Code(Secret::new("the-code")));
    }

    /// Every address the redirect URI's name stands for is one the listener holds.
    fn owns_what_it_advertises(listener: &RedirectListener) {
        let uri = url::Url::parse(&listener.redirect_uri()).unwrap();
        let port = uri.port().unwrap();
        let held = listener.local_addrs();
        let named: Vec<SocketAddr> = match uri.host_str().unwrap() {
            "localhost" => vec![
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
            ],
            "127.0.0.1" => vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
            other => panic!("advertises {other}"),
        };
        for addr in named {
            assert!(held.contains(&addr), "{uri} names {addr}, held: {held:?}");
        }
    }

    #[tokio::test]
    async fn listens_on_loopback_only_and_owns_the_name_it_advertises() {
        let listener = RedirectListener::bind().await.unwrap();
        let addrs = listener.local_addrs();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        owns_what_it_advertises(&listener);
    }

    /// Another socket on [::1]:P, where 127.0.0.1:P is free; none when this computer has no
    /// IPv6 loopback.
    fn squat_on_ipv6_loopback() -> Option<std::net::TcpListener> {
        for _ in 0..20 {
            let squatter = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).ok()?;
            let port = squatter.local_addr().unwrap().port();
            if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Some(squatter);
            }
        }
        panic!("no port with [::1] taken and 127.0.0.1 free");
    }

    #[tokio::test]
    async fn a_port_whose_ipv6_loopback_another_socket_holds_is_not_advertised() {
        let Some(squatter) = squat_on_ipv6_loopback() else {
            eprintln!("no IPv6 loopback here: nothing to squat on");
            return;
        };
        let taken = squatter.local_addr().unwrap().port();
        let listener = RedirectListener::bind_on_ports([taken, 0]).await.unwrap();
        assert_ne!(listener.port, taken, "{}", listener.redirect_uri());
        owns_what_it_advertises(&listener);
        // With no other port to try, no listener at all rather than one named after the squatter.
        drop(listener);
        let only_taken = RedirectListener::bind_on_ports([taken]).await;
        match only_taken {
            Err(e) => assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}"),
            Ok(listener) => panic!(
                "bound {:?} as {}",
                listener.local_addrs(),
                listener.redirect_uri()
            ),
        }
    }
}
