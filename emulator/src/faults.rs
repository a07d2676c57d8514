//! Fault injection, for the client's robustness tests: what real networks, proxies and broken
//! servers do to an answer. Only with the cargo feature `faults` (off by default; the shipped
//! binary's `demo` has none of it): signin-assistant's tests turn it on.
//!
//! A [`Misbehaviour`] in [`Scenario::misbehaviour`] is applied here, at the one place each
//! applies: faults below HTTP, served on the raw connection (an endpoint that accepts and never
//! answers, an answer cut off in the middle of its body, an answer that never ends), and faults
//! that are valid HTTP (delays, HTML error pages, redirects, bodies of the wrong shape, a hostile
//! error text), which the handlers ask for by calling the functions below.

use std::time::Duration;

use hyper::header::{HeaderValue, LOCATION};
use hyper::StatusCode;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::misbehaviour::Misbehaviour;
use super::scenario::Scenario;
use super::{json_response, text_response, HttpResponse, Shared};

impl Misbehaviour {
    /// Whether the fault is below HTTP (the connection itself misbehaves).
    fn is_raw(&self) -> bool {
        matches!(
            self,
            Misbehaviour::Silent | Misbehaviour::CutOff | Misbehaviour::HugeBody(_)
        )
    }
}

/// Serves the connection with the scenario's fault if that fault is below HTTP (then `None`);
/// otherwise hands the connection back for HTTP.
pub(super) async fn serve_raw(stream: TcpStream, shared: &Shared) -> Option<TcpStream> {
    let fault = shared
        .lock()
        .scenario
        .misbehaviour
        .clone()
        .filter(Misbehaviour::is_raw);
    match fault {
        Some(fault) => {
            serve(stream, &fault).await;
            None
        }
        None => Some(stream),
    }
}

/// Waits out [`Misbehaviour::Delay`] before a request is answered.
pub(super) async fn delay(shared: &Shared) {
    let delay = match shared.lock().scenario.misbehaviour {
        Some(Misbehaviour::Delay(delay)) => Some(delay),
        _ => None,
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

/// The token endpoint's answer to any request under a fault that replaces it (an HTML error
/// page, a redirect, a hostile error text).
pub(super) fn token_endpoint(scenario: &Scenario) -> Option<HttpResponse> {
    match &scenario.misbehaviour {
        Some(Misbehaviour::HtmlError) => Some(html_error(StatusCode::INTERNAL_SERVER_ERROR)),
        Some(Misbehaviour::HtmlStatus(status)) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            Some(html_error(status))
        }
        Some(Misbehaviour::Redirect(location)) => Some(redirect(location)),
        Some(Misbehaviour::HostileErrorText) => Some(hostile_error()),
        _ => None,
    }
}

/// A 200 of the wrong shape in place of the tokens a successful grant would issue.
pub(super) fn token_body(scenario: &Scenario) -> Option<HttpResponse> {
    match scenario.misbehaviour {
        Some(Misbehaviour::TokenWrongTypes) => Some(json_response(
            StatusCode::OK,
            &json!({"token_type": "Bearer", "access_token": 12345, "refresh_token": ["x"], "expires_in": "soon"}),
        )),
        Some(Misbehaviour::TokenMissingFields) => Some(json_response(
            StatusCode::OK,
            &json!({"token_type": "Bearer"}),
        )),
        _ => None,
    }
}

/// Graph's answer to any request under a fault that replaces it (a redirect).
pub(super) fn graph_endpoint(scenario: &Scenario) -> Option<HttpResponse> {
    match &scenario.misbehaviour {
        Some(Misbehaviour::Redirect(location)) => Some(redirect(location)),
        _ => None,
    }
}

/// Spoils the properties of `/me`: a date that is not one, or values of the wrong types.
pub(super) fn spoil_user(scenario: &Scenario, body: &mut Map<String, Value>) {
    match scenario.misbehaviour {
        Some(Misbehaviour::BadDate) => {
            if let Some(date) = body.get_mut("lastPasswordChangeDateTime") {
                *date = json!("not-a-date");
            }
        }
        Some(Misbehaviour::GraphWrongTypes) => {
            body.insert("lastPasswordChangeDateTime".into(), json!(12));
            body.insert("passwordPolicies".into(), json!(true));
            body.insert("userPrincipalName".into(), json!(["adele"]));
        }
        _ => {}
    }
}

/// The JSON text of `/me`, cut in half under [`Misbehaviour::MalformedJson`].
pub(super) fn user_text(scenario: &Scenario, text: String) -> String {
    if scenario.misbehaviour != Some(Misbehaviour::MalformedJson) {
        return text;
    }
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

/// The device authorization answer made hostile under [`Misbehaviour::HostileDeviceCode`]; the
/// grant keeps the real user code, which is what is left of the hostile one once cleaned.
pub(super) fn spoil_device_code(scenario: &Scenario, body: &mut Value) {
    if scenario.misbehaviour != Some(Misbehaviour::HostileDeviceCode) {
        return;
    }
    let code = body["user_code"].as_str().unwrap_or_default().to_owned();
    body["user_code"] = json!(format!("\u{1b}[8m{code}\u{1b}[0m"));
    body["verification_uri"] = json!("https://evil.example/devicelogin");
    body["message"] = json!(format!(
        "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mTo sign in, use a web browser to open the page \
         \u{1b}]8;;https://evil.example/phish\u{1b}\\https://microsoft.com/devicelogin\u{1b}]8;;\u{1b}\\ \
         and enter the code {code}\u{9b}0m to authenticate.\r\n\u{85}<a href=\"https://evil.example/phish\">Click here</a> \
         &amp; <b>now</b>\u{202e}"
    ));
}

/// `307 Temporary Redirect` to `location`.
fn redirect(location: &str) -> HttpResponse {
    let mut response = text_response(StatusCode::TEMPORARY_REDIRECT, "text/plain", "Moved");
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// A 400 whose `error` text would rewrite a terminal: escape sequences (window title, clear
/// screen, colour), CR/LF, a right-to-left override, and 100 KB of padding.
fn hostile_error() -> HttpResponse {
    let error = format!(
        "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31minvalid_request\r\nFAKE: your password is fine\u{202e}{}",
        "A".repeat(100_000)
    );
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": "\u{1b}[8mhidden", "error_codes": []}),
    )
}

/// The HTML page Entra's front end shows for a transient error, with `status`.
fn html_error(status: StatusCode) -> HttpResponse {
    text_response(
        status,
        "text/html; charset=utf-8",
        "<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head>\
         <body><h1>Sorry, but we're having trouble signing you in.</h1>\
         <p>AADSTS90033: A transient error has occurred. Please try again.</p></body></html>\n",
    )
}

/// Largest request read before answering (the client's requests are a few hundred bytes).
const MAX_REQUEST: usize = 64 * 1024;

/// Serves one connection with a raw fault.
async fn serve(mut stream: TcpStream, fault: &Misbehaviour) {
    match fault {
        // Held open, unread, until the emulator stops (its connections are then aborted).
        Misbehaviour::Silent => std::future::pending::<()>().await,
        Misbehaviour::CutOff => {
            if read_request(&mut stream).await {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
                            Content-Length: 4096\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream
                    .write_all(br#"{"token_type":"Bearer","scope":"User.Read","access_tok"#)
                    .await;
                let _ = stream.flush().await;
            }
            let _ = stream.shutdown().await;
        }
        Misbehaviour::HugeBody(total) => {
            let asked = read_request(&mut stream).await;
            if asked {
                endless_body(&mut stream, *total).await;
            }
        }
        _ => {}
    }
}

/// Streams `total` bytes of JSON whitespace in 64 KiB chunks; stops when the client hangs up.
async fn endless_body(stream: &mut TcpStream, total: usize) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let size = chunk.len().min(total - sent);
        let framed = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            return;
        }
        sent += size;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
}

/// Reads one request (head and `Content-Length` body), so that closing afterwards does not
/// reset the connection under the client; false if it did not come within 5 s.
async fn read_request(stream: &mut TcpStream) -> bool {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let body = content_length(&buf[..end]);
                if buf.len() >= end + 4 + body {
                    return true;
                }
            }
            if buf.len() > MAX_REQUEST {
                return true;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or(false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST)
}
